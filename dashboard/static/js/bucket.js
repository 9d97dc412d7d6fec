// The bucket view: keys with a filter and pages, the selected key's value,
// editor and history, and the live panel.
import { api, ApiError } from './api.js';
import { h, fill, toast, confirmDialog } from './dom.js';
import { base64ToBytes, decodeValue, formatBytes, formatCount, formatTTL, formatTime, highlightJSON, parseHex } from './format.js';
import { diffLines } from './diff.js';
import { LiveFeed } from './live.js';
import { fieldError, renderDiff, showConflict } from './widgets.js';

const PAGE_SIZE = 50;
const KIND_LABEL = { json: 'JSON', text: 'Text (UTF-8)', binary: 'Binary (hex)' };

export class BucketView {
  constructor(main, router, name) {
    this.main = main;
    this.router = router;
    this.name = name;
    this.filter = '';
    this.after = '';
    this.pages = []; // the "after" of the pages before this one
    this.key = null; // the selected key
    this.sel = null; // what the detail panel shows
    this.changed = 0; // keys created or removed since the list was loaded
  }

  crumbs() { return [{ label: 'Buckets', href: '#/' }, { label: this.name }]; }

  href({ key = this.key, filter = this.filter } = {}) {
    const q = new URLSearchParams();
    if (filter) q.set('filter', filter);
    if (key !== null && key !== undefined) q.set('key', key);
    const s = q.toString();
    return `#/b/${encodeURIComponent(this.name)}${s ? '?' + s : ''}`;
  }

  async render(params) {
    try {
      this.info = await api.getBucket(this.name);
    } catch (e) {
      if (e.status !== 401 && !this.disposed) this.router.error(e, e.status === 404 ? `There is no bucket named “${this.name}”.` : '');
      return;
    }
    if (this.disposed) return;
    this.filter = params.get('filter') || '';
    this.key = params.get('key');
    this.build();
    const [ok] = await Promise.all([this.loadKeys(), this.key !== null ? this.select(this.key) : this.showEmpty()]);
    if (this.disposed) return;
    if (ok) this.startLive();
    else this.stopLive('Not watching: the filter is not valid.');
  }

  async update(params) {
    const filter = params.get('filter') || '';
    const key = params.get('key');
    if (filter !== this.filter) {
      this.filter = filter;
      this.filterInput.value = filter;
      this.after = '';
      this.pages = [];
      const ok = await this.loadKeys();
      if (this.disposed) return;
      if (ok) this.startLive();
      else this.stopLive('Not watching: the filter is not valid.');
    }
    if (key !== this.key) {
      this.key = key;
      this.markSelected();
      if (key === null) this.showEmpty();
      else await this.select(key);
    }
  }

  dispose() {
    this.disposed = true;
    if (this.live) this.live.stop();
    clearTimeout(this.statsTimer);
  }

  build() {
    const i = this.info;
    this.stats = h('dl', { class: 'stats', id: 'bucket-stats' });
    this.renderStats();
    this.filterInput = h('input', {
      id: 'key-filter', type: 'search', value: this.filter, placeholder: 'All keys', autocomplete: 'off',
      spellcheck: 'false', 'aria-describedby': 'filter-hint filter-error',
    });
    this.filterError = h('p', { class: 'field-error', id: 'filter-error', role: 'alert', hidden: true });
    this.keyList = h('ul', { class: 'key-list', id: 'key-list', 'aria-label': 'Keys' });
    this.keyCount = h('p', { class: 'key-count muted', id: 'key-count' });
    this.changedBox = h('p', { class: 'notice notice-info small', hidden: true });
    this.pager = h('nav', { class: 'pager', 'aria-label': 'Key pages' });
    this.detail = h('section', { class: 'panel detail-panel', id: 'detail', 'aria-label': 'Key' });
    this.liveList = h('ol', { class: 'live-list', id: 'live-list', 'aria-label': 'Recent changes' });
    this.liveStatus = h('p', { class: 'live-status', id: 'live-status', 'data-state': 'connecting' });
    fill(this.main,
      h('div', { class: 'bucket-head' },
        h('div', {},
          h('h1', { id: 'bucket-title' }, i.name),
          i.description ? h('p', { class: 'muted' }, i.description) : null),
        this.stats),
      h('div', { class: 'bucket-grid' },
        h('section', { class: 'panel keys-panel', 'aria-labelledby': 'keys-title' },
          h('div', { class: 'panel-head' },
            h('h2', { id: 'keys-title' }, 'Keys'),
            h('button', { type: 'button', class: 'btn btn-primary btn-small', id: 'new-key', onclick: () => this.router.go(this.href({ key: '' })) }, 'New key')),
          h('form', { class: 'filter-form', role: 'search', onsubmit: (e) => { e.preventDefault(); this.applyFilter(); } },
            h('label', { for: 'key-filter' }, 'Filter'),
            h('div', { class: 'inline' }, this.filterInput, h('button', { type: 'submit', class: 'btn', id: 'apply-filter' }, 'Apply')),
            h('p', { class: 'hint', id: 'filter-hint' }, h('code', {}, '*'), ' matches one token, ', h('code', {}, '>'), ' the rest: ', h('code', {}, 'user.*'), ', ', h('code', {}, 'orders.>'), '.'),
            this.filterError),
          this.changedBox,
          this.keyCount,
          this.keyList,
          this.pager),
        this.detail,
        h('section', { class: 'panel live-panel', 'aria-labelledby': 'live-title' },
          h('div', { class: 'panel-head' },
            h('h2', { id: 'live-title' }, 'Live'),
            h('button', { type: 'button', class: 'btn btn-quiet btn-small', onclick: () => this.live && this.live.clear() }, 'Clear')),
          this.liveStatus,
          this.liveList)));
  }

  renderStats() {
    const i = this.info;
    const stat = (label, value, title) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', { title }, value));
    fill(this.stats,
      stat('Values', formatCount(i.values), 'stored values, history and tombstones included'),
      // The server knows the live key count once it has listed the bucket.
      i.keys === undefined ? null : stat('Keys', formatCount(i.keys), 'live keys'),
      stat('Size', formatBytes(i.bytes), `${formatCount(i.bytes)} bytes`),
      stat('TTL', formatTTL(i.ttl_seconds), i.ttl_seconds ? `${i.ttl_seconds} seconds` : 'values never expire'),
      stat('History', String(i.history)),
      stat('Replicas', String(i.replicas)),
      stat('Storage', i.storage),
      stat('Created', formatTime(i.created_at), i.created_at));
  }

  // refreshStats reloads the bucket's counts, at most every half second.
  refreshStats() {
    if (this.statsTimer) return;
    this.statsTimer = setTimeout(async () => {
      this.statsTimer = 0;
      try {
        this.info = await api.getBucket(this.name);
        this.renderStats();
      } catch { /* the live panel reports a deleted bucket */ }
    }, 500);
  }

  stopLive(why) {
    if (this.live) this.live.stop();
    this.live = null;
    fill(this.liveList);
    this.liveStatus.dataset.state = 'stopped';
    fill(this.liveStatus, h('span', { class: 'dot', 'aria-hidden': 'true' }), why);
  }

  startLive() {
    if (this.live) this.live.stop();
    fill(this.liveList);
    this.live = new LiveFeed({
      bucket: this.name,
      filter: this.filter,
      list: this.liveList,
      status: this.liveStatus,
      keyHref: (key) => this.href({ key }),
      onUpdate: (f, synced) => this.onLive(f, synced),
    });
    this.live.start();
  }

  onLive(f, synced) {
    if (!synced) return;
    this.refreshStats();
    const listed = this.listed && this.listed.has(f.key);
    if ((f.operation === 'put') !== listed) {
      this.changed++;
      fill(this.changedBox,
        `${this.changed} key${this.changed === 1 ? ' was' : 's were'} added or removed since this list loaded. `,
        h('button', { type: 'button', class: 'link', onclick: () => this.loadKeys() }, 'Refresh list'));
      this.changedBox.hidden = false;
    }
    const s = this.sel;
    if (s && s.key === f.key && s.entry !== undefined && f.revision > ((s.entry && s.entry.revision) || 0) && !s.saving) {
      if (!s.editing) {
        this.select(f.key);
      } else if (this.changedNotice) {
        fill(this.changedNotice,
          `Someone else changed this key: it is now at revision ${f.revision}${f.operation === 'put' ? '' : ` (${f.operation}d)`}. Saving will fail unless you reload or overwrite.`);
        this.changedNotice.hidden = false;
      }
    }
  }

  applyFilter() {
    const f = this.filterInput.value.trim();
    if (f === this.filter) this.loadKeys();
    else this.router.go(this.href({ filter: f }));
  }

  async loadKeys() {
    let data;
    try {
      data = await api.listKeys(this.name, { filter: this.filter, after: this.after, limit: PAGE_SIZE });
    } catch (e) {
      if (e.status === 401) return;
      if (e.status === 400) {
        this.filterError.textContent = e.message;
        this.filterError.hidden = false;
        this.filterInput.setAttribute('aria-invalid', 'true');
        fill(this.keyList);
        this.keyCount.textContent = '';
        fill(this.pager);
        return false;
      }
      toast(e.message, 'error');
      return true;
    }
    this.filterError.hidden = true;
    this.filterInput.removeAttribute('aria-invalid');
    this.refreshStats();
    this.changed = 0;
    this.changedBox.hidden = true;
    const keys = data.keys || [];
    this.listed = new Set(keys);
    this.next = data.next || '';
    fill(this.keyList, keys.map((k) => h('li', {}, h('a', { href: this.href({ key: k }), 'data-key': k }, k))));
    if (keys.length === 0) this.keyList.append(h('li', { class: 'empty' }, this.filter ? 'No key matches this filter.' : 'This bucket has no keys yet.'));
    const from = this.pages.length * PAGE_SIZE;
    this.keyCount.textContent = keys.length === 0 ? ''
      : from === 0 && !this.next ? `${keys.length} key${keys.length === 1 ? '' : 's'}`
        : `Keys ${from + 1}–${from + keys.length}${this.next ? ', more follow' : ''}`;
    this.markSelected();
    const pageButton = (label, id, disabled, onclick) => h('button', { type: 'button', class: 'btn btn-small', id, disabled, onclick }, label);
    this.pager.hidden = this.pages.length === 0 && !this.next;
    fill(this.pager,
      pageButton('First', 'page-first', this.pages.length === 0, () => { this.pages = []; this.after = ''; this.loadKeys(); }),
      pageButton('Previous', 'page-prev', this.pages.length === 0, () => { this.after = this.pages.pop() || ''; this.loadKeys(); }),
      pageButton('Next', 'page-next', !this.next, () => { this.pages.push(this.after); this.after = this.next; this.loadKeys(); }));
    return true;
  }

  markSelected() {
    for (const a of this.keyList.querySelectorAll('a[data-key]')) {
      if (a.dataset.key === this.key) a.setAttribute('aria-current', 'true');
      else a.removeAttribute('aria-current');
    }
  }

  showEmpty() {
    this.sel = null;
    fill(this.detail,
      h('div', { class: 'empty-detail' },
        h('h2', {}, 'No key selected'),
        h('p', { class: 'muted' }, 'Select a key to see its value, history and editor, or create a new key.')));
  }

  // select loads and shows key; '' shows the form for a new key.
  async select(key) {
    if (key === '') return this.showNew();
    const seq = (this.seq = (this.seq || 0) + 1);
    let entry = null;
    let history = null;
    try {
      const [e, hist] = await Promise.all([
        api.getKey(this.name, key).catch((err) => {
          if (err.status === 404 && err.code === 'key_not_found') return null;
          throw err;
        }),
        this.info.history > 1 ? api.history(this.name, key).catch(() => null) : null,
      ]);
      entry = e;
      history = hist ? hist.entries || [] : null;
    } catch (e) {
      if (e.status !== 401) toast(e.message, 'error');
      return;
    }
    if (seq !== this.seq || key !== this.key) return; // the user moved on
    this.sel = { key, entry, history, editing: false };
    this.showEntry();
  }

  showEntry() {
    const focused = this.detail.contains(document.activeElement) ? document.activeElement.id : '';
    this.renderEntry();
    const el = focused && document.getElementById(focused);
    if (el && !this.sel.editing) el.focus();
  }

  renderEntry() {
    const s = this.sel;
    const title = h('h2', { class: 'key-name', id: 'entry-title' }, s.key);
    const head = h('div', { class: 'entry-head' }, title,
      h('button', { type: 'button', class: 'btn btn-quiet btn-small', id: 'reload-key', onclick: () => this.select(s.key) }, 'Reload'));
    this.changedNotice = h('p', { class: 'notice notice-warn', id: 'changed-notice', role: 'status', hidden: true });
    if (!s.entry) {
      const last = s.history && s.history[s.history.length - 1];
      fill(this.detail, head,
        h('p', { class: 'notice notice-info', id: 'entry-missing' },
          last ? `This key has no value: it was ${last.operation === 'purge' ? 'purged' : 'deleted'} at revision ${last.revision}.` : 'This key has no value.'),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-primary', id: 'recreate-key', onclick: () => this.showNew(s.key) }, 'Create it again'),
          s.history && s.history.length ? h('button', { type: 'button', class: 'btn btn-danger', id: 'purge-key', onclick: () => this.purge() }, 'Purge history') : null),
        this.historySection());
      return;
    }
    const e = s.entry;
    const bytes = base64ToBytes(e.value);
    s.bytes = bytes;
    s.decoded = decodeValue(bytes);
    const meta = (label, value, id, title) => h('div', {}, h('dt', {}, label), h('dd', { id, title }, value));
    const valueBox = h('pre', { class: `value value-${s.decoded.kind}`, id: 'entry-value', tabindex: '0', 'aria-label': 'Value' });
    if (bytes.length === 0) valueBox.append(h('span', { class: 'muted' }, '(empty value)'));
    else if (s.decoded.kind === 'json') valueBox.append(highlightJSON(s.decoded.text));
    else valueBox.textContent = s.decoded.text;
    this.editArea = h('div', { id: 'editor-area' });
    fill(this.detail, head,
      h('dl', { class: 'entry-meta' },
        meta('Revision', String(e.revision), 'entry-revision'),
        meta('Operation', e.operation, 'entry-operation'),
        meta('Written', h('time', { datetime: e.created_at }, formatTime(e.created_at)), 'entry-time', e.created_at),
        meta('Size', formatBytes(bytes.length), 'entry-size', `${formatCount(bytes.length)} bytes`),
        meta('Shown as', KIND_LABEL[s.decoded.kind], 'entry-kind')),
      this.changedNotice,
      valueBox,
      h('div', { class: 'actions', id: 'entry-actions' },
        h('button', { type: 'button', class: 'btn btn-primary', id: 'edit-key', onclick: () => this.edit() }, 'Edit'),
        h('button', { type: 'button', class: 'btn', id: 'delete-key', onclick: () => this.remove() }, 'Delete'),
        h('button', { type: 'button', class: 'btn btn-danger', id: 'purge-key', onclick: () => this.purge() }, 'Purge')),
      this.editArea,
      this.historySection());
  }

  // valueEditor returns a value field with an encoding choice; get() reads
  // its bytes or throws with a message for the user.
  valueEditor({ text, encoding, id }) {
    const area = h('textarea', { id, class: 'value-editor', rows: 10, spellcheck: 'false', value: text, 'aria-describedby': `${id}-error` });
    const enc = h('select', { id: `${id}-encoding` }, h('option', { value: 'text' }, 'Text (UTF-8)'), h('option', { value: 'hex' }, 'Hex'));
    enc.value = encoding;
    const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
    const format = h('button', {
      type: 'button', class: 'btn btn-small btn-quiet', onclick: () => {
        try { area.value = JSON.stringify(JSON.parse(area.value), null, 2); error.hidden = true; } catch (err) { fieldError(error, area, `Not JSON: ${err.message}`); }
      },
    }, 'Format JSON');
    const el = h('div', { class: 'field' },
      h('div', { class: 'label-row' },
        h('label', { for: id }, 'Value'),
        h('span', { class: 'inline small' }, h('label', { for: `${id}-encoding` }, 'as'), enc, format)),
      area, error);
    return {
      el, area, error,
      get: () => (enc.value === 'hex' ? parseHex(area.value) : new TextEncoder().encode(area.value)),
    };
  }

  edit() {
    const s = this.sel;
    s.editing = true;
    const ed = this.valueEditor({ text: s.decoded.editText, encoding: s.decoded.kind === 'binary' ? 'hex' : 'text', id: 'value-editor' });
    this.editor = ed;
    this.conflictBox = h('div', { class: 'conflict', id: 'conflict', role: 'alert', hidden: true });
    const form = h('form', {
      class: 'editor', id: 'edit-form', 'aria-label': `Edit ${s.key}`, onsubmit: (e) => { e.preventDefault(); this.save(); },
    },
    ed.el,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-key' }, 'Save'),
      h('button', { type: 'button', class: 'btn', id: 'cancel-edit', onclick: () => this.cancelEdit() }, 'Cancel'),
      h('span', { class: 'hint' }, `Saves only if the key is still at revision ${s.entry.revision}.`)),
    this.conflictBox);
    fill(this.editArea, form);
    document.getElementById('entry-actions').hidden = true;
    ed.area.focus();
  }

  cancelEdit() {
    this.sel.editing = false;
    this.showEntry();
    document.getElementById('edit-key').focus();
  }

  async save({ overwrite } = {}) {
    const s = this.sel;
    const ed = this.editor;
    ed.error.hidden = true;
    ed.area.removeAttribute('aria-invalid');
    let bytes;
    try { bytes = ed.get(); } catch (err) { fieldError(ed.error, ed.area, err.message); return; }
    const opts = overwrite ? overwrite : { ifMatch: s.entry.revision };
    s.saving = true;
    try {
      const res = await api.putKey(this.name, s.key, bytes, opts);
      toast(`Saved ${s.key} at revision ${res.revision}`);
      s.saving = false;
      await this.select(s.key);
    } catch (err) {
      s.saving = false;
      if (err.status === 412) await this.conflict();
      else if (err.status !== 401) fieldError(ed.error, ed.area, err.message);
    }
  }

  // conflict tells the user that someone else changed the key since the
  // editor loaded it, shows the key as it is now, and offers to reload or
  // to overwrite it.
  async conflict() {
    const s = this.sel;
    let now = null;
    try {
      now = await api.getKey(this.name, s.key);
    } catch (e) {
      if (e.status !== 404) { toast(e.message, 'error'); return; }
    }
    let mine = null;
    try { mine = decodeValue(this.editor.get()).text; } catch { /* not valid hex: nothing to compare */ }
    if (this.changedNotice) this.changedNotice.hidden = true;
    showConflict(this.conflictBox, {
      noun: 'key',
      loaded: s.entry.revision,
      now: now && { revision: now.revision, time: now.created_at },
      current: now ? decodeValue(base64ToBytes(now.value)).text : null,
      mine,
      onReload: () => this.select(s.key),
      onOverwrite: () => this.save({ overwrite: now ? { ifMatch: now.revision } : { create: true } }),
    });
  }

  async remove() {
    const key = this.sel.key;
    const ok = await confirmDialog({
      title: `Delete “${key}”?`,
      text: this.info.history > 1
        ? 'The key will have no value. Its history is kept, so earlier values can still be read.'
        : 'The key will have no value.',
      ok: 'Delete key',
    });
    if (!ok) return;
    await this.deleteKey(key, false);
  }

  async purge() {
    const key = this.sel.key;
    const ok = await confirmDialog({
      title: `Purge “${key}”?`,
      text: 'Purging removes the key and every revision of its history. It cannot be undone.',
      ok: 'Purge key',
    });
    if (!ok) return;
    await this.deleteKey(key, true);
  }

  async deleteKey(key, purge) {
    try {
      await api.deleteKey(this.name, key, { purge });
      toast(`${purge ? 'Purged' : 'Deleted'} ${key}`);
    } catch (e) {
      if (e.status !== 401) toast(e.message, 'error');
      return;
    }
    await Promise.all([this.loadKeys(), this.select(key)]);
  }

  showNew(key = '') {
    this.sel = { key: '', entry: undefined, editing: true };
    const keyInput = h('input', { id: 'new-key-name', type: 'text', value: key, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'new-key-hint new-key-error' });
    const keyError = h('p', { class: 'field-error', id: 'new-key-error', role: 'alert', hidden: true });
    const ed = this.valueEditor({ text: '', encoding: 'text', id: 'new-key-value' });
    const formError = h('div', { class: 'notice notice-error', id: 'new-key-conflict', role: 'alert', hidden: true });
    const write = async (create) => {
      for (const [el, c] of [[keyError, keyInput], [ed.error, ed.area]]) { el.hidden = true; c.removeAttribute('aria-invalid'); }
      formError.hidden = true;
      const k = keyInput.value;
      if (k === '') { fieldError(keyError, keyInput, 'Enter a key, such as user.42 or config:theme.'); keyInput.focus(); return; }
      let bytes;
      try { bytes = ed.get(); } catch (err) { fieldError(ed.error, ed.area, err.message); return; }
      try {
        const res = await api.putKey(this.name, k, bytes, { create });
        toast(`${create ? 'Created' : 'Put'} ${k} at revision ${res.revision}`);
        this.loadKeys();
        this.router.go(this.href({ key: k }));
      } catch (err) {
        if (err.status === 401) return;
        if (err.status === 412) {
          fill(formError, `The key “${k}” already has a value, so it was not created. `,
            h('a', { href: this.href({ key: k }) }, 'Open it'), ', or use Put to overwrite it.');
          formError.hidden = false;
        } else if (err.status === 413 || /\bvalue\b/.test(err.message) && !/\bkey\b/.test(err.message)) {
          fieldError(ed.error, ed.area, err.message);
        } else {
          fieldError(keyError, keyInput, err.message);
          keyInput.focus();
        }
      }
    };
    fill(this.detail,
      h('form', { class: 'editor', id: 'new-key-form', 'aria-labelledby': 'new-key-title', onsubmit: (e) => { e.preventDefault(); write(true); } },
        h('h2', { id: 'new-key-title' }, 'New key'),
        h('div', { class: 'field' },
          h('label', { for: 'new-key-name' }, 'Key'),
          keyInput,
          h('p', { class: 'hint', id: 'new-key-hint' }, 'Tokens separated by dots, such as ', h('code', {}, 'user.42'), '. Any other character is allowed, except ', h('code', {}, '*'), ' and ', h('code', {}, '>'), '.'),
          keyError),
        ed.el,
        formError,
        h('div', { class: 'actions' },
          h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-key' }, 'Create'),
          h('button', { type: 'button', class: 'btn', id: 'put-key', onclick: () => write(false) }, 'Put'),
          h('span', { class: 'hint' }, 'Create fails if the key has a value; Put overwrites it.'))));
    keyInput.focus();
  }

  historySection() {
    const s = this.sel;
    if (this.info.history <= 1 || !s.history) return null;
    const entries = s.history;
    const texts = entries.map((e) => (e.operation === 'put' ? displayText(base64ToBytes(e.value)) : ''));
    const items = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      const diff = diffLines(i > 0 ? texts[i - 1] : '', texts[i]);
      const adds = diff ? diff.filter((d) => d.op === '+').length : 0;
      const dels = diff ? diff.filter((d) => d.op === '-').length : 0;
      items.push(h('li', { 'data-rev': String(e.revision) },
        h('details', { open: i === entries.length - 1 },
          h('summary', {},
            h('span', { class: 'rev' }, `#${e.revision}`),
            h('span', { class: `op op-${e.operation}` }, e.operation),
            h('time', { datetime: e.created_at, title: e.created_at }, formatTime(e.created_at)),
            h('span', { class: 'diffstat' }, h('span', { class: 'add' }, `+${adds}`), ' ', h('span', { class: 'del' }, `−${dels}`))),
          renderDiff(diff, i === 0))));
    }
    return h('section', { class: 'history', 'aria-labelledby': 'history-title' },
      h('h3', { id: 'history-title' }, `History (${entries.length} of up to ${this.info.history} revisions)`),
      entries.length ? h('ol', { class: 'history-list', id: 'history-list' }, items) : h('p', { class: 'muted' }, 'No revisions retained.'));
  }
}

// displayText is the text a value is compared by: pretty JSON, the text,
// or a hex dump.
function displayText(bytes) {
  return decodeValue(bytes).text;
}
