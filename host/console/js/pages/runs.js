// The company's run history, newest first: status, trigger, attempt, duration, records,
// HTTP requests, peak memory and error; filtered by install and status in the address.
// While a run on the page is queued or running, the page reads the history again.

import { api, companyPath, query } from '../api.js';
import { h, append, empty, errorBox, field, replace } from '../dom.js';
import { bytes, count, duration, time } from '../format.js';
import { navigate } from '../router.js';
import { plain } from '../text.js';

const STATUSES = ['queued', 'running', 'succeeded', 'rate_limited', 'failed', 'cancelled'];
const REFRESH_MS = 2000;

export async function render(main, { company }, { signal, search }) {
  document.title = 'Runs · Sluice';
  const base = `/companies/${encodeURIComponent(company)}`;
  const filter = { install: search.get('install') || '', status: search.get('status') || '' };
  const install = h('input', { name: 'install', value: filter.install, placeholder: 'inst_…' });
  const status = h('select', { name: 'status' }, h('option', { value: '' }, 'any'),
    STATUSES.map((s) => h('option', { value: s, selected: filter.status === s }, s.replace('_', ' '))));
  const form = h('form', {
    class: 'row filters',
    on: {
      submit: (event) => {
        event.preventDefault();
        navigate(`${base}/runs${query({ install: install.value.trim(), status: status.value })}`);
      },
    },
  }, field('Install', install), field('Status', status), h('button', { type: 'submit' }, 'Filter'));
  const body = h('tbody');
  const more = h('div');
  append(main, [h('h1', {}, 'Runs'), form,
    h('div', { class: 'scroll' }, h('table', { class: 'runs' }, h('thead', {}, h('tr', {},
      ['Run', 'Connector', 'Status', 'Trigger', 'Attempt', 'Started', 'Duration', 'Records', 'HTTP requests', 'Peak memory', 'Error'].map((t) => h('th', { scope: 'col' }, t)))), body)),
    more]);

  let pages = 1;
  const load = async () => {
    const rows = [];
    let after = null;
    let next = null;
    for (let i = 0; i < pages; i += 1) {
      const page = await api('GET', companyPath(company, `/runs${query({ ...filter, limit: 50, after })}`));
      rows.push(...page.items);
      next = page.next;
      after = next;
      if (!next) break;
    }
    if (signal.aborted) return rows;
    replace(body, rows.map((run) => row(base, run)));
    if (rows.length === 0) {
      replace(body, h('tr', {}, h('td', { colspan: 11 }, empty(filter.install || filter.status
        ? 'No run matches these filters.'
        : ['No run yet. Start one with "Run now" on ', h('a', { href: `${base}/installs` }, 'an install'), ', or wait for its schedule.']))));
    }
    replace(more, next ? h('button', { type: 'button', class: 'secondary', on: { click: () => { pages += 1; load().catch(show); } } }, 'Older runs') : null);
    return rows;
  };
  const show = (error) => { if (!signal.aborted) replace(more, errorBox(error)); };
  const tick = async () => {
    try {
      const rows = await load();
      if (!signal.aborted && rows.some((r) => r.status === 'queued' || r.status === 'running')) {
        setTimeout(tick, REFRESH_MS);
      }
    } catch (error) {
      show(error);
    }
  };
  await tick();
}

function row(base, run) {
  return h('tr', { dataset: { run: run.id, status: run.status } },
    h('td', {}, h('a', { href: `${base}/runs/${encodeURIComponent(run.id)}` }, run.id)),
    h('td', {}, run.plugin, h('br'), h('span', { class: 'muted' }, run.install_id)),
    h('td', {}, h('span', { class: `status ${run.status}` }, run.status.replace('_', ' '))),
    h('td', {}, run.trigger.replace('_', ' ')),
    h('td', {}, `${run.attempt} of ${run.max_attempts}`),
    h('td', {}, time(run.started_at)),
    h('td', {}, duration(run.started_at, run.finished_at)),
    h('td', { class: 'num' }, count(run.records_written)),
    h('td', { class: 'num' }, count(run.http_requests)),
    h('td', { class: 'num' }, bytes(run.peak_memory_bytes)),
    h('td', { class: 'error-text' }, run.error ? plain(run.error) : ''));
}
