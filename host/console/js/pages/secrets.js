// The company's secrets, write-only: names and dates come back, values never do. Admins
// set a value (new or replacing) and delete a secret.

import { api, companyPath } from '../api.js';
import { h, append, empty, errorBox, field, replace, toast } from '../dom.js';
import { time } from '../format.js';
import { navigate } from '../router.js';
import { canAdmin } from '../session.js';

export async function render(main, { company }) {
  document.title = 'Secrets · Sluice';
  const admin = canAdmin(company);
  const page = await api('GET', companyPath(company, '/secrets?limit=500'));
  append(main, [h('h1', {}, 'Secrets'),
    h('p', { class: 'help' }, 'A secret\'s value is stored encrypted and never shown again, here or in any answer. Installs map the secrets their connector asks for to these.')]);
  const status = h('div', { 'aria-live': 'polite' });
  if (page.items.length === 0) {
    main.append(empty(h('p', {}, 'The company has no secrets yet.'), admin ? 'Set one below, or while installing a connector.' : 'An admin of the company sets them.'));
  } else {
    main.append(h('table', { class: 'secrets' },
      h('thead', {}, h('tr', {}, ['Name', 'Set', 'Changed', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, page.items.map((secret) => h('tr', { dataset: { secret: secret.name } },
        h('td', {}, h('code', {}, secret.name)),
        h('td', {}, time(secret.created_at)),
        h('td', {}, time(secret.updated_at)),
        h('td', {}, admin ? h('button', {
          type: 'button',
          class: 'quiet danger',
          on: {
            click: async () => {
              if (!window.confirm(`Delete the secret ${secret.name}? Installs that use it stop working until it is set again.`)) return;
              try {
                await api('DELETE', companyPath(company, `/secrets/${encodeURIComponent(secret.name)}`));
                toast(`Deleted ${secret.name}`);
                navigate(location.pathname, { replace: true });
              } catch (error) {
                replace(status, errorBox(error, 'Could not delete'));
              }
            },
          },
        }, 'Delete') : null))))));
  }
  main.append(status);
  if (!admin) return;
  const name = h('input', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' });
  const value = h('input', { type: 'password', name: 'value', required: true, autocomplete: 'off' });
  main.append(h('form', {
    class: 'stack narrow',
    id: 'secret-form',
    on: {
      submit: async (event) => {
        event.preventDefault();
        try {
          await api('PUT', companyPath(company, `/secrets/${encodeURIComponent(name.value.trim())}`), { value: value.value });
          value.value = '';
          toast(`Saved ${name.value.trim()}`);
          navigate(location.pathname, { replace: true });
        } catch (error) {
          replace(status, errorBox(error, 'The secret was not saved'));
        }
      },
    },
  }, h('h2', {}, 'Set a secret'),
  field('Name', name, 'Letters, digits, `_`, `-` or `.`; an existing name gets the new value.'),
  field('Value', value),
  h('button', { type: 'submit' }, 'Save secret')));
}
