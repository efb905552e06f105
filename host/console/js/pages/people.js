// The company's directory of people: one person across GitHub logins, Jira account ids,
// Slack user ids and email addresses. Admins correct it: move an identity to a person,
// or split one off into a person of its own; later runs never move what an admin placed.

import { api, companyPath, query } from '../api.js';
import { h, append, empty, errorBox, field, replace } from '../dom.js';
import { navigate } from '../router.js';
import { canAdmin } from '../session.js';

export async function render(main, { company }, { search }) {
  document.title = 'People · Sluice';
  const admin = canAdmin(company);
  const base = `/companies/${encodeURIComponent(company)}/people`;
  const q = search.get('q') || '';
  const text = h('input', { type: 'search', name: 'q', value: q, placeholder: 'name, login, email…' });
  const status = h('div', { 'aria-live': 'polite' });
  append(main, [h('h1', {}, 'People'),
    h('form', {
      class: 'row filters',
      id: 'people-search',
      on: { submit: (event) => { event.preventDefault(); navigate(`${base}${query({ q: text.value.trim() })}`); } },
    }, field('Search', text), h('button', { type: 'submit' }, 'Search')),
    status]);
  const page = await api('GET', companyPath(company, `/people${query({ q, limit: 200 })}`));
  if (page.items.length === 0) {
    main.append(empty(q ? 'Nobody matches this search.' : 'Nobody yet: connectors add the people they see as they run.'));
    return;
  }
  const reload = () => navigate(location.pathname + location.search, { replace: true });
  main.append(h('ul', { class: 'cards' }, page.items.map((person) => card(company, person, admin, status, reload))));
  if (page.next) main.append(h('p', { class: 'muted' }, 'More people match: narrow the search.'));
}

function card(company, person, admin, status, reload) {
  const path = companyPath(company, `/people/${encodeURIComponent(person.id)}`);
  const act = async (work) => {
    try {
      await work();
      reload();
    } catch (error) {
      replace(status, errorBox(error));
    }
  };
  const system = h('input', { name: 'system', required: true, placeholder: 'slack', size: 8 });
  const id = h('input', { name: 'id', required: true, placeholder: 'U042', size: 14 });
  return h('li', { class: 'card person', dataset: { person: person.id } },
    h('h2', {}, person.name || person.id),
    h('ul', { class: 'plain identities' }, person.identities.map((identity) => h('li', { dataset: { identity: `${identity.system}:${identity.id}` } },
      h('code', {}, `${identity.system}: ${identity.id}`),
      admin && person.identities.length > 1 ? [' ', h('button', {
        type: 'button',
        class: 'quiet split',
        title: 'Make this identity a person of its own',
        on: { click: () => act(() => api('DELETE', `${path}/identities/${encodeURIComponent(identity.system)}/${encodeURIComponent(identity.id)}`)) },
      }, 'Split off')] : null))),
    admin ? h('form', {
      class: 'row link',
      on: {
        submit: (event) => {
          event.preventDefault();
          act(() => api('POST', `${path}/identities`, { system: system.value.trim(), id: id.value.trim() }));
        },
      },
    }, field('System', system), field('Id', id), h('button', { type: 'submit', class: 'secondary' }, 'Move here')) : null);
}
