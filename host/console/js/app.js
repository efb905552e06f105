// The console's entry: reads the session, draws the bar (company switcher, sections, sign
// out) and the page of the current address.

import { api } from './api.js';
import { h, replace, errorBox } from './dom.js';
import { route, match, navigate, start } from './router.js';
import { session, loadSession, membership, signedOut } from './session.js';
import * as home from './pages/home.js';
import * as signin from './pages/signin.js';
import * as password from './pages/password.js';
import * as marketplace from './pages/marketplace.js';
import * as install from './pages/install.js';
import * as installs from './pages/installs.js';
import * as runs from './pages/runs.js';
import * as run from './pages/run.js';
import * as logs from './pages/logs.js';
import * as secrets from './pages/secrets.js';
import * as members from './pages/members.js';
import * as audit from './pages/audit.js';
import * as deliveries from './pages/deliveries.js';
import * as tokens from './pages/tokens.js';
import * as people from './pages/people.js';

const C = '/companies/(?<company>[^/]+)';
route(/^\/$/, home);
route(/^\/signin$/, signin);
route(/^\/password$/, password);
route(new RegExp(`^${C}/?$`), installs);
route(new RegExp(`^${C}/installs$`), installs);
route(new RegExp(`^${C}/marketplace$`), marketplace);
route(new RegExp(`^${C}/marketplace/(?<plugin>[^/]+)$`), install);
route(new RegExp(`^${C}/runs$`), runs);
route(new RegExp(`^${C}/runs/(?<run>[^/]+)$`), run);
route(new RegExp(`^${C}/logs$`), logs);
route(new RegExp(`^${C}/secrets$`), secrets);
route(new RegExp(`^${C}/members$`), members);
route(new RegExp(`^${C}/audit$`), audit);
route(new RegExp(`^${C}/deliveries$`), deliveries);
route(new RegExp(`^${C}/tokens$`), tokens);
route(new RegExp(`^${C}/people$`), people);

// The sections, with the least role that may open each.
const SECTIONS = [
  ['installs', 'Installs', 'member'],
  ['marketplace', 'Marketplace', 'member'],
  ['runs', 'Runs', 'member'],
  ['logs', 'Logs', 'member'],
  ['people', 'People', 'member'],
  ['secrets', 'Secrets', 'member'],
  ['members', 'Members', 'member'],
  ['deliveries', 'Deliveries', 'admin'],
  ['audit', 'Audit log', 'admin'],
  ['tokens', 'API tokens', 'owner'],
];
const RANKS = { member: 0, admin: 1, owner: 2 };

const bar = document.getElementById('bar');
const main = document.getElementById('main');
let sessionRead = false;

async function draw(signal) {
  const path = location.pathname;
  const found = match(path);
  try {
    if (!sessionRead) {
      await loadSession();
      sessionRead = true;
    }
  } catch (error) {
    replace(main, errorBox(error, 'Cannot read your session'));
    return;
  }
  if (!session.me && found && found.page !== signin) {
    const back = path === '/' ? '' : `?next=${encodeURIComponent(path + location.search)}`;
    return navigate(`/signin${back}`, { replace: true });
  }
  if (session.me && session.me.must_set_password && found && found.page !== password && found.page !== signin) {
    return navigate('/password', { replace: true });
  }
  drawBar(found && found.params.company, path);
  if (!found) {
    replace(main, h('h1', {}, 'Page not found'), h('p', {}, 'There is no console page at this address. ', h('a', { href: '/' }, 'Go to the start page.')));
    return;
  }
  const company = found.params.company;
  if (company && !membership(company)) {
    document.title = 'Not found · Sluice';
    replace(main, h('h1', {}, 'Company not found'),
      h('p', { class: 'error', role: 'alert' }, 'There is no such company, or you are not a member of it.'),
      h('p', {}, h('a', { href: '/' }, 'Your companies')));
    return;
  }
  replace(main);
  try {
    await found.page.render(main, found.params, { signal, search: new URLSearchParams(location.search) });
  } catch (error) {
    if (signal.aborted) return;
    if (error.status === 401) {
      signedOut();
      return navigate('/signin', { replace: true });
    }
    main.append(errorBox(error));
  }
}

function drawBar(company, path) {
  if (!session.me) {
    replace(bar, h('a', { class: 'brand', href: '/' }, 'Sluice'));
    return;
  }
  const here = company && membership(company);
  const section = (path.split('/')[3] || 'installs');
  const switcher = session.companies.length > 0
    ? h('label', { class: 'switcher' }, h('span', { class: 'label' }, 'Company'),
      h('select', {
        'aria-label': 'Company',
        on: {
          change: (event) => navigate(`/companies/${encodeURIComponent(event.target.value)}/${SECTIONS.some(([s]) => s === section) ? section : 'installs'}`),
        },
      },
      here ? null : h('option', { value: '', selected: true, disabled: true }, 'Choose…'),
      session.companies.map((c) => h('option', { value: c.id, selected: here && c.id === company }, `${c.name} (${c.role})`))))
    : null;
  const nav = here
    ? h('nav', { 'aria-label': 'Sections' }, SECTIONS.filter(([, , least]) => RANKS[here.role] >= RANKS[least]).map(([slug, label]) => h('a', {
      href: `/companies/${encodeURIComponent(company)}/${slug}`,
      'aria-current': section === slug ? 'page' : null,
    }, label)))
    : null;
  replace(bar,
    h('a', { class: 'brand', href: '/' }, 'Sluice'),
    switcher,
    nav,
    h('span', { class: 'who' }, session.me.email),
    h('button', { type: 'button', class: 'quiet', id: 'sign-out', on: { click: signOut } }, 'Sign out'));
}

async function signOut() {
  try {
    await api('POST', '/api/logout');
  } catch (error) {
    main.prepend(errorBox(error, 'Could not sign out'));
    return;
  }
  signedOut();
  navigate('/signin');
}

start(draw);
