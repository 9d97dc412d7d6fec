// The dashboard's entry point: a router over the URL's hash, the sign-in
// box, and the header with its tabs.
import { api, auth, configApi, secretsApi } from './api.js';
import { h, fill } from './dom.js';
import { BucketsView } from './buckets.js';
import { BucketView } from './bucket.js';
import { ConfigView } from './config.js';
import { SecretsView } from './secrets.js';

const main = document.getElementById('main');
const crumbs = document.getElementById('crumbs');
const signOut = document.getElementById('sign-out');
const tabs = document.getElementById('tabs');

// parse reads "#/b/<bucket>?filter=..&key=..", "#/config?env=..&doc=..",
// "#/secrets?env=..&secret=.." or "#/". The Config and Secrets pages of a
// server that hides them are the buckets.
function parse(hash) {
  const s = hash.replace(/^#/, '') || '/';
  const q = s.indexOf('?');
  const path = q < 0 ? s : s.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : s.slice(q + 1));
  const m = /^\/b\/([^/]+)\/?$/.exec(path);
  if (m) return { view: 'bucket', bucket: decodeURIComponent(m[1]), params };
  const env = params.get('env') || 'default';
  if (/^\/config\/?$/.test(path) && configApi) return { view: 'config', env, params };
  if (/^\/secrets\/?$/.test(path) && secretsApi) return { view: 'secrets', env, params };
  return { view: 'buckets', params };
}

const TITLES = { buckets: 'Buckets', config: 'Config', secrets: 'Secrets' };

// tabOf is the tab of a view.
const tabOf = (view) => (view === 'bucket' ? 'buckets' : view);

// setTabs marks the tab of the view shown, and points the Config and
// Secrets tabs at the environment last used, so that switching between
// them keeps it.
function setTabs(current, env) {
  for (const a of tabs.querySelectorAll('a[data-tab]')) {
    const t = a.dataset.tab;
    if (t === 'config') a.hidden = !configApi;
    if (t === 'secrets') a.hidden = !secretsApi;
    if (t !== 'buckets') a.setAttribute('href', `#/${t}${env && env !== 'default' ? '?env=' + encodeURIComponent(env) : ''}`);
    if (t === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

const router = {
  view: null,
  signingIn: false,
  env: 'default', // the environment of the Config and Secrets pages

  go(hash) {
    if (location.hash === hash) this.route();
    else location.hash = hash;
  },

  async route() {
    if (this.signingIn) return;
    const r = parse(location.hash);
    signOut.hidden = !auth.get();
    if (r.env) this.env = r.env;
    tabs.hidden = false;
    setTabs(tabOf(r.view), this.env);
    if (r.view === 'bucket' && this.view instanceof BucketView && this.view.name === r.bucket && this.view.info) {
      await this.view.update(r.params);
      return;
    }
    if (this.view && this.view.accepts && this.view.accepts(r)) {
      await this.view.update(r.params);
      return;
    }
    this.dispose();
    switch (r.view) {
      case 'bucket': this.view = new BucketView(main, this, r.bucket); break;
      case 'config': this.view = new ConfigView(main, this, r.env); break;
      case 'secrets': this.view = new SecretsView(main, this, r.env); break;
      default: this.view = new BucketsView(main, this);
    }
    this.setCrumbs(this.view.crumbs());
    document.title = r.view === 'bucket' ? `${r.bucket} · ironkv`
      : r.env && r.env !== 'default' ? `${TITLES[r.view]} · ${r.env} · ironkv` : `${TITLES[r.view]} · ironkv`;
    await this.view.render(r.params);
  },

  dispose() {
    if (this.view && this.view.dispose) this.view.dispose();
    this.view = null;
  },

  // setCrumbs shows the path to the page, when it is more than its tab.
  setCrumbs(items) {
    crumbs.hidden = items.length < 2;
    fill(crumbs, h('ol', {}, items.map((c, i) => h('li', {},
      c.href ? h('a', { href: c.href }, c.label) : h('span', { 'aria-current': i === items.length - 1 ? 'page' : null }, c.label)))));
  },

  error(e, message) {
    fill(main, h('section', { class: 'panel' },
      h('h1', {}, 'Something went wrong'),
      h('p', { class: 'notice notice-error', role: 'alert' }, message || e.message),
      h('p', {}, h('a', { href: '#/' }, 'Back to the buckets'))));
  },

  // signIn replaces the page with the sign-in box.
  signIn(message) {
    this.dispose();
    this.signingIn = true;
    tabs.hidden = true;
    this.setCrumbs([{ label: 'Sign in' }]);
    document.title = 'Sign in · ironkv';
    signOut.hidden = true;
    const input = h('input', { id: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'api-key-hint api-key-error' });
    const error = h('p', { class: 'field-error', id: 'api-key-error', role: 'alert', hidden: !message }, message || '');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'sign-in' }, 'Sign in');
    const form = h('form', {
      class: 'panel sign-in', id: 'sign-in-form', 'aria-labelledby': 'sign-in-title', novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const key = input.value.trim();
        if (!key) { error.textContent = 'Enter the API key.'; error.hidden = false; input.focus(); return; }
        submit.disabled = true;
        auth.set(key);
        try {
          await api.listBuckets();
        } catch (err) {
          submit.disabled = false;
          auth.clear();
          error.textContent = err.status === 401 ? 'The server refused this API key.' : err.message;
          error.hidden = false;
          input.setAttribute('aria-invalid', 'true');
          input.focus();
          return;
        }
        this.signingIn = false;
        this.route();
      },
    },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'This server requires an API key.'),
    h('div', { class: 'field' },
      h('label', { for: 'api-key' }, 'API key'),
      input,
      h('p', { class: 'hint', id: 'api-key-hint' }, 'Kept in this browser tab only (session storage), and sent to the server as a Bearer token.'),
      error),
    h('div', { class: 'actions' }, submit));
    fill(main, form);
    input.focus();
  },
};

window.addEventListener('ironkv:unauthorized', () => {
  if (router.signingIn) return;
  const had = auth.get();
  auth.clear();
  router.signIn(had ? 'The server refused the API key of this tab; sign in again.' : '');
});

signOut.addEventListener('click', () => {
  auth.clear();
  router.signingIn = false;
  router.dispose();
  router.route();
});

window.addEventListener('hashchange', () => router.route());
router.route();
