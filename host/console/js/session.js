// Who is signed in and the companies they belong to, with their role in each.

import { api, setCsrfToken, ApiError } from './api.js';

/** The signed-in person (`me`) and their memberships; `me` is null when signed out. */
export const session = { me: null, companies: [] };

/** Reads who is signed in; false when nobody is. */
export async function loadSession() {
  try {
    const me = await api('GET', '/api/me');
    setCsrfToken(me.csrf_token);
    session.me = me;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      session.me = null;
      session.companies = [];
      return false;
    }
    throw error;
  }
  await loadCompanies();
  return true;
}

/** Reads the person's companies again (after creating one). */
export async function loadCompanies() {
  const companies = [];
  let after = null;
  do {
    const page = await api('GET', `/api/companies?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    companies.push(...page.items);
    after = page.next;
  } while (after);
  session.companies = companies;
}

/** The person's membership of `company`, or undefined. */
export function membership(company) {
  return session.companies.find((c) => c.id === company);
}

/** Whether the person may change things in `company` (install, run, set secrets). */
export function canAdmin(company) {
  const m = membership(company);
  return Boolean(m && (m.role === 'admin' || m.role === 'owner'));
}

/** Forgets the session after signing out. */
export function signedOut() {
  session.me = null;
  session.companies = [];
  setCsrfToken(null);
}
