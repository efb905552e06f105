// The marketplace: one card per connector, with what it would be given if installed —
// the hosts it reaches, the secrets it needs — and the streams it writes.

import { api } from '../api.js';
import { h, append, empty } from '../dom.js';
import { canAdmin } from '../session.js';

export async function render(main, { company }) {
  document.title = 'Marketplace · Sluice';
  append(main, [h('h1', {}, 'Marketplace')]);
  const listings = await api('GET', '/api/marketplace');
  if (listings.length === 0) {
    main.append(empty(h('p', {}, 'The marketplace has no connectors yet. The server\'s operator publishes them with `sluice marketplace publish`.')));
    return;
  }
  const admin = canAdmin(company);
  main.append(h('ul', { class: 'cards' }, listings.map((l) => card(company, l, admin))));
}

function card(company, listing, admin) {
  const list = (title, items) => h('div', {},
    h('h3', {}, title),
    items.length === 0 ? h('p', { class: 'muted' }, 'none') : h('ul', { class: 'plain' }, items));
  return h('li', { class: 'card connector', dataset: { connector: listing.name } },
    h('h2', {}, listing.name, ' ', h('span', { class: 'version' }, listing.version)),
    h('p', {}, listing.description),
    list('Hosts it reaches', listing.hosts.map((host) => h('li', {}, h('code', {}, host)))),
    list('Secrets it needs', Object.entries(listing.secrets).map(([name, what]) => h('li', {}, h('code', {}, name), ` — ${what}`))),
    list('Streams it writes', Object.entries(listing.streams).map(([name, key]) => h('li', {}, h('code', {}, name), ` (key: ${key})`))),
    listing.default_schedule ? h('p', { class: 'muted' }, 'Runs by default on ', h('code', {}, listing.default_schedule), ' (UTC).') : null,
    !listing.available
      ? h('p', { class: 'error' }, 'Not built on this server: it cannot be installed yet.')
      : admin
        ? h('a', { class: 'button', href: `/companies/${encodeURIComponent(company)}/marketplace/${encodeURIComponent(listing.name)}` }, `Install ${listing.name}`)
        : h('p', { class: 'muted' }, 'Only an admin of the company can install it.'));
}
