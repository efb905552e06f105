// Installing a connector: its configuration (a form from its JSON Schema), a review of
// what it will be given — the hosts it may reach and the company secrets it may use —
// a connection test with exactly that, and saving.

import { api, companyPath } from '../api.js';
import { h, append, errorBox, field, replace } from '../dom.js';
import { navigate } from '../router.js';
import { schemaForm } from '../schema_form.js';
import { canAdmin } from '../session.js';
import { plain } from '../text.js';

const NEW_SECRET = '\u0000new';

export async function render(main, { company, plugin }) {
  document.title = `Install ${plugin} · Sluice`;
  if (!canAdmin(company)) {
    append(main, [h('h1', {}, `Install ${plugin}`), h('p', { class: 'error', role: 'alert' }, 'Only an admin of the company can install connectors.')]);
    return;
  }
  const [listing, secrets] = await Promise.all([
    api('GET', `/api/marketplace/${encodeURIComponent(plugin)}`),
    api('GET', companyPath(company, '/secrets?limit=500')),
  ]);
  const existing = secrets.items.map((s) => s.name);
  const form = schemaForm(listing.config_schema);
  const hostList = h('ul', { class: 'plain grants' });
  const secretRows = Object.entries(listing.secrets).map(([name, what]) => secretRow(name, what, existing));
  const outcome = h('div', { id: 'outcome', 'aria-live': 'polite' });
  let hosts = [];

  const drawHosts = () => {
    let config = {};
    try {
      config = form.read();
    } catch {
      config = {};
    }
    const wanted = requestedHosts(listing, config);
    const before = new Map(hosts.map((row) => [row.host, row]));
    hosts = wanted.map((host) => before.get(host) || hostRow(host));
    replace(hostList, hosts.length === 0 ? h('li', { class: 'muted' }, 'It reaches no host.') : hosts.map((row) => row.element));
  };
  form.element.addEventListener('input', drawHosts);
  drawHosts();

  const request = async () => {
    const config = form.read();
    const grants = { hosts: [], private_hosts: [], secrets: {} };
    for (const row of hosts) {
      if (!row.granted()) continue;
      (row.private() ? grants.private_hosts : grants.hosts).push(row.host);
    }
    for (const row of secretRows) grants.secrets[row.name] = await row.companySecret(company);
    return { plugin: listing.name, version: listing.version, config, grants };
  };

  const test = h('button', { type: 'button', id: 'test-connection', class: 'secondary' }, 'Test connection');
  const save = h('button', { type: 'submit', id: 'install' }, `Install ${listing.name}`);
  const busy = async (button, work) => {
    button.disabled = true;
    outcome.replaceChildren(h('p', { class: 'muted' }, 'Working…'));
    try {
      await work();
    } catch (error) {
      replace(outcome, errorBox(error));
    } finally {
      button.disabled = false;
    }
  };
  test.addEventListener('click', () => busy(test, async () => {
    const result = await api('POST', companyPath(company, '/installs/check'), await request());
    replace(outcome,
      result.ok
        ? h('p', { class: 'ok', role: 'status' }, 'The connection works.')
        : h('p', { class: 'error', role: 'alert' }, `The connection does not work: ${plain(result.error || 'no reason given')}`),
      result.log.length > 0 ? h('pre', { class: 'check-log' }, result.log.map((line) => `${plain(line)}\n`)) : null);
  }));

  append(main, [
    h('h1', {}, `Install ${listing.name} `, h('span', { class: 'version' }, listing.version)),
    h('p', {}, listing.description),
    h('form', {
      class: 'stack',
      id: 'install-form',
      on: {
        submit: (event) => {
          event.preventDefault();
          busy(save, async () => {
            const installed = await api('POST', companyPath(company, '/installs'), await request());
            navigate(`/companies/${encodeURIComponent(company)}/installs?installed=${encodeURIComponent(installed.id)}`);
          });
        },
      },
    },
    h('fieldset', {}, h('legend', {}, 'Configuration'), form.element),
    h('fieldset', {}, h('legend', {}, 'Hosts it may reach'),
      h('p', { class: 'help' }, 'A connector reaches only the hosts granted here. A host on a private address (your network, this machine) is reached only when granted as private and the server\'s operator allows it.'),
      hostList),
    h('fieldset', {}, h('legend', {}, 'Secrets it may use'),
      secretRows.length === 0 ? h('p', { class: 'muted' }, 'It needs no secret.') : [
        h('p', { class: 'help' }, 'The connector never sees a secret\'s value: it names the secret and the host adds it to requests to the hosts the secret is bound to. A new value is stored encrypted when you test or install, and never shown again.'),
        secretRows.map((row) => row.element)]),
    h('div', { class: 'actions' }, test, save),
    outcome),
  ]);
}

/** The hosts the connector asks for under `config`: `{config.FIELD}` is the host of that URL. */
function requestedHosts(listing, config) {
  const defaults = (listing.config_schema && listing.config_schema.properties) || {};
  const hosts = [];
  for (const entry of listing.hosts) {
    const templated = /^\{config\.([^}]+)\}$/.exec(entry);
    let host = entry;
    if (templated) {
      const value = config[templated[1]] ?? (defaults[templated[1]] || {}).default;
      try {
        host = value ? new URL(value).host : '';
      } catch {
        host = '';
      }
    }
    if (host && !hosts.includes(host)) hosts.push(host);
  }
  return hosts;
}

/** Whether a host is plainly on a private address: loopback, RFC 1918, link-local, a bare name. */
function looksPrivate(host) {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (name === 'localhost' || !name.includes('.') || name.endsWith('.internal') || name.endsWith('.local')) return true;
  return /^(127\.|10\.|192\.168\.|169\.254\.|172\.(1[6-9]|2\d|3[01])\.)/.test(name) || name === '::1' || /^f[cd]/i.test(name);
}

function hostRow(host) {
  const granted = h('input', { type: 'checkbox', checked: true, name: `grant:${host}` });
  const kind = h('select', { name: `kind:${host}`, 'aria-label': `How ${host} is reached` },
    h('option', { value: 'public', selected: !looksPrivate(host) }, 'public address'),
    h('option', { value: 'private', selected: looksPrivate(host) }, 'private address (operator-allowed)'));
  return {
    host,
    granted: () => granted.checked,
    private: () => kind.value === 'private',
    element: h('li', {}, h('label', { class: 'check' }, granted, ' ', h('code', {}, host)), ' ', kind),
  };
}

function secretRow(name, what, existing) {
  const suggested = name.replace(/_/g, '-');
  const pick = existing.includes(suggested) ? suggested : existing.includes(name) ? name : NEW_SECRET;
  const select = h('select', { name: `secret:${name}`, 'aria-label': `Company secret for ${name}` },
    existing.map((s) => h('option', { value: s, selected: s === pick }, s)),
    h('option', { value: NEW_SECRET, selected: pick === NEW_SECRET }, 'a new secret…'));
  const newName = h('input', { name: `secret-name:${name}`, value: suggested, 'aria-label': `Name of the new secret for ${name}` });
  const newValue = h('input', { type: 'password', name: `secret-value:${name}`, autocomplete: 'off', 'aria-label': `Value of the new secret for ${name}` });
  const fresh = h('div', { class: 'row' }, field('Name', newName), field('Value', newValue));
  const sync = () => { fresh.hidden = select.value !== NEW_SECRET; };
  select.addEventListener('change', sync);
  sync();
  return {
    name,
    element: h('div', { class: 'secret' }, h('p', {}, h('code', {}, name), ` — ${what}`), field('Company secret', select), fresh),
    async companySecret(company) {
      if (select.value !== NEW_SECRET) return select.value;
      const secretName = newName.value.trim();
      if (!secretName || !newValue.value) throw new Error(`Give the new secret for ${name} a name and a value, or choose one the company has.`);
      await api('PUT', `/api/companies/${encodeURIComponent(company)}/secrets/${encodeURIComponent(secretName)}`, { value: newValue.value });
      newValue.value = '';
      if (![...select.options].some((o) => o.value === secretName)) select.prepend(h('option', { value: secretName }, secretName));
      select.value = secretName;
      sync();
      return secretName;
    },
  };
}
