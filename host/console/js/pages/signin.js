// Signing in with email and password. The server sets an httpOnly session cookie; the
// answer carries the CSRF token the console sends with every change.

import { api, setCsrfToken } from '../api.js';
import { h, append, errorBox, field } from '../dom.js';
import { navigate } from '../router.js';
import { session, loadCompanies } from '../session.js';

export async function render(main, _params, { search }) {
  document.title = 'Sign in · Sluice';
  const next = safeNext(search.get('next'));
  if (session.me) return navigate(next, { replace: true });
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'username' });
  const password = h('input', { type: 'password', name: 'password', required: true, autocomplete: 'current-password' });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', {
    class: 'stack narrow',
    id: 'signin',
    on: {
      submit: async (event) => {
        event.preventDefault();
        status.replaceChildren();
        submit.disabled = true;
        try {
          const me = await api('POST', '/api/login', { email: email.value, password: password.value });
          setCsrfToken(me.csrf_token);
          session.me = me;
          await loadCompanies();
          navigate(me.must_set_password ? '/password' : next, { replace: true });
        } catch (error) {
          status.append(errorBox(error.status === 401 ? { message: 'Wrong email or password.' } : error));
          password.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
  }, h('h1', {}, 'Sign in to Sluice'), field('Email', email), field('Password', password), submit, status);
  append(main, [form]);
  email.focus();
}

/** Where to go after signing in: only a path of this console, never another site. */
function safeNext(next) {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}
