// The company's members and their roles. Owners add people (a new account gets a one-time
// password, shown once), change roles and remove members.

import { api, companyPath } from '../api.js';
import { h, append, errorBox, field, replace, toast } from '../dom.js';
import { time } from '../format.js';
import { navigate } from '../router.js';
import { membership, session } from '../session.js';

const ROLES = ['member', 'admin', 'owner'];

export async function render(main, { company }) {
  document.title = 'Members · Sluice';
  const owner = (membership(company) || {}).role === 'owner';
  const page = await api('GET', companyPath(company, '/members?limit=500'));
  const status = h('div', { 'aria-live': 'polite' });
  append(main, [h('h1', {}, 'Members'),
    h('p', { class: 'help' }, 'Members read installs, runs, records and log lines; admins also install, configure and run connectors and set secrets; owners also manage members.'),
    h('table', { class: 'members' },
      h('thead', {}, h('tr', {}, ['Email', 'Role', 'Since', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, page.items.map((m) => row(company, m, owner, status)))),
    status]);
  if (!owner) return;
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
  const added = h('div', { id: 'added', 'aria-live': 'polite' });
  main.append(h('form', {
    class: 'stack narrow',
    id: 'member-form',
    on: {
      submit: async (event) => {
        event.preventDefault();
        try {
          const result = await api('POST', companyPath(company, '/members'), { email: email.value, role: role.value });
          replace(added, h('p', { class: 'ok', role: 'status' }, `Added ${result.email} as ${result.role}.`),
            result.one_time_password
              ? h('p', {}, 'Give them this one-time password; it is shown only now: ', h('code', { id: 'one-time-password' }, result.one_time_password))
              : h('p', {}, 'They already have an account and sign in with their own password.'),
            h('a', { href: location.pathname }, 'Show the members'));
          email.value = '';
        } catch (error) {
          replace(added, errorBox(error, 'Not added'));
        }
      },
    },
  }, h('h2', {}, 'Add a member'), field('Email', email), field('Role', role), h('button', { type: 'submit' }, 'Add'), added));
}

function row(company, m, owner, status) {
  const self = session.me && session.me.user_id === m.user_id;
  const role = owner && !self
    ? h('select', {
      'aria-label': `Role of ${m.email}`,
      on: {
        change: async (event) => {
          try {
            await api('PATCH', companyPath(company, `/members/${encodeURIComponent(m.user_id)}`), { role: event.target.value });
            toast(`${m.email} is now ${event.target.value}`);
          } catch (error) {
            event.target.value = m.role;
            replace(status, errorBox(error, 'Role not changed'));
          }
        },
      },
    }, ROLES.map((r) => h('option', { value: r, selected: r === m.role }, r)))
    : m.role;
  const remove = owner && !self ? h('button', {
    type: 'button',
    class: 'quiet danger',
    on: {
      click: async () => {
        if (!window.confirm(`Remove ${m.email} from the company?`)) return;
        try {
          await api('DELETE', companyPath(company, `/members/${encodeURIComponent(m.user_id)}`));
          navigate(location.pathname, { replace: true });
        } catch (error) {
          replace(status, errorBox(error, 'Not removed'));
        }
      },
    },
  }, 'Remove') : null;
  return h('tr', { dataset: { member: m.email } },
    h('td', {}, m.email, self ? h('span', { class: 'muted' }, ' (you)') : null),
    h('td', {}, role),
    h('td', {}, time(m.created_at)),
    h('td', {}, remove));
}
