// The start page: straight to the company's installs when there is one company; the
// list to choose from when there are several; a form to create one when there is none.

import { api } from '../api.js';
import { h, append, errorBox, field, empty } from '../dom.js';
import { navigate } from '../router.js';
import { session, loadCompanies } from '../session.js';

export async function render(main) {
  document.title = 'Sluice';
  if (session.companies.length === 1) {
    return navigate(`/companies/${encodeURIComponent(session.companies[0].id)}/installs`, { replace: true });
  }
  append(main, [h('h1', {}, 'Your companies')]);
  if (session.companies.length === 0) {
    main.append(empty(h('p', {}, 'You are not a member of any company yet. Create one, or ask an owner of yours to add you.')));
  } else {
    main.append(h('ul', { class: 'cards' }, session.companies.map((c) => h('li', { class: 'card' },
      h('a', { href: `/companies/${encodeURIComponent(c.id)}/installs` }, c.name),
      h('span', { class: 'muted' }, ` ${c.role}`)))));
  }
  const name = h('input', { name: 'name', required: true, maxlength: 200, autocomplete: 'organization' });
  const status = h('div');
  const form = h('form', {
    class: 'stack narrow',
    on: {
      submit: async (event) => {
        event.preventDefault();
        status.replaceChildren();
        try {
          const company = await api('POST', '/api/companies', { name: name.value });
          await loadCompanies();
          navigate(`/companies/${encodeURIComponent(company.id)}/marketplace`);
        } catch (error) {
          status.append(errorBox(error));
        }
      },
    },
  }, h('h2', {}, 'Create a company'), field('Name', name), h('button', { type: 'submit' }, 'Create'), status);
  main.append(form);
}
