// The company's audit log, newest first: who did what to which thing, and when (admins).

import { api, companyPath, query } from '../api.js';
import { h, append, empty, errorBox, replace } from '../dom.js';
import { time } from '../format.js';
import { plain } from '../text.js';

export async function render(main, { company }) {
  document.title = 'Audit log · Sluice';
  const body = h('tbody');
  const more = h('div');
  append(main, [h('h1', {}, 'Audit log'),
    h('table', { class: 'audit' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'On'].map((t) => h('th', { scope: 'col' }, t)))),
      body),
    more]);
  const load = async (after) => {
    const page = await api('GET', companyPath(company, `/audit${query({ limit: 100, after })}`));
    for (const entry of page.items) {
      body.append(h('tr', { dataset: { action: entry.action } },
        h('td', {}, time(entry.at)),
        h('td', {}, h('code', {}, entry.actor)),
        h('td', {}, entry.action),
        h('td', {}, plain(entry.target))));
    }
    if (!after && page.items.length === 0) body.append(h('tr', {}, h('td', { colspan: 4 }, empty('Nothing has been done in the company yet.'))));
    replace(more, page.next ? h('button', {
      type: 'button',
      class: 'secondary',
      on: { click: () => load(page.next).catch((error) => replace(more, errorBox(error))) },
    }, 'Older entries') : null);
  };
  await load(null);
}
