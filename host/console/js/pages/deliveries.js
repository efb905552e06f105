// The company's webhook deliveries, newest first (admins): what GitHub and Slack sent to its
// hooks, refused ones with why, verified ones with the runs they became, and a button that
// delivers a verified one again.

import { api, companyPath, query } from '../api.js';
import { h, append, empty, errorBox, replace, toast } from '../dom.js';
import { time } from '../format.js';
import { plain } from '../text.js';

export async function render(main, { company }) {
  document.title = 'Deliveries · Sluice';
  const base = `/companies/${encodeURIComponent(company)}`;
  const body = h('tbody');
  const more = h('div');
  append(main, [h('h1', {}, 'Webhook deliveries'),
    h('p', { class: 'hint' }, 'What GitHub and Slack sent to the hooks of your installs. A delivery whose signature did not verify queued nothing and kept no body.'),
    h('div', { class: 'scroll' }, h('table', { class: 'deliveries' },
      h('thead', {}, h('tr', {}, ['Received', 'Hook', 'Event', 'Status', 'Runs', ''].map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    more]);

  const replay = async (delivery, button) => {
    button.disabled = true;
    try {
      const replayed = await api('POST', companyPath(company, `/deliveries/${encodeURIComponent(delivery.id)}/replay`));
      toast(`Delivered again: ${replayed.runs.length} run${replayed.runs.length === 1 ? '' : 's'} queued`);
      await load(null, true);
    } catch (error) {
      button.disabled = false;
      replace(more, errorBox(error, 'Cannot replay the delivery'));
    }
  };

  const row = (delivery) => h('tr', { dataset: { delivery: delivery.id, status: delivery.status } },
    h('td', {}, time(delivery.received_at)),
    h('td', {}, delivery.source, ' · ', h('code', {}, delivery.install_id)),
    h('td', {}, delivery.kind ? plain(delivery.kind) : '—'),
    h('td', {}, h('span', { class: `status ${delivery.status}` }, delivery.status),
      delivery.refusal ? h('div', { class: 'refusal' }, plain(delivery.refusal)) : null,
      delivery.replay_of ? h('div', { class: 'muted replay-of' }, 'replayed by an admin') : null),
    h('td', {}, delivery.routed.map((r) => h('a', { class: 'run', href: `${base}/runs/${encodeURIComponent(r.run_id)}` }, r.run_id))),
    h('td', {}, delivery.status === 'routed' || delivery.status === 'unrouted'
      ? h('button', { type: 'button', class: 'secondary replay', on: { click: (event) => replay(delivery, event.target) } }, 'Replay')
      : null));

  const load = async (after, fresh) => {
    const page = await api('GET', companyPath(company, `/deliveries${query({ limit: 100, after })}`));
    if (fresh) replace(body);
    body.append(...page.items.map(row));
    if (!after && page.items.length === 0) {
      body.append(h('tr', {}, h('td', { colspan: 6 }, empty('No delivery yet. Set a hook\'s secret on an install that handles events, and point GitHub or Slack at its address.'))));
    }
    replace(more, page.next ? h('button', {
      type: 'button',
      class: 'secondary',
      on: { click: () => load(page.next, false).catch((error) => replace(more, errorBox(error))) },
    }, 'Older deliveries') : null);
  };
  await load(null, false);
}
