// The Secrets view: the secrets of an environment with their metadata. A
// value is write-only: the page sends one when a secret is set or replaced,
// clears the field it was typed in, and never shows or asks for one (the
// API has no route for it).
import { secretsApi } from './api.js';
import { h, fill, toast, confirmDialog } from './dom.js';
import { formatTime } from './format.js';
import { clearFieldError, envPicker, fieldError } from './widgets.js';

// secretInput is a password field for a value. Password managers are asked
// not to keep what is typed in it: it is not a password of this site.
function secretInput(id, describedBy) {
  return h('input', {
    id, type: 'password', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': describedBy,
    'data-1p-ignore': true, 'data-lpignore': 'true', 'data-bwignore': true, 'data-form-type': 'other',
  });
}

// fieldFor says which field of a secret an API error is about.
function fieldFor(err) {
  const m = err.message || '';
  if (err.code === 'conflict' || err.status === 409) return 'name';
  if (/\bsecret name\b|\binvalid key\b/.test(m)) return 'name';
  if (/\bdescription\b/.test(m)) return 'description';
  if (/\bvalue\b/.test(m)) return 'value';
  if (/\benvironment\b|\bbucket name\b/.test(m)) return 'env';
  return '';
}

export class SecretsView {
  constructor(main, router, env) {
    this.main = main;
    this.router = router;
    this.env = env;
    this.secret = null; // the selected secret's name; '' for a new one
    this.sel = null;
  }

  crumbs() { return [{ label: 'Secrets' }]; }

  href({ secret = this.secret, env = this.env } = {}) {
    const q = new URLSearchParams();
    if (env !== 'default') q.set('env', env);
    if (secret !== null && secret !== undefined) q.set('secret', secret);
    const s = q.toString();
    return `#/secrets${s ? '?' + s : ''}`;
  }

  accepts(r) { return r.view === 'secrets' && r.env === this.env && this.built; }

  async render(params) {
    this.secret = params.get('secret');
    this.build();
    await Promise.all([this.loadList(), this.secret !== null ? this.select(this.secret) : this.showEmpty()]);
  }

  async update(params) {
    this.secret = params.get('secret');
    this.markSelected();
    if (this.secret === null) this.showEmpty();
    else await this.select(this.secret);
  }

  dispose() { this.disposed = true; }

  build() {
    this.built = true;
    this.picker = envPicker({ env: this.env, onChange: (env) => this.router.go(this.href({ secret: null, env })) });
    this.list = h('ul', { class: 'item-list', id: 'secret-list', 'aria-label': 'Secrets' });
    this.count = h('span', { class: 'count', id: 'secret-count' });
    this.unavailable = h('div', { class: 'notice notice-error', id: 'secrets-unavailable', role: 'alert', hidden: true });
    this.detail = h('section', { class: 'panel detail-panel', id: 'detail', 'aria-label': 'Secret' });
    fill(this.main,
      h('div', { class: 'page-head' },
        h('div', {},
          h('h1', { id: 'secrets-title' }, 'Secrets'),
          h('p', { class: 'muted' }, 'Encrypted secrets of environment ', h('strong', { id: 'secrets-env' }, this.env),
            '. Values are write-only: this page can set or replace one, never show it.')),
        this.picker.el),
      this.unavailable,
      h('div', { class: 'split-grid' },
        h('section', { class: 'panel list-panel', 'aria-labelledby': 'secret-list-title' },
          h('div', { class: 'panel-head' },
            h('h2', { id: 'secret-list-title' }, 'Secrets ', this.count),
            h('div', { class: 'actions' },
              h('button', { type: 'button', class: 'btn btn-small', id: 'refresh-secrets', onclick: () => this.loadList() }, 'Refresh'),
              h('button', { type: 'button', class: 'btn btn-primary btn-small', id: 'new-secret', onclick: () => this.router.go(this.href({ secret: '' })) }, 'New secret'))),
          this.list),
        this.detail));
  }

  // showUnavailable shows the server's 503 (no master key, for one), or
  // hides it.
  showUnavailable(err) {
    if (!err) { this.unavailable.hidden = true; return; }
    fill(this.unavailable, h('strong', {}, 'Secrets are unavailable on this server. '), err.message);
    this.unavailable.hidden = false;
  }

  async loadList() {
    let data;
    try {
      data = await secretsApi.list(this.env);
    } catch (e) {
      if (e.status === 401 || this.disposed) return;
      fill(this.list);
      this.count.textContent = '';
      if (e.status === 400) this.picker.error(e.message);
      else if (e.status === 503) {
        this.showUnavailable(e);
        this.list.append(h('li', { class: 'empty' }, 'The secrets cannot be listed.'));
      } else toast(e.message, 'error');
      return;
    }
    if (this.disposed) return;
    this.picker.clear();
    this.showUnavailable(null);
    const secrets = (Array.isArray(data) ? data : []).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.count.textContent = `(${secrets.length})`;
    fill(this.list, secrets.map((s) => h('li', {},
      h('a', { href: this.href({ secret: s.name }), 'data-name': s.name },
        h('span', { class: 'item-name' }, s.name),
        s.description ? h('span', { class: 'item-desc' }, s.description) : null,
        h('span', { class: 'item-meta' },
          h('span', { class: 'rev', title: 'Revision' }, `#${s.revision}`),
          h('span', {}, 'created ', h('time', { datetime: s.created_at, title: s.created_at }, formatTime(s.created_at))),
          h('span', {}, 'updated ', h('time', { datetime: s.updated_at, title: s.updated_at }, formatTime(s.updated_at))))))));
    if (secrets.length === 0) this.list.append(h('li', { class: 'empty' }, `No secrets in environment “${this.env}” yet.`));
    this.markSelected();
  }

  markSelected() {
    for (const a of this.list.querySelectorAll('a[data-name]')) {
      if (a.dataset.name === this.secret) a.setAttribute('aria-current', 'true');
      else a.removeAttribute('aria-current');
    }
  }

  showEmpty() {
    this.sel = null;
    fill(this.detail,
      h('div', { class: 'empty-detail' },
        h('h2', {}, 'No secret selected'),
        h('p', { class: 'muted' }, 'Select a secret to replace its value, edit its description or delete it, or set a new one.')));
  }

  async select(name) {
    if (name === '') return this.showNew();
    const seq = (this.seq = (this.seq || 0) + 1);
    let info = null;
    try {
      info = await secretsApi.info(this.env, name);
    } catch (e) {
      if (e.status === 401) return;
      if (seq !== this.seq || this.disposed) return;
      if (e.status === 404) this.showMissing(name);
      else if (e.status === 503) { this.showUnavailable(e); this.showMissing(name, e.message); }
      else this.showMissing(name, e.message);
      return;
    }
    if (seq !== this.seq || name !== this.secret || this.disposed) return;
    this.showSecret(info);
  }

  showMissing(name, why) {
    this.sel = null;
    fill(this.detail,
      h('div', { class: 'entry-head' }, h('h2', { class: 'key-name', id: 'secret-title' }, name)),
      h('p', { class: why ? 'notice notice-error' : 'notice notice-info', id: 'secret-missing' },
        why || `There is no secret named “${name}” in environment “${this.env}”.`),
      why ? null : h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-primary', id: 'recreate-secret', onclick: () => this.showNew(name) }, 'Set it')));
  }

  showSecret(info) {
    this.sel = info;
    const meta = (label, value, id, title) => h('div', {}, h('dt', {}, label), h('dd', { id, title }, value));
    const time = (iso) => h('time', { datetime: iso }, formatTime(iso));

    const value = secretInput('replace-value', 'replace-value-hint replace-value-error');
    const valueError = h('p', { class: 'field-error', id: 'replace-value-error', role: 'alert', hidden: true });
    const replace = h('form', {
      class: 'secret-form', id: 'replace-form', 'aria-labelledby': 'replace-title', novalidate: true, autocomplete: 'off',
      onsubmit: async (e) => {
        e.preventDefault();
        clearFieldError(valueError, value);
        if (value.value === '') { fieldError(valueError, value, 'Enter the new value.'); value.focus(); return; }
        const submit = replace.querySelector('[type=submit]');
        submit.disabled = true;
        try {
          const res = await secretsApi.replace(this.env, info.name, value.value);
          value.value = '';
          toast(`Replaced the value of ${info.name} (revision ${res.revision})`);
          this.loadList();
          this.showSecret(res);
          document.getElementById('replace-value').focus();
        } catch (err) {
          if (err.status === 401) return;
          if (err.status === 503) {
            value.value = '';
            this.showUnavailable(err);
          }
          fieldError(valueError, value, err.status === 404 ? `There is no secret named “${info.name}” any more: it was deleted.` : err.message);
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h3', { id: 'replace-title' }, 'Replace the value'),
    h('div', { class: 'field' },
      h('label', { for: 'replace-value' }, 'New value'),
      h('div', { class: 'inline' }, value, h('button', { type: 'submit', class: 'btn btn-primary', id: 'replace-submit' }, 'Replace')),
      h('p', { class: 'hint', id: 'replace-value-hint' }, 'Write-only: the current value is never shown, and the field is cleared once the new one is saved.'),
      valueError));

    const desc = h('input', { id: 'edit-description', type: 'text', value: info.description || '', autocomplete: 'off', 'aria-describedby': 'edit-description-error' });
    const descError = h('p', { class: 'field-error', id: 'edit-description-error', role: 'alert', hidden: true });
    const describe = h('form', {
      class: 'secret-form', id: 'description-form', 'aria-labelledby': 'description-title', novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        clearFieldError(descError, desc);
        try {
          const res = await secretsApi.describe(this.env, info.name, desc.value);
          toast(`Saved the description of ${info.name}`);
          this.loadList();
          this.showSecret(res);
          document.getElementById('edit-description').focus();
        } catch (err) {
          if (err.status === 401) return;
          if (err.status === 503) this.showUnavailable(err);
          fieldError(descError, desc, err.message);
        }
      },
    },
    h('h3', { id: 'description-title' }, 'Description'),
    h('div', { class: 'field' },
      h('label', { for: 'edit-description', class: 'visually-hidden' }, 'Description'),
      h('div', { class: 'inline' }, desc, h('button', { type: 'submit', class: 'btn', id: 'description-submit' }, 'Save')),
      descError));

    fill(this.detail,
      h('div', { class: 'entry-head' },
        h('h2', { class: 'key-name', id: 'secret-title' }, info.name),
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', id: 'reload-secret', onclick: () => this.select(info.name) }, 'Reload')),
      h('dl', { class: 'entry-meta' },
        meta('Revision', String(info.revision), 'secret-revision'),
        meta('Created', time(info.created_at), 'secret-created', info.created_at),
        meta('Updated', time(info.updated_at), 'secret-updated', info.updated_at)),
      h('p', { id: 'secret-description', class: info.description ? 'secret-desc' : 'secret-desc muted' }, info.description || 'No description.'),
      h('p', { class: 'value-placeholder', id: 'secret-value' },
        h('span', { class: 'dots', 'aria-hidden': 'true' }, '••••••••'),
        h('span', { class: 'muted small' }, 'The value is encrypted on the server and never shown here.')),
      replace,
      describe,
      h('div', { class: 'actions danger-zone' },
        h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-secret', onclick: () => this.remove(info) }, 'Delete secret')));
  }

  async remove(info) {
    const ok = await confirmDialog({
      title: `Delete secret “${info.name}”?`,
      text: `Its value is destroyed and cannot be recovered; applications that read it in environment “${this.env}” will not find it.`,
      ok: 'Delete secret',
    });
    if (!ok) return;
    try {
      await secretsApi.remove(this.env, info.name);
    } catch (e) {
      if (e.status === 401) return;
      if (e.status === 503) this.showUnavailable(e);
      toast(e.message, 'error');
      return;
    }
    toast(`Deleted secret ${info.name}`);
    this.loadList();
    this.router.go(this.href({ secret: null }));
  }

  showNew(name = '') {
    this.sel = null;
    const fields = {};
    const errors = {};
    const field = (key, label, control, hint) => {
      const err = h('p', { class: 'field-error', id: `${control.id}-error`, role: 'alert', hidden: true });
      const hintEl = hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
      control.setAttribute('aria-describedby', [hintEl ? hintEl.id : '', err.id].filter(Boolean).join(' '));
      fields[key] = control;
      errors[key] = err;
      return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl, err);
    };
    const nameInput = h('input', { id: 'new-secret-name', type: 'text', value: name, autocomplete: 'off', spellcheck: 'false' });
    const valueInput = secretInput('new-secret-value', '');
    const descInput = h('input', { id: 'new-secret-description', type: 'text', autocomplete: 'off' });
    const formError = h('div', { class: 'notice notice-error', id: 'new-secret-error', role: 'alert', hidden: true });
    const form = h('form', {
      class: 'editor', id: 'new-secret-form', 'aria-labelledby': 'new-secret-title', novalidate: true, autocomplete: 'off',
      onsubmit: async (e) => {
        e.preventDefault();
        for (const k of Object.keys(fields)) clearFieldError(errors[k], fields[k]);
        formError.hidden = true;
        const n = nameInput.value.trim();
        if (n === '') { fieldError(errors.name, nameInput, 'Enter a name, such as STRIPE_API_KEY or db.password.'); nameInput.focus(); return; }
        if (valueInput.value === '') { fieldError(errors.value, valueInput, 'Enter the value.'); valueInput.focus(); return; }
        const submit = form.querySelector('[type=submit]');
        submit.disabled = true;
        try {
          const res = await secretsApi.create(this.env, { name: n, value: valueInput.value, description: descInput.value });
          valueInput.value = '';
          form.reset();
          toast(`Set secret ${res.name}`);
          this.loadList();
          this.router.go(this.href({ secret: res.name }));
        } catch (err) {
          if (err.status === 401) return;
          if (err.status === 409) {
            fill(formError, `A secret named “${n}” already exists, so nothing was changed. `,
              h('a', { href: this.href({ secret: n }) }, 'Open it'), ' to replace its value.');
            formError.hidden = false;
            return;
          }
          if (err.status === 503) {
            // No master key: no value can be stored, so none is kept.
            valueInput.value = '';
            this.showUnavailable(err);
          }
          const f = err.status === 503 ? '' : fieldFor(err);
          if (f === 'env') this.picker.error(err.message);
          else if (f) { fieldError(errors[f], fields[f], err.message); fields[f].focus(); }
          else { formError.textContent = err.message; formError.hidden = false; }
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h2', { id: 'new-secret-title' }, 'New secret'),
    field('name', 'Name', nameInput, ['Letters, digits, ', h('code', {}, '_'), ', ', h('code', {}, '-'), ' and ', h('code', {}, '.'), ', such as ', h('code', {}, 'STRIPE_API_KEY'), '.']),
    field('value', 'Value', valueInput, 'Write-only: encrypted on the server, and never shown again.'),
    field('description', 'Description (optional)', descInput),
    formError,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-secret' }, 'Set secret'),
      h('span', { class: 'hint' }, 'Fails if a secret of this name exists.')));
    fill(this.detail, form);
    (name ? valueInput : nameInput).focus();
  }
}
