// The logs viewer: every log line of the company, filtered by level, install, run,
// source, text and time range — all kept in the address, so a view (or one line, with
// `line=`) can be shared — with counts by level and install, an hourly timeline, and
// the live tail.

import { api, companyPath, query } from '../api.js';
import { h, append, errorBox, field, replace } from '../dom.js';
import { count, fromLocalInput, time, toLocalInput } from '../format.js';
import { LogView } from '../logview.js';
import { navigate } from '../router.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const SOURCES = ['plugin', 'stdio', 'host'];
const FILTERS = ['level', 'install', 'run', 'source', 'q', 'since', 'until'];
const SUMMARY_EVERY_MS = 10_000;
const HOUR_MS = 3_600_000;

export async function render(main, { company }, { signal, search }) {
  document.title = 'Logs · Sluice';
  const base = `/companies/${encodeURIComponent(company)}/logs`;
  const filter = Object.fromEntries(FILTERS.map((name) => [name, search.get(name) || '']));
  const line = /^\d+$/.test(search.get('line') || '') ? Number(search.get('line')) : null;
  const go = (change) => navigate(`${base}${query({ ...filter, ...change })}`);

  const installs = await api('GET', companyPath(company, '/installs?limit=500'));
  const names = new Map(installs.items.map((i) => [i.id, `${i.plugin} (${i.id})`]));

  const controls = {
    level: h('select', { name: 'level' }, h('option', { value: '' }, 'any level'),
      LEVELS.map((l) => h('option', { value: l, selected: filter.level === l }, l === 'error' ? 'error' : `${l} and above`))),
    install: h('select', { name: 'install' }, h('option', { value: '' }, 'every install'),
      installs.items.map((i) => h('option', { value: i.id, selected: filter.install === i.id }, names.get(i.id))),
      filter.install && !names.has(filter.install) ? h('option', { value: filter.install, selected: true }, filter.install) : null),
    run: h('input', { name: 'run', value: filter.run, placeholder: 'run_…', size: 14 }),
    source: h('select', { name: 'source' }, h('option', { value: '' }, 'any source'),
      SOURCES.map((s) => h('option', { value: s, selected: filter.source === s }, s))),
    q: h('input', { type: 'search', name: 'q', value: filter.q, placeholder: 'text in the line' }),
    since: h('input', { type: 'datetime-local', name: 'since', value: toLocalInput(filter.since) }),
    until: h('input', { type: 'datetime-local', name: 'until', value: toLocalInput(filter.until) }),
  };
  const form = h('form', {
    class: 'row filters',
    id: 'log-filters',
    on: {
      submit: (event) => {
        event.preventDefault();
        go({
          level: controls.level.value,
          install: controls.install.value,
          run: controls.run.value.trim(),
          source: controls.source.value,
          q: controls.q.value,
          since: fromLocalInput(controls.since.value),
          until: fromLocalInput(controls.until.value),
        });
      },
    },
  },
  field('Level', controls.level), field('Install', controls.install), field('Run', controls.run),
  field('Source', controls.source), field('Text', controls.q), field('From', controls.since), field('Until', controls.until),
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'apply-filters' }, 'Apply'),
    FILTERS.some((name) => filter[name]) ? h('a', { href: base, id: 'clear-filters' }, 'Clear filters') : null));

  const summary = h('section', { class: 'summary', id: 'log-summary', 'aria-label': 'Counts' });
  const view = new LogView({
    company,
    filter,
    signal,
    focus: line,
    onLink: (path) => history.replaceState(null, '', path),
  });
  append(main, [h('h1', {}, 'Logs'), form, summary, view.element]);
  view.start();

  const drawSummary = async () => {
    try {
      const counts = await api('GET', companyPath(company, `/logs/summary${query(filter)}`));
      if (!signal.aborted) replace(summary, ...summaryOf(counts, filter, names, go));
    } catch (error) {
      if (!signal.aborted) replace(summary, errorBox(error, 'Cannot count the log lines'));
    }
  };
  await drawSummary();
  if (!filter.until) {
    const timer = setInterval(drawSummary, SUMMARY_EVERY_MS);
    signal.addEventListener('abort', () => clearInterval(timer));
  }
}

function summaryOf(counts, filter, names, go) {
  const range = filter.since || filter.until
    ? `from ${filter.since ? time(filter.since) : 'the start'} until ${filter.until ? time(filter.until) : 'now'}`
    : 'in the last 24 hours';
  const peak = Math.max(1, ...counts.hours.map((hour) => hour.total));
  return [
    h('p', { class: 'total' }, h('strong', { id: 'total-lines' }, count(counts.total)), ` line${counts.total === 1 ? '' : 's'} ${range}`),
    h('ul', { class: 'chips', id: 'level-counts', 'aria-label': 'Lines by level' }, LEVELS.map((level) => h('li', {},
      h('button', {
        type: 'button',
        class: `chip lvl-${level}${filter.level === level ? ' on' : ''}`,
        dataset: { level, count: counts.by_level[level] || 0 },
        title: `Show ${level} lines and above`,
        on: { click: () => go({ level }) },
      }, `${level} `, h('span', { class: 'n' }, count(counts.by_level[level] || 0)))))),
    Object.keys(counts.by_install).length > 1
      ? h('ul', { class: 'chips', 'aria-label': 'Lines by install' }, Object.entries(counts.by_install).map(([install, n]) => h('li', {},
        h('button', { type: 'button', class: 'chip', on: { click: () => go({ install }) } }, `${names.get(install) || install} `, h('span', { class: 'n' }, count(n))))))
      : null,
    counts.hours.length > 0
      ? h('div', { class: 'timeline', role: 'img', 'aria-label': 'Lines per hour' }, counts.hours.map((hour) => {
        const bar = h('button', {
          type: 'button',
          class: 'bar',
          title: `${time(hour.hour)}: ${count(hour.total)} lines${hour.by_level.error ? `, ${count(hour.by_level.error)} errors` : ''}`,
          on: { click: () => go({ since: hour.hour, until: new Date(new Date(hour.hour).getTime() + HOUR_MS).toISOString() }) },
        }, h('span', { class: 'fill' }), hour.by_level.error ? h('span', { class: 'errors' }) : null);
        // Heights through the CSS object model, which the page's policy allows (no style attribute).
        bar.firstChild.style.height = `${Math.max(2, (hour.total / peak) * 100)}%`;
        if (bar.children[1]) bar.children[1].style.height = `${Math.max(2, (hour.by_level.error / peak) * 100)}%`;
        return bar;
      }))
      : null,
  ];
}
