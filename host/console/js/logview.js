// A window onto a company's log lines, however many there are: at most MAX_LINES rows are
// on the page; scrolling to either end reads the next page from the server, which does
// all the filtering; the live tail appends lines from the event stream in one batch per
// frame. Every line is drawn as text.

import { api, companyPath, query } from './api.js';
import { h, errorBox, replace, toast } from './dom.js';
import { clock, time } from './format.js';
import { plain } from './text.js';

/** Lines read per request. */
const PAGE = 500;
/** The most rows kept on the page; beyond, rows at the far end are let go (and read again if scrolled back to). */
const MAX_LINES = 2000;
/** How close to an end (px) a scroll reads the next page. */
const EDGE = 200;

/** The filters the list API and the live stream share. */
const LIVE_FILTERS = ['install', 'run', 'level', 'source', 'q'];

export class LogView {
  /**
   * `filter`: install, run, level, source, q, since, until (RFC 3339). `focus`: the seq of
   * a line to open at. `onLink(url, seq)`: called when a line's link is copied.
   * `stillNote`: what the toolbar says when the view is not live.
   */
  constructor({ company, filter, signal, live = true, focus = null, onLink = null, stillNote = null }) {
    this.company = company;
    this.filter = filter;
    this.signal = signal;
    this.focus = focus;
    this.onLink = onLink;
    // A view that ends in the past has nothing to follow.
    this.liveWanted = live && !filter.until;
    this.first = null;
    this.last = null;
    this.hasOlder = false;
    this.hasNewer = false;
    this.loading = false;
    this.queue = [];
    this.paused = false;
    this.missed = 0;
    this.overflowed = false;
    this.framePending = false;
    this.source = null;

    this.list = h('div', { class: 'loglist', role: 'log', 'aria-live': 'off', tabindex: 0 });
    this.note = h('div', { class: 'lognote', 'aria-live': 'polite' });
    this.state = h('span', { class: 'live-state', id: 'live-state' });
    this.follow = h('input', { type: 'checkbox', id: 'follow', checked: true });
    this.pauseButton = h('button', { type: 'button', id: 'pause', class: 'secondary', on: { click: () => this.togglePause() } }, 'Pause');
    this.newest = h('button', { type: 'button', id: 'newest', class: 'quiet', on: { click: () => this.jumpToNewest() } }, 'Jump to newest');
    this.element = h('div', { class: 'logview' },
      h('div', { class: 'row toolbar' },
        this.liveWanted ? [this.state, this.pauseButton, h('label', { class: 'check' }, this.follow, ' Follow newest')] : h('span', { class: 'muted' }, stillNote || 'This view ends in the past: no live tail.'),
        this.newest),
      this.list,
      this.note);
    this.list.addEventListener('scroll', () => this.scrolled(), { passive: true });
    signal.addEventListener('abort', () => this.stop());
  }

  /** Reads the first page (around the focused line, or the newest) and starts the live tail. */
  async start() {
    try {
      if (this.focus !== null) await this.openAround(this.focus);
      else await this.openNewest();
      this.ensureLive();
    } catch (error) {
      if (!this.signal.aborted) replace(this.note, errorBox(error, 'Cannot read the log lines'));
    }
  }

  /** Follows the live log once the window reaches the newest line. */
  ensureLive() {
    if (this.signal.aborted || !this.liveWanted || this.source) return;
    if (this.hasNewer) this.drawState('behind');
    else this.connect();
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
  }

  params(extra) {
    const f = this.filter;
    return query({ install: f.install, run: f.run, level: f.level, source: f.source, q: f.q, since: f.since, until: f.until, ...extra });
  }

  async read(extra) {
    return api('GET', companyPath(this.company, `/logs${this.params({ limit: PAGE, ...extra })}`));
  }

  async openNewest() {
    const page = await this.read({ order: 'newest' });
    if (this.signal.aborted) return;
    this.setLines(page.items.reverse());
    this.hasOlder = Boolean(page.next);
    this.hasNewer = false;
    this.toBottom();
    this.drawNote();
    this.ensureLive();
  }

  async openAround(seq) {
    const [older, newer] = await Promise.all([
      this.read({ order: 'newest', after: seq + 1, limit: PAGE / 2 }),
      this.read({ order: 'oldest', after: seq, limit: PAGE / 2 }),
    ]);
    if (this.signal.aborted) return;
    this.setLines([...older.items.reverse(), ...newer.items]);
    this.hasOlder = Boolean(older.next);
    this.hasNewer = Boolean(newer.next);
    const row = this.list.querySelector(`[data-seq="${seq}"]`);
    if (row) {
      row.classList.add('focused');
      row.scrollIntoView({ block: 'center' });
      this.follow.checked = false;
    } else {
      replace(this.note, h('p', { class: 'error', role: 'alert' }, `Line ${seq} is not among the lines these filters show.`));
      return;
    }
    this.drawNote();
  }

  jumpToNewest() {
    this.list.querySelectorAll('.focused').forEach((row) => row.classList.remove('focused'));
    this.follow.checked = true;
    return this.more(() => this.openNewest());
  }

  /** Replaces the rows. */
  setLines(lines) {
    replace(this.list, lines.map((line) => this.row(line)));
    this.first = lines.length > 0 ? lines[0].seq : null;
    this.last = lines.length > 0 ? lines[lines.length - 1].seq : this.last;
    if (lines.length === 0) this.list.append(h('p', { class: 'empty', id: 'no-lines' }, this.emptyText()));
  }

  emptyText() {
    const f = this.filter;
    const filtered = f.level || f.source || f.q || f.install || f.since || f.until;
    return filtered
      ? 'No log line matches these filters.'
      : this.liveWanted ? 'No log lines yet. They appear here as runs write them.' : 'No log lines.';
  }

  scrolled() {
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 4;
    if (this.liveWanted && !this.hasNewer) this.follow.checked = atBottom;
    if (this.loading) return;
    if (list.scrollTop < EDGE && this.hasOlder) this.more(() => this.readOlder());
    else if (list.scrollHeight - list.scrollTop - list.clientHeight < EDGE && this.hasNewer) this.more(() => this.readNewer());
  }

  async more(work) {
    this.loading = true;
    try {
      await work();
    } catch (error) {
      if (!this.signal.aborted) replace(this.note, errorBox(error, 'Cannot read more log lines'));
    } finally {
      this.loading = false;
      if (this.queue.length > 0 || this.overflowed) this.schedule();
    }
  }

  async readOlder() {
    const page = await this.read({ order: 'newest', after: this.first });
    if (this.signal.aborted || page.items.length === 0) {
      this.hasOlder = false;
      return;
    }
    const before = this.list.scrollHeight;
    const rows = page.items.reverse().map((line) => this.row(line));
    this.list.prepend(...rows);
    this.first = page.items[0].seq;
    this.hasOlder = Boolean(page.next);
    this.list.scrollTop += this.list.scrollHeight - before;
    this.trim('bottom');
    this.drawNote();
  }

  async readNewer() {
    const page = await this.read({ order: 'oldest', after: this.last });
    if (this.signal.aborted) return;
    this.appendLines(page.items);
    this.hasNewer = Boolean(page.next);
    this.drawNote();
    this.ensureLive();
  }

  /** Lets rows go at one end once the window is full. */
  trim(end) {
    const extra = this.list.children.length - MAX_LINES;
    if (extra <= 0) return;
    const before = this.list.scrollHeight;
    for (let i = 0; i < extra; i += 1) {
      (end === 'top' ? this.list.firstElementChild : this.list.lastElementChild).remove();
    }
    if (end === 'top') {
      this.first = Number(this.list.firstElementChild.dataset.seq);
      this.hasOlder = true;
      this.list.scrollTop -= before - this.list.scrollHeight;
    } else {
      this.last = Number(this.list.lastElementChild.dataset.seq);
      this.hasNewer = true;
    }
  }

  appendLines(lines) {
    const fresh = lines.filter((line) => this.last === null || line.seq > this.last);
    if (fresh.length === 0) return;
    const placeholder = this.list.querySelector('#no-lines');
    if (placeholder) placeholder.remove();
    const fragment = document.createDocumentFragment();
    for (const line of fresh) fragment.append(this.row(line));
    this.list.append(fragment);
    if (this.first === null) this.first = fresh[0].seq;
    this.last = fresh[fresh.length - 1].seq;
    this.trim('top');
  }

  connect() {
    this.stop();
    const after = this.last ?? 0;
    const source = new EventSource(companyPath(this.company, `/logs/live${query({
      ...Object.fromEntries(LIVE_FILTERS.map((name) => [name, this.filter[name]])),
      after,
    })}`));
    this.source = source;
    this.drawState('connecting');
    source.addEventListener('open', () => this.drawState(this.paused ? 'paused' : 'live'));
    source.addEventListener('line', (event) => this.received(JSON.parse(event.data)));
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        this.drawState('stopped');
        replace(this.note, h('p', { class: 'error', role: 'alert' }, 'The live log stopped. ',
          h('button', { type: 'button', class: 'quiet', on: { click: () => { replace(this.note); this.connect(); } } }, 'Reconnect')));
      } else {
        this.drawState('connecting');
      }
    });
  }

  received(line) {
    if (this.filter.since && new Date(line.time) < new Date(this.filter.since)) return;
    this.queue.push(line);
    // More than a window behind: the newest page is read again instead of these.
    if (this.queue.length > MAX_LINES) {
      this.queue = [];
      this.overflowed = true;
    }
    if (this.paused) {
      this.missed += 1;
      this.drawState('paused');
      return;
    }
    if (this.state.dataset.state !== 'live') this.drawState('live');
    this.schedule();
  }

  schedule() {
    if (!this.framePending) {
      this.framePending = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  flush() {
    this.framePending = false;
    // Rows further on are not on the page yet (they are read on scroll first), or a read
    // is under way that would replace these rows.
    if (this.paused || this.signal.aborted || this.hasNewer || this.loading) return;
    if (this.overflowed) {
      this.overflowed = false;
      this.queue = [];
      this.more(() => this.openNewest());
      return;
    }
    const lines = this.queue;
    this.queue = [];
    this.appendLines(lines);
    if (this.follow.checked) this.toBottom();
  }

  togglePause() {
    this.paused = !this.paused;
    this.pauseButton.textContent = this.paused ? 'Resume' : 'Pause';
    if (!this.paused) {
      this.missed = 0;
      this.schedule();
    }
    this.drawState(this.source ? (this.paused ? 'paused' : 'live') : this.hasNewer ? 'behind' : 'stopped');
  }

  drawState(state) {
    this.state.dataset.state = state;
    this.state.textContent = {
      live: '● Live',
      connecting: '○ Connecting…',
      paused: `❚❚ Paused${this.missed ? ` — ${this.missed} new line${this.missed === 1 ? '' : 's'}` : ''}`,
      stopped: '■ Stopped',
      behind: '○ Not following: newer lines below',
    }[state];
  }

  drawNote() {
    replace(this.note, this.hasNewer ? h('p', { class: 'muted' }, 'Newer lines below: scroll down to read them, or jump to the newest.') : null);
  }

  toBottom() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  link(seq) {
    const f = this.filter;
    return `/companies/${encodeURIComponent(this.company)}/logs${query({ ...f, line: seq })}`;
  }

  row(line) {
    const link = this.link(line.seq);
    const fields = line.fields && typeof line.fields === 'object' && Object.keys(line.fields).length > 0
      ? h('span', { class: 'fields' }, plain(JSON.stringify(line.fields)))
      : null;
    return h('div', { class: `line lvl-${line.level}`, dataset: { seq: line.seq, level: line.level } },
      h('a', {
        class: 'permalink',
        href: link,
        title: `Copy a link to line ${line.seq}`,
        'aria-label': `Copy a link to line ${line.seq}`,
        on: { click: (event) => { event.preventDefault(); this.copyLink(link, line.seq); } },
      }, '#'),
      h('time', { datetime: line.time, title: time(line.time) }, clock(line.time)),
      h('span', { class: 'level' }, line.level),
      h('span', { class: 'source' }, line.source),
      h('a', { class: 'run', href: `/companies/${encodeURIComponent(this.company)}/runs/${encodeURIComponent(line.run_id)}`, title: `Run ${line.run_id}` }, line.run_id.slice(-6)),
      h('span', { class: 'msg' }, plain(line.message)),
      fields);
  }

  async copyLink(path, seq) {
    const url = new URL(path, location.origin).href;
    this.list.querySelectorAll('.focused').forEach((row) => row.classList.remove('focused'));
    const row = this.list.querySelector(`[data-seq="${seq}"]`);
    if (row) row.classList.add('focused');
    if (this.onLink) this.onLink(path, seq);
    try {
      await navigator.clipboard.writeText(url);
      toast(`Link to line ${seq} copied`);
    } catch {
      toast(`Link to line ${seq}: ${url}`);
    }
  }
}

