// One run: its figures, its error, and its log lines — live while it goes on.

import { api, companyPath } from '../api.js';
import { h, append, errorBox, replace } from '../dom.js';
import { bytes, count, duration, time } from '../format.js';
import { LogView } from '../logview.js';
import { canAdmin } from '../session.js';
import { plain } from '../text.js';

const REFRESH_MS = 1500;

export async function render(main, { company, run: id }, { signal }) {
  document.title = `Run ${id} · Sluice`;
  const base = `/companies/${encodeURIComponent(company)}`;
  const path = companyPath(company, `/runs/${encodeURIComponent(id)}`);
  const facts = h('div', { id: 'run-facts' });
  const status = h('div', { 'aria-live': 'polite' });
  const logBox = h('div');
  append(main, [h('h1', {}, 'Run ', h('code', {}, id)), facts, status,
    h('h2', {}, 'Log lines ', h('a', { class: 'small', href: `${base}/logs?run=${encodeURIComponent(id)}` }, 'open in the logs viewer')), logBox]);

  let run = await api('GET', path);
  // A run that has ended writes no more lines: nothing to follow.
  const view = new LogView({
    company,
    filter: { run: id },
    signal,
    live: run.status === 'queued' || run.status === 'running',
    stillNote: 'The run has ended: these are all its lines.',
  });
  logBox.append(view.element);
  view.start();

  const draw = () => {
    const ongoing = run.status === 'queued' || run.status === 'running';
    const cancel = ongoing && canAdmin(company) ? h('button', {
      type: 'button',
      class: 'quiet danger',
      on: {
        click: async () => {
          try {
            run = await api('POST', `${path}/cancel`);
            draw();
          } catch (error) {
            replace(status, errorBox(error, 'Could not cancel'));
          }
        },
      },
    }, 'Cancel the run') : null;
    replace(facts, h('dl', { class: 'facts' },
      fact('Status', h('span', { class: `status ${run.status}`, id: 'run-status' }, run.status.replace('_', ' '))),
      fact('Connector', `${run.plugin} (install ${run.install_id})`),
      fact('Trigger', run.trigger.replace('_', ' ') + (run.event_kind ? ` (${run.event_kind})` : '')),
      fact('Attempt', `${run.attempt} of ${run.max_attempts}${run.retry_of ? ` — retries ${run.retry_of}` : ''}`),
      fact('Due', time(run.due_at)),
      fact('Started', `${time(run.started_at)}${run.start_delay_ms != null ? ` (${run.start_delay_ms} ms after due)` : ''}`),
      fact('Finished', time(run.finished_at)),
      fact('Duration', duration(run.started_at, run.finished_at)),
      fact('Records', `${count(run.records_written)}${run.records_deleted ? ` (${count(run.records_deleted)} marked deleted: gone at the service)` : ''}`),
      fact('HTTP requests', count(run.http_requests)),
      fact('Peak memory', bytes(run.peak_memory_bytes)),
      fact('Log lines', `${count(run.log_lines)}${run.dropped_log_lines ? ` (${count(run.dropped_log_lines)} dropped over its budget)` : ''}`),
      fact('Host', run.claimed_by || '—'),
      run.note ? fact('Note', plain(run.note)) : null,
      run.error ? fact('Error', h('span', { class: 'error-text', id: 'run-error' }, plain(run.error))) : null), cancel);
  };
  draw();
  while (!signal.aborted && (run.status === 'queued' || run.status === 'running')) {
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
    if (signal.aborted) return;
    try {
      run = await api('GET', path);
      draw();
    } catch (error) {
      replace(status, errorBox(error));
      return;
    }
  }
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}
