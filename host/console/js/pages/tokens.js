// The company's API tokens (owners): for scripts, each with a role. A new token's value is
// shown once; a revoked token stops working at once.

import { api, companyPath } from '../api.js';
import { h, append, empty, errorBox, field, replace } from '../dom.js';
import { time } from '../format.js';
import { navigate } from '../router.js';

const ROLES = ['member', 'admin', 'owner'];

export async function render(main, { company }) {
  document.title = 'API tokens · Sluice';
  const page = await api('GET', companyPath(company, '/tokens?limit=500'));
  const status = h('div', { 'aria-live': 'polite' });
  append(main, [h('h1', {}, 'API tokens'),
    h('p', { class: 'help' }, 'A script sends a token as `Authorization: Bearer …` and may do what its role allows in this company only.')]);
  if (page.items.length === 0) {
    main.append(empty('The company has no API tokens.'));
  } else {
    main.append(h('table', { class: 'tokens' },
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', 'Last used', 'Revoked', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, page.items.map((t) => h('tr', { dataset: { token: t.name } },
        h('td', {}, t.name),
        h('td', {}, t.role),
        h('td', {}, time(t.created_at)),
        h('td', {}, time(t.last_used_at)),
        h('td', {}, time(t.revoked_at)),
        h('td', {}, t.revoked_at ? null : h('button', {
          type: 'button',
          class: 'quiet danger',
          on: {
            click: async () => {
              if (!window.confirm(`Revoke the token ${t.name}? Scripts using it stop working at once.`)) return;
              try {
                await api('DELETE', companyPath(company, `/tokens/${encodeURIComponent(t.id)}`));
                navigate(location.pathname, { replace: true });
              } catch (error) {
                replace(status, errorBox(error, 'Not revoked'));
              }
            },
          },
        }, 'Revoke')))))));
  }
  main.append(status);
  const name = h('input', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
  const created = h('div', { id: 'created', 'aria-live': 'polite' });
  main.append(h('form', {
    class: 'stack narrow',
    id: 'token-form',
    on: {
      submit: async (event) => {
        event.preventDefault();
        try {
          const token = await api('POST', companyPath(company, '/tokens'), { name: name.value, role: role.value });
          replace(created,
            h('p', { class: 'ok', role: 'status' }, `Created ${token.name} (${token.role}). Copy its value now; it is never shown again:`),
            h('code', { id: 'token-value', class: 'secret-value' }, token.value),
            h('p', {}, h('a', { href: location.pathname }, 'Show the tokens')));
          name.value = '';
        } catch (error) {
          replace(created, errorBox(error, 'Not created'));
        }
      },
    },
  }, h('h2', {}, 'Create a token'), field('Name', name, 'What the token is for, e.g. "nightly export".'), field('Role', role), h('button', { type: 'submit' }, 'Create'), created));
}
