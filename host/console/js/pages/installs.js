// The company's installs: each connector with its configuration, what it was granted and
// its schedule (next due times, enable / disable, change), and "Run now".

import { api, companyPath, ApiError } from '../api.js';
import { h, append, errorBox, empty, field, replace, toast } from '../dom.js';
import { time } from '../format.js';
import { navigate } from '../router.js';
import { canAdmin } from '../session.js';

export async function render(main, { company }, { search }) {
  document.title = 'Installs · Sluice';
  const admin = canAdmin(company);
  const base = `/companies/${encodeURIComponent(company)}`;
  append(main, [h('div', { class: 'title' }, h('h1', {}, 'Installs'),
    admin ? h('a', { class: 'button', href: `${base}/marketplace` }, 'Install a connector') : null)]);
  const installed = search.get('installed');
  if (installed) main.append(h('p', { class: 'ok', role: 'status' }, `Installed (${installed}). Run it now, or let its schedule start it.`));
  const installs = [];
  let after = null;
  do {
    const page = await api('GET', companyPath(company, `/installs?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`));
    installs.push(...page.items);
    after = page.next;
  } while (after);
  if (installs.length === 0) {
    main.append(empty(h('p', {}, 'Nothing is installed yet. '),
      admin ? h('a', { href: `${base}/marketplace` }, 'Pick a connector in the marketplace.') : 'An admin of the company installs connectors.'));
    return;
  }
  const list = h('ul', { class: 'installs' });
  main.append(list);
  for (const install of installs) list.append(installCard(company, install, admin, installed === install.id));
}

function installCard(company, install, admin, fresh) {
  const base = `/companies/${encodeURIComponent(company)}`;
  const status = h('div', { 'aria-live': 'polite' });
  const schedule = h('div', { class: 'schedule' }, h('p', { class: 'muted' }, 'Reading the schedule…'));
  const runNow = admin ? h('button', {
    type: 'button',
    class: 'run-now',
    on: {
      click: async () => {
        runNow.disabled = true;
        try {
          const run = await api('POST', companyPath(company, `/installs/${encodeURIComponent(install.id)}/runs`));
          navigate(`${base}/runs/${encodeURIComponent(run.id)}`);
        } catch (error) {
          replace(status, errorBox(error, 'Could not start a run'));
          runNow.disabled = false;
        }
      },
    },
  }, 'Run now') : null;
  const remove = admin ? h('button', {
    type: 'button',
    class: 'quiet danger',
    on: {
      click: async () => {
        if (!window.confirm(`Uninstall ${install.plugin} (${install.id})? Its records and state are deleted; run history and log lines stay.`)) return;
        try {
          await api('DELETE', companyPath(company, `/installs/${encodeURIComponent(install.id)}`));
          card.remove();
          toast(`Uninstalled ${install.id}`);
        } catch (error) {
          replace(status, errorBox(error, 'Could not uninstall'));
        }
      },
    },
  }, 'Uninstall') : null;
  const grants = install.grants || {};
  const card = h('li', { class: `card install${fresh ? ' fresh' : ''}`, dataset: { install: install.id } },
    h('div', { class: 'title' },
      h('h2', {}, install.plugin, ' ', h('span', { class: 'version' }, install.version)),
      h('code', { class: 'muted' }, install.id)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Configuration'), h('dd', {}, h('code', {}, JSON.stringify(install.config))),
      h('dt', {}, 'Hosts granted'), h('dd', {}, [...(grants.hosts || []), ...(grants.private_hosts || []).map((p) => `${p} (private)`)].join(', ') || 'none'),
      h('dt', {}, 'Secrets'), h('dd', {}, Object.entries(grants.secrets || {}).map(([k, v]) => `${k} → ${v}`).join(', ') || 'none'),
      h('dt', {}, 'Installed'), h('dd', {}, time(install.created_at))),
    schedule,
    h('div', { class: 'actions' }, runNow,
      h('a', { href: `${base}/runs?install=${encodeURIComponent(install.id)}` }, 'Runs'),
      h('a', { href: `${base}/logs?install=${encodeURIComponent(install.id)}` }, 'Log lines'),
      remove),
    status);
  drawSchedule(company, install, admin, schedule, status);
  return card;
}

async function drawSchedule(company, install, admin, box, status) {
  const path = companyPath(company, `/installs/${encodeURIComponent(install.id)}/schedule`);
  let current = null;
  try {
    current = await api('GET', path);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      replace(box, errorBox(error, 'Cannot read the schedule'));
      return;
    }
  }
  const save = async (body) => {
    try {
      const kept = await api('PUT', path, body);
      replace(status);
      install.schedule = kept;
      drawSchedule(company, install, admin, box, status);
    } catch (error) {
      replace(status, errorBox(error, 'The schedule was not saved'));
    }
  };
  const summary = current
    ? h('p', {},
      current.cron ? ['Runs on ', h('code', {}, current.cron), ` (${current.timezone})`] : `Runs every ${current.interval_seconds} s`,
      current.enabled ? '' : ' — disabled',
      current.enabled && current.next_due.length > 0 ? h('span', { class: 'muted' }, ` · next: ${current.next_due.slice(0, 3).map(time).join(', ')}`) : null)
    : h('p', { class: 'muted' }, 'No schedule: it runs only when started.');
  const toggle = admin && current ? h('button', {
    type: 'button',
    class: 'secondary toggle-schedule',
    on: { click: () => save(bodyOf(current, { enabled: !current.enabled })) },
  }, current.enabled ? 'Disable' : 'Enable') : null;
  const editor = admin ? scheduleEditor(current, save) : null;
  replace(box, h('div', { class: 'row' }, summary, toggle), editor);
}

function bodyOf(current, change) {
  return {
    cron: current.cron || undefined,
    interval_seconds: current.cron ? undefined : current.interval_seconds,
    timezone: current.timezone,
    enabled: current.enabled,
    overlap: current.overlap,
    jitter_seconds: current.jitter_seconds,
    ...change,
  };
}

function scheduleEditor(current, save) {
  const cron = h('input', { name: 'cron', value: current && current.cron ? current.cron : '', placeholder: '0 * * * *' });
  const timezone = h('input', { name: 'timezone', value: current ? current.timezone : 'UTC' });
  return h('details', {}, h('summary', {}, current ? 'Change the schedule' : 'Add a schedule'),
    h('form', {
      class: 'row',
      on: {
        submit: (event) => {
          event.preventDefault();
          save(current ? bodyOf(current, { cron: cron.value, interval_seconds: undefined, timezone: timezone.value })
            : { cron: cron.value, timezone: timezone.value });
        },
      },
    }, field('Cron (minute hour day month weekday)', cron), field('Timezone (IANA)', timezone), h('button', { type: 'submit' }, 'Save schedule')));
}
