// The buckets view: every bucket the API lists, the form that creates one,
// and deletion with a confirmation.
import { api, ApiError } from './api.js';
import { h, fill, toast, confirmDialog } from './dom.js';
import { formatBytes, formatCount, formatTTL, formatTime } from './format.js';

// FIELDS are the bucket config's wire names, in the form's order.
const FIELDS = ['name', 'description', 'ttl_seconds', 'max_value_size', 'max_bytes', 'history', 'replicas', 'storage'];
const NUMERIC = new Set(['ttl_seconds', 'max_value_size', 'max_bytes', 'history', 'replicas']);

// fieldOf returns the config field an API error is about: the one its
// message names first, or null.
export function fieldOf(err) {
  if (err.code === 'bucket_exists') return 'name';
  const m = err.message || '';
  if (m.startsWith('invalid bucket name') || /\bbucket name\b/.test(m)) return 'name';
  let best = null;
  let at = Infinity;
  for (const f of FIELDS) {
    const i = m.search(new RegExp(`(^|[^A-Za-z_])${f}($|[^A-Za-z_])`));
    if (i >= 0 && i < at) { best = f; at = i; }
  }
  return best;
}

export class BucketsView {
  constructor(main, router) {
    this.main = main;
    this.router = router;
  }

  crumbs() { return [{ label: 'Buckets' }]; }

  async render() {
    this.tbody = h('tbody');
    this.empty = h('p', { class: 'empty', hidden: true }, 'No buckets yet. Create one to start storing keys.');
    this.count = h('span', { class: 'count' });
    this.form = this.createForm();
    this.toggle = h('button', {
      type: 'button', class: 'btn btn-primary', id: 'new-bucket', 'aria-expanded': 'false', 'aria-controls': 'create-bucket',
      onclick: () => this.showForm(this.form.hidden),
    }, 'New bucket');
    fill(this.main,
      h('section', { class: 'panel', 'aria-labelledby': 'buckets-title' },
        h('div', { class: 'panel-head' },
          h('h1', { id: 'buckets-title' }, 'Buckets ', this.count),
          h('div', { class: 'actions' },
            h('button', { type: 'button', class: 'btn', id: 'refresh-buckets', onclick: () => this.load() }, 'Refresh'),
            this.toggle)),
        this.form,
        this.tableWrap = h('div', { class: 'table-wrap', hidden: true },
          h('table', { class: 'buckets', id: 'bucket-table' },
            h('caption', { class: 'visually-hidden' }, 'Buckets'),
            h('thead', {}, h('tr', {},
              ['Name', 'Description', 'Values', 'Size', 'TTL', 'History', 'Replicas', 'Storage', 'Created', ''].map((c, i) =>
                h('th', { scope: 'col', class: i >= 2 && i <= 6 ? 'num' : '' }, c ? c : h('span', { class: 'visually-hidden' }, 'Actions'))))),
            this.tbody)),
        this.empty));
    await this.load();
  }

  async load() {
    let data;
    try {
      data = await api.listBuckets();
    } catch (e) {
      if (e.status !== 401) this.router.error(e);
      return;
    }
    const buckets = (data.buckets || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    this.count.textContent = `(${buckets.length})`;
    this.empty.hidden = buckets.length > 0;
    this.tableWrap.hidden = buckets.length === 0;
    fill(this.tbody, buckets.map((b) => this.row(b)));
  }

  row(b) {
    const td = (label, content, cls) => h('td', { 'data-label': label, class: cls }, content);
    return h('tr', { 'data-bucket': b.name },
      h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `#/b/${encodeURIComponent(b.name)}`, class: 'bucket-link' }, b.name)),
      td('Description', b.description || h('span', { class: 'muted' }, '—'), 'desc'),
      td('Values', formatCount(b.values), 'num'),
      td('Size', h('span', { title: `${formatCount(b.bytes)} bytes` }, formatBytes(b.bytes)), 'num'),
      td('TTL', h('span', { title: b.ttl_seconds ? `${b.ttl_seconds} seconds` : 'values never expire' }, formatTTL(b.ttl_seconds)), 'num'),
      td('History', String(b.history), 'num'),
      td('Replicas', String(b.replicas), 'num'),
      td('Storage', b.storage),
      td('Created', h('time', { datetime: b.created_at, title: b.created_at }, formatTime(b.created_at))),
      h('td', { class: 'row-actions' },
        h('button', {
          type: 'button', class: 'btn btn-danger btn-small', 'aria-label': `Delete bucket ${b.name}`,
          onclick: () => this.remove(b),
        }, 'Delete')));
  }

  async remove(b) {
    const ok = await confirmDialog({
      title: `Delete bucket “${b.name}”?`,
      text: `This deletes the bucket with its ${formatCount(b.values)} stored values and their history. It cannot be undone.`,
      ok: 'Delete bucket',
    });
    if (!ok) return;
    try {
      await api.deleteBucket(b.name);
      toast(`Deleted bucket ${b.name}`);
    } catch (e) {
      if (e.status !== 401) toast(e.message, 'error');
    }
    await this.load();
  }

  showForm(show) {
    this.form.hidden = !show;
    this.toggle.setAttribute('aria-expanded', String(show));
    if (show) this.form.querySelector('input').focus();
  }

  createForm() {
    this.inputs = {};
    this.errors = {};
    const field = (name, label, control, hint) => {
      control.id = `bucket-${name}`;
      control.name = name;
      const err = h('p', { class: 'field-error', id: `bucket-${name}-error`, hidden: true });
      const hintEl = hint ? h('p', { class: 'hint', id: `bucket-${name}-hint` }, hint) : null;
      control.setAttribute('aria-describedby', [hint ? hintEl.id : '', err.id].filter(Boolean).join(' '));
      this.inputs[name] = control;
      this.errors[name] = err;
      return h('div', { class: `field field-${name}` }, h('label', { for: control.id }, label), control, hintEl, err);
    };
    const num = (value) => h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off', value });
    const select = (options, value) => {
      const s = h('select', {}, options.map(([v, l]) => h('option', { value: v }, l)));
      s.value = value;
      return s;
    };
    this.formError = h('p', { class: 'notice notice-error', role: 'alert', hidden: true });
    return h('form', {
      id: 'create-bucket', class: 'create-bucket', hidden: true, novalidate: true, 'aria-labelledby': 'create-title',
      onsubmit: (e) => { e.preventDefault(); this.create(); },
    },
    h('h2', { id: 'create-title' }, 'New bucket'),
    this.formError,
    h('div', { class: 'form-grid' },
      field('name', 'Name', h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' }), 'Letters, digits, - and _; up to 64.'),
      field('description', 'Description', h('input', { type: 'text', autocomplete: 'off' })),
      field('ttl_seconds', 'TTL (seconds)', num('0'), '0 keeps values forever.'),
      field('history', 'History', num('1'), 'Revisions kept per key, 1 to 64.'),
      field('max_value_size', 'Max value size (bytes)', num('0'), '0 uses the server’s limit.'),
      field('max_bytes', 'Max bucket size (bytes)', num('0'), '0 is unlimited.'),
      field('replicas', 'Replicas', select([['1', '1'], ['3', '3'], ['5', '5']], '1'), 'More than 1 needs a cluster.'),
      field('storage', 'Storage', select([['', 'Server default'], ['file', 'File'], ['memory', 'Memory']], ''))),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-bucket-submit' }, 'Create bucket'),
      h('button', { type: 'button', class: 'btn', onclick: () => this.showForm(false) }, 'Cancel')));
  }

  config() {
    const cfg = {};
    for (const f of FIELDS) {
      const v = this.inputs[f].value.trim();
      if (v === '' && f !== 'name') continue;
      // Numbers go as JSON numbers when they look like one; anything else
      // goes as typed, for the server to explain what is wrong with it.
      cfg[f] = NUMERIC.has(f) && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v) ? Number(v) : v;
    }
    return cfg;
  }

  clearErrors() {
    this.formError.hidden = true;
    for (const f of FIELDS) {
      this.errors[f].hidden = true;
      this.errors[f].textContent = '';
      this.inputs[f].removeAttribute('aria-invalid');
    }
  }

  async create() {
    this.clearErrors();
    const cfg = this.config();
    const submit = this.form.querySelector('[type=submit]');
    submit.disabled = true;
    try {
      const info = await api.createBucket(cfg);
      toast(`Created bucket ${info.name}`);
      this.form.reset();
      this.showForm(false);
      this.router.go(`#/b/${encodeURIComponent(info.name)}`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 401) return;
      const f = fieldOf(e);
      if (f) {
        this.errors[f].textContent = e.message;
        this.errors[f].hidden = false;
        this.inputs[f].setAttribute('aria-invalid', 'true');
        this.inputs[f].focus();
      } else {
        this.formError.textContent = e.message;
        this.formError.hidden = false;
      }
    } finally {
      submit.disabled = false;
    }
  }
}
