// The Config view: the settings documents of an environment, one shown as
// pretty JSON, edited as JSON with If-Match on the revision loaded, created
// with If-None-Match: *, and deleted after a confirmation.
import { configApi } from './api.js';
import { h, fill, toast, confirmDialog } from './dom.js';
import { formatBytes, formatCount, formatTime, highlightJSON, jsonKind, prettyJSON, rawMember } from './format.js';
import { clearFieldError, envPicker, fieldError, showConflict } from './widgets.js';

const NEW_DOCUMENT = '{\n  \n}';

// checkObject returns why text is not a JSON object, or '' when it is one.
// The server checks more (a name given twice, for one); its 400 is shown
// the same way.
function checkObject(text) {
  if (text.trim() === '') return 'The document is empty: write a JSON object, such as {"theme": "dark"}.';
  let v;
  try { v = JSON.parse(text); } catch (e) { return `Not JSON: ${e.message}`; }
  const kind = jsonKind(v);
  return kind === 'object' ? '' : `A config document must be a JSON object, not ${kind === 'array' ? 'an' : 'a'} ${kind}.`;
}

// jsonArea is a JSON editor: a text area with a Format button and an error
// line.
function jsonArea({ id, text, label }) {
  const area = h('textarea', { id, class: 'value-editor', rows: 14, spellcheck: 'false', value: text, 'aria-describedby': `${id}-error` });
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
  const format = h('button', {
    type: 'button', class: 'btn btn-small btn-quiet', id: `${id}-format`, onclick: () => {
      try { area.value = prettyJSON(area.value); clearFieldError(error, area); } catch (err) { fieldError(error, area, `Not JSON: ${err.message}`); }
    },
  }, 'Format JSON');
  const el = h('div', { class: 'field' },
    h('div', { class: 'label-row' }, h('label', { for: id }, label), format),
    area, error);
  return {
    el, area,
    error: (message) => fieldError(error, area, message),
    clear: () => clearFieldError(error, area),
    // check returns the text when it is a JSON object, or shows why not.
    check: () => {
      const why = checkObject(area.value);
      if (!why) return area.value;
      fieldError(error, area, why);
      area.focus();
      return null;
    },
  };
}

export class ConfigView {
  constructor(main, router, env) {
    this.main = main;
    this.router = router;
    this.env = env;
    this.doc = null; // the selected document's name; '' for a new one
    this.sel = null; // what the detail panel shows
  }

  crumbs() { return [{ label: 'Config' }]; }

  href({ doc = this.doc, env = this.env } = {}) {
    const q = new URLSearchParams();
    if (env !== 'default') q.set('env', env);
    if (doc !== null && doc !== undefined) q.set('doc', doc);
    const s = q.toString();
    return `#/config${s ? '?' + s : ''}`;
  }

  // accepts says whether a route can be shown by this view in place.
  accepts(r) { return r.view === 'config' && r.env === this.env && this.built; }

  async render(params) {
    this.doc = params.get('doc');
    this.build();
    await Promise.all([this.loadList(), this.doc !== null ? this.select(this.doc) : this.showEmpty()]);
  }

  async update(params) {
    // The same document again (a link to the page itself) reloads it.
    const doc = params.get('doc');
    this.doc = doc;
    this.markSelected();
    if (doc === null) this.showEmpty();
    else await this.select(doc);
  }

  dispose() { this.disposed = true; }

  build() {
    this.built = true;
    this.picker = envPicker({ env: this.env, onChange: (env) => this.router.go(this.href({ doc: null, env })) });
    this.list = h('ul', { class: 'item-list', id: 'config-list', 'aria-label': 'Documents' });
    this.count = h('span', { class: 'count', id: 'config-count' });
    this.listError = h('p', { class: 'notice notice-error', id: 'config-list-error', role: 'alert', hidden: true });
    this.detail = h('section', { class: 'panel detail-panel', id: 'detail', 'aria-label': 'Document' });
    fill(this.main,
      h('div', { class: 'page-head' },
        h('div', {},
          h('h1', { id: 'config-title' }, 'Config'),
          h('p', { class: 'muted' }, 'JSON settings documents of environment ', h('strong', { id: 'config-env' }, this.env), '.')),
        this.picker.el),
      h('div', { class: 'split-grid' },
        h('section', { class: 'panel list-panel', 'aria-labelledby': 'docs-title' },
          h('div', { class: 'panel-head' },
            h('h2', { id: 'docs-title' }, 'Documents ', this.count),
            h('div', { class: 'actions' },
              h('button', { type: 'button', class: 'btn btn-small', id: 'refresh-config', onclick: () => this.loadList() }, 'Refresh'),
              h('button', { type: 'button', class: 'btn btn-primary btn-small', id: 'new-doc', onclick: () => this.router.go(this.href({ doc: '' })) }, 'New document'))),
          this.listError,
          this.list),
        this.detail));
  }

  async loadList() {
    let data;
    try {
      data = await configApi.list(this.env);
    } catch (e) {
      if (e.status === 401 || this.disposed) return;
      fill(this.list);
      this.count.textContent = '';
      if (e.status === 400) this.picker.error(e.message);
      else { this.listError.textContent = e.message; this.listError.hidden = false; }
      return;
    }
    if (this.disposed) return;
    this.picker.clear();
    this.listError.hidden = true;
    const docs = (data.configs || []).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.count.textContent = `(${docs.length})`;
    fill(this.list, docs.map((d) => h('li', {},
      h('a', { href: this.href({ doc: d.name }), 'data-name': d.name },
        h('span', { class: 'item-name' }, d.name),
        h('span', { class: 'item-meta' },
          h('span', { class: 'rev', title: 'Revision' }, `#${d.revision}`),
          h('span', {}, 'updated ', h('time', { datetime: d.updatedAt, title: d.updatedAt }, formatTime(d.updatedAt))))))));
    if (docs.length === 0) this.list.append(h('li', { class: 'empty' }, `No documents in environment “${this.env}” yet.`));
    this.markSelected();
  }

  markSelected() {
    for (const a of this.list.querySelectorAll('a[data-name]')) {
      if (a.dataset.name === this.doc) a.setAttribute('aria-current', 'true');
      else a.removeAttribute('aria-current');
    }
  }

  showEmpty() {
    this.sel = null;
    fill(this.detail,
      h('div', { class: 'empty-detail' },
        h('h2', {}, 'No document selected'),
        h('p', { class: 'muted' }, 'Select a document to see and edit it, or create a new one.')));
  }

  // fetch returns the document name as {name, revision, updatedAt, raw},
  // raw being its JSON text as the server sent it, or null when absent.
  async fetch(name) {
    let text;
    try {
      text = await configApi.get(this.env, name);
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
    const d = JSON.parse(text);
    return { name: d.name, revision: d.revision, updatedAt: d.updatedAt, raw: rawMember(text, 'data') };
  }

  // select loads and shows the document name; '' shows the new-document form.
  async select(name) {
    if (name === '') return this.showNew();
    const seq = (this.seq = (this.seq || 0) + 1);
    let doc;
    try {
      doc = await this.fetch(name);
    } catch (e) {
      if (e.status === 400) this.showMissing(name, e.message);
      else if (e.status !== 401) toast(e.message, 'error');
      return;
    }
    if (seq !== this.seq || name !== this.doc || this.disposed) return; // the user moved on
    if (!doc) { this.showMissing(name); return; }
    this.sel = { name, doc, editing: false };
    this.renderDoc();
  }

  showMissing(name, why) {
    this.sel = { name, doc: null };
    fill(this.detail,
      h('div', { class: 'entry-head' }, h('h2', { class: 'key-name', id: 'doc-title' }, name)),
      h('p', { class: why ? 'notice notice-error' : 'notice notice-info', id: 'doc-missing' },
        why || `There is no document named “${name}” in environment “${this.env}”.`),
      why ? null : h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-primary', id: 'recreate-doc', onclick: () => this.showNew(name) }, 'Create it')));
  }

  renderDoc() {
    const s = this.sel;
    const d = s.doc;
    s.pretty = prettyJSON(d.raw);
    const size = new TextEncoder().encode(d.raw).length;
    const meta = (label, value, id, title) => h('div', {}, h('dt', {}, label), h('dd', { id, title }, value));
    this.editArea = h('div', { id: 'editor-area' });
    this.notice = h('div', { class: 'notice notice-warn', id: 'doc-notice', role: 'alert', hidden: true });
    fill(this.detail,
      h('div', { class: 'entry-head' },
        h('h2', { class: 'key-name', id: 'doc-title' }, d.name),
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', id: 'reload-doc', onclick: () => this.select(d.name) }, 'Reload')),
      h('dl', { class: 'entry-meta' },
        meta('Revision', String(d.revision), 'doc-revision'),
        meta('Updated', h('time', { datetime: d.updatedAt }, formatTime(d.updatedAt)), 'doc-updated', d.updatedAt),
        meta('Size', formatBytes(size), 'doc-size', `${formatCount(size)} bytes, compact`)),
      this.notice,
      h('pre', { class: 'value value-json', id: 'doc-value', tabindex: '0', 'aria-label': 'Document' }, highlightJSON(s.pretty)),
      h('div', { class: 'actions', id: 'doc-actions' },
        h('button', { type: 'button', class: 'btn btn-primary', id: 'edit-doc', onclick: () => this.edit() }, 'Edit'),
        h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-doc', onclick: () => this.remove() }, 'Delete')),
      this.editArea);
  }

  edit() {
    const s = this.sel;
    s.editing = true;
    const ed = jsonArea({ id: 'doc-editor', text: s.pretty, label: 'Document (a JSON object)' });
    this.editor = ed;
    this.conflictBox = h('div', { class: 'conflict', id: 'conflict', role: 'alert', hidden: true });
    fill(this.editArea, h('form', {
      class: 'editor', id: 'edit-doc-form', 'aria-label': `Edit ${s.name}`, novalidate: true,
      onsubmit: (e) => { e.preventDefault(); this.save(); },
    },
    ed.el,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-doc' }, 'Save'),
      h('button', { type: 'button', class: 'btn', id: 'cancel-doc-edit', onclick: () => this.cancelEdit() }, 'Cancel'),
      h('span', { class: 'hint' }, `Saves only if the document is still at revision ${s.doc.revision}.`)),
    this.conflictBox));
    document.getElementById('doc-actions').hidden = true;
    ed.area.focus();
  }

  cancelEdit() {
    this.sel.editing = false;
    this.renderDoc();
    document.getElementById('edit-doc').focus();
  }

  // save writes the editor's text: on the revision loaded, or as overwrite
  // says after a conflict ({ifMatch} or {create}).
  async save({ overwrite } = {}) {
    const s = this.sel;
    const ed = this.editor;
    ed.clear();
    const text = ed.check();
    if (text === null) return;
    try {
      const res = await configApi.set(this.env, s.name, text, overwrite || { ifMatch: s.doc.revision });
      toast(`Saved ${s.name} at revision ${res.revision}`);
      this.loadList();
      await this.select(s.name);
    } catch (err) {
      if (err.status === 412) await this.conflict();
      else if (err.status !== 401) ed.error(err.message);
    }
  }

  // conflict says that someone else changed the document since the editor
  // loaded it, shows it as it is now, and offers to reload or overwrite it.
  async conflict() {
    const s = this.sel;
    let now;
    try {
      now = await this.fetch(s.name);
    } catch (e) {
      if (e.status !== 401) toast(e.message, 'error');
      return;
    }
    let mine = null;
    try { mine = prettyJSON(this.editor.area.value); } catch { /* not JSON: nothing to compare */ }
    showConflict(this.conflictBox, {
      noun: 'document',
      loaded: s.doc.revision,
      now: now && { revision: now.revision, time: now.updatedAt },
      current: now ? prettyJSON(now.raw) : null,
      mine,
      timeVerb: 'updated',
      onReload: () => this.select(s.name),
      onOverwrite: () => this.save({ overwrite: now ? { ifMatch: now.revision } : { create: true } }),
    });
  }

  async remove() {
    const s = this.sel;
    const ok = await confirmDialog({
      title: `Delete “${s.name}”?`,
      text: `The document is removed from environment “${this.env}”, if it is still at revision ${s.doc.revision}. Applications reading it will find no document.`,
      ok: 'Delete document',
    });
    if (!ok) return;
    try {
      await configApi.remove(this.env, s.name, { ifMatch: s.doc.revision });
    } catch (e) {
      if (e.status === 401) return;
      if (e.status === 412) {
        fill(this.notice,
          `It was not deleted: someone else changed it after you loaded revision ${s.doc.revision}. `,
          h('button', { type: 'button', class: 'link', id: 'notice-reload', onclick: () => this.select(s.name) }, 'Reload it'),
          ' to see the change.');
        this.notice.hidden = false;
      } else {
        toast(e.message, 'error');
      }
      return;
    }
    toast(`Deleted ${s.name}`);
    this.loadList();
    this.router.go(this.href({ doc: null }));
  }

  showNew(name = '') {
    this.sel = { name: '', doc: undefined, editing: true };
    const nameInput = h('input', { id: 'new-doc-name', type: 'text', value: name, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'new-doc-name-hint new-doc-name-error' });
    const nameError = h('p', { class: 'field-error', id: 'new-doc-name-error', role: 'alert', hidden: true });
    const ed = jsonArea({ id: 'new-doc-data', text: NEW_DOCUMENT, label: 'Document (a JSON object)' });
    const formError = h('div', { class: 'notice notice-error', id: 'new-doc-conflict', role: 'alert', hidden: true });
    const create = async () => {
      clearFieldError(nameError, nameInput);
      ed.clear();
      formError.hidden = true;
      const n = nameInput.value.trim();
      if (n === '') { fieldError(nameError, nameInput, 'Enter a name, such as app-settings or billing.limits.'); nameInput.focus(); return; }
      const text = ed.check();
      if (text === null) return;
      try {
        const res = await configApi.set(this.env, n, text, { create: true });
        toast(`Created ${n} at revision ${res.revision}`);
        this.loadList();
        this.router.go(this.href({ doc: n }));
      } catch (err) {
        if (err.status === 401) return;
        if (err.status === 412) {
          fill(formError, `A document named “${n}” already exists, so it was not created. `,
            h('a', { href: this.href({ doc: n }) }, 'Open it'), ' to edit it.');
          formError.hidden = false;
        } else if (/\bconfig name\b|\binvalid key\b/.test(err.message)) {
          fieldError(nameError, nameInput, err.message);
          nameInput.focus();
        } else if (/\benvironment\b|\bbucket name\b/.test(err.message)) {
          this.picker.error(err.message);
        } else {
          ed.error(err.message);
        }
      }
    };
    fill(this.detail,
      h('form', { class: 'editor', id: 'new-doc-form', 'aria-labelledby': 'new-doc-title', novalidate: true, onsubmit: (e) => { e.preventDefault(); create(); } },
        h('h2', { id: 'new-doc-title' }, 'New document'),
        h('div', { class: 'field' },
          h('label', { for: 'new-doc-name' }, 'Name'),
          nameInput,
          h('p', { class: 'hint', id: 'new-doc-name-hint' }, 'Letters, digits, ', h('code', {}, '_'), ', ', h('code', {}, '-'), ' and ', h('code', {}, '.'), ', such as ', h('code', {}, 'app-settings'), '.'),
          nameError),
        ed.el,
        formError,
        h('div', { class: 'actions' },
          h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-doc' }, 'Create'),
          h('span', { class: 'hint' }, 'Fails if a document of this name exists.'))));
    nameInput.focus();
  }
}
