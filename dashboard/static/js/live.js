// The live panel: a WebSocket watch of a bucket (a snapshot, then every
// change), resuming from the last revision seen after a dropped connection.
import { api, watchURL } from './api.js';
import { h, fill } from './dom.js';
import { base64ToBytes, preview } from './format.js';

const MAX_ITEMS = 200;
const MAX_BACKOFF = 8000;

export class LiveFeed {
  // onUpdate(frame, synced) is told about every kv_update frame.
  constructor({ bucket, filter, list, status, keyHref, onUpdate }) {
    Object.assign(this, { bucket, filter, list, status, keyHref, onUpdate });
    this.items = new Map();
    this.lastRev = 0;
    this.synced = false;
    this.stopped = false;
    this.backoff = 250;
    this.timer = 0;
    this.ws = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, 'page closed');
      this.ws = null;
    }
  }

  setStatus(state, text) {
    this.status.dataset.state = state;
    fill(this.status, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
  }

  connect() {
    const params = { key: this.filter };
    if (this.lastRev > 0) params.since = this.lastRev;
    else params.snapshot = 'true';
    this.synced = false;
    this.opened = false;
    this.setStatus('connecting', this.lastRev > 0 ? `Resuming after revision ${this.lastRev}…` : 'Connecting…');
    const ws = new WebSocket(watchURL(this.bucket, params));
    this.ws = ws;
    ws.onopen = () => { this.opened = true; };
    ws.onmessage = (ev) => this.frame(ev.data);
    ws.onclose = (ev) => this.closed(ev);
  }

  frame(data) {
    let f;
    try { f = JSON.parse(data); } catch { return; }
    switch (f.type) {
      case 'kv_synced':
        this.synced = true;
        this.backoff = 250;
        if (f.revision > this.lastRev) this.lastRev = f.revision;
        this.setStatus('live', 'Live');
        break;
      case 'error':
        this.errorMessage = f.message;
        break;
      default: // kv_update, and anything unknown that looks like one
        if (typeof f.key !== 'string') return;
        if (f.revision > this.lastRev) this.lastRev = f.revision;
        this.show(f);
        if (this.onUpdate) this.onUpdate(f, this.synced);
    }
  }

  show(f) {
    const op = f.operation || 'put';
    let li = this.items.get(f.key);
    if (!li) {
      li = h('li', { class: 'live-item' });
      this.items.set(f.key, li);
    }
    const gone = op !== 'put';
    li.dataset.key = f.key;
    li.dataset.op = op;
    li.dataset.rev = String(f.revision);
    li.classList.toggle('gone', gone);
    fill(li,
      h('a', { class: 'live-key', href: this.keyHref(f.key) }, f.key),
      h('span', { class: `op op-${op}` }, op === 'put' ? 'put' : op === 'delete' ? 'deleted' : 'purged'),
      h('span', { class: 'rev' }, `#${f.revision}`),
      gone ? null : h('span', { class: 'preview' }, preview(base64ToBytes(f.value))));
    this.list.prepend(li);
    if (this.synced) {
      li.classList.remove('flash');
      void li.offsetWidth; // restart the animation
      li.classList.add('flash');
    }
    while (this.items.size > MAX_ITEMS) {
      const last = this.list.lastElementChild;
      this.items.delete(last.dataset.key);
      last.remove();
    }
  }

  async closed(ev) {
    this.ws = null;
    if (this.stopped) return;
    const m = /resume from (\d+)/.exec(ev.reason || '');
    if (m) this.lastRev = Math.max(this.lastRev, Number(m[1]));
    if (ev.reason === 'bucket deleted') {
      this.setStatus('stopped', 'The bucket was deleted.');
      return;
    }
    if (!this.opened) {
      // The upgrade was refused, and a browser does not tell why: ask the
      // REST API the same question (a 401 there shows the sign-in).
      try {
        await api.listKeys(this.bucket, { filter: this.filter, limit: 1 });
      } catch (e) {
        if (e.status >= 400 && e.status < 500) {
          if (!this.stopped) this.setStatus('stopped', `Not watching: ${e.status === 401 ? 'sign in first' : e.message}`);
          return;
        }
      }
    }
    if (this.stopped) return;
    const why = this.errorMessage || ev.reason || 'connection lost';
    this.errorMessage = '';
    this.setStatus('reconnecting', `Disconnected (${why}); reconnecting…`);
    this.timer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
  }

  clear() {
    this.items.clear();
    fill(this.list);
  }
}
