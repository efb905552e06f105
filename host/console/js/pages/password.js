// Choosing a password: right after signing in with a one-time password (which then no
// longer works), or to change it.

import { api } from '../api.js';
import { h, append, errorBox, field } from '../dom.js';
import { navigate } from '../router.js';
import { session } from '../session.js';

export async function render(main) {
  document.title = 'Password · Sluice';
  const first = session.me.must_set_password;
  const current = h('input', { type: 'password', name: 'current', autocomplete: 'current-password', required: !first });
  const password = h('input', { type: 'password', name: 'password', minlength: 12, required: true, autocomplete: 'new-password' });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'stack narrow',
    id: 'password',
    on: {
      submit: async (event) => {
        event.preventDefault();
        status.replaceChildren();
        try {
          await api('PUT', '/api/me/password', first ? { password: password.value } : { current: current.value, password: password.value });
          session.me.must_set_password = false;
          navigate('/', { replace: true });
        } catch (error) {
          status.append(errorBox(error));
        }
      },
    },
  },
  h('h1', {}, first ? 'Choose your password' : 'Change your password'),
  first ? h('p', {}, 'You signed in with a one-time password, which no longer works. Choose the password you will sign in with from now on.') : field('Current password', current),
  field('New password', password, 'At least 12 characters.'),
  h('button', { type: 'submit' }, 'Save password'),
  status);
  append(main, [form]);
  password.focus();
}
