// The dashboard's client of the ironkv HTTP API. It only uses the public
// REST and WebSocket routes, below the API paths the server put in the
// page's <meta name="ironkv-api">, <meta name="ironkv-config-api"> and
// <meta name="ironkv-secrets-api">.

const DEFAULT_API = '/api/v1/kv';
const DEFAULT_CONFIG_API = '/api/v1/config';
const DEFAULT_SECRETS_API = '/api/v1/secrets';
const KEY_STORAGE = 'ironkv.apiKey';

// ENV_HEADER names the environment of a Config or Secrets call; without it
// the server works in "default".
const ENV_HEADER = 'X-Ironflow-Environment';

// metaPath reads the API path of a meta tag, or fallback when the page was
// not served by the Handler.
function metaPath(name, fallback) {
  const meta = document.querySelector(`meta[name="${name}"]`);
  const p = meta ? meta.content : fallback;
  return p.includes('{{') ? fallback : p;
}

// baseURL is the URL of an API path, with a trailing slash, so that the
// routes below it resolve relative to it.
function baseURL(p) {
  return new URL(p.replace(/\/+$/, '') + '/', document.baseURI);
}

const base = baseURL(metaPath('ironkv-api', DEFAULT_API));

// serviceBase is the base URL of the Config or Secrets API, or null when
// the server hides that service (an empty path).
function serviceBase(name, fallback) {
  const p = metaPath(name, fallback);
  return p === '' ? null : baseURL(p);
}

const configBase = serviceBase('ironkv-config-api', DEFAULT_CONFIG_API);
const secretsBase = serviceBase('ironkv-secrets-api', DEFAULT_SECRETS_API);

// auth keeps the API key in this tab's session storage, and nowhere else.
export const auth = {
  get() {
    try { return sessionStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
  },
  set(key) { sessionStorage.setItem(KEY_STORAGE, key); },
  clear() {
    try { sessionStorage.removeItem(KEY_STORAGE); } catch { /* storage disabled */ }
  },
};

// ApiError is a non-2xx answer, with the fields of the error body.
export class ApiError extends Error {
  constructor(status, body) {
    const msg = (body && (body.message || body.error)) || `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.code = (body && body.code) || '';
    this.revision = body && body.revision;
  }
}

const seg = (s) => encodeURIComponent(s);

// apiURL resolves path below the API at from. The path '' is the API's own
// URL, without the trailing slash (GET /config lists the documents).
function apiURL(path, params, from = base) {
  const u = path === '' ? new URL(from.href.replace(/\/$/, '')) : new URL(path, from);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

// request calls a route and returns its JSON (the text, with raw), or null
// for 204; any other answer is thrown as an ApiError.
async function request(method, path, { params, body, headers, from, raw } = {}) {
  const h = new Headers(headers || {});
  const key = auth.get();
  if (key) h.set('Authorization', 'Bearer ' + key);
  let res;
  try {
    res = await fetch(apiURL(path, params, from), { method, headers: h, body, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, { message: 'cannot reach the server: ' + e.message, code: 'network' });
  }
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    const err = new ApiError(res.status, data);
    if (res.status === 401) window.dispatchEvent(new CustomEvent('ironkv:unauthorized', { detail: err }));
    throw err;
  }
  if (res.status === 204 || method === 'HEAD') return null;
  return raw ? res.text() : res.json();
}

// envHeaders are the headers of a Config or Secrets call in environment env.
function envHeaders(env, more) {
  const hd = { ...(more || {}) };
  if (env) hd[ENV_HEADER] = env;
  return hd;
}

const jsonBody = (v) => ({ body: JSON.stringify(v), headers: { 'Content-Type': 'application/json' } });

export const api = {
  listBuckets: () => request('GET', 'buckets'),
  getBucket: (b) => request('GET', `buckets/${seg(b)}`),
  createBucket: (cfg) => request('POST', 'buckets', {
    body: JSON.stringify(cfg), headers: { 'Content-Type': 'application/json' },
  }),
  deleteBucket: (b) => request('DELETE', `buckets/${seg(b)}`),
  listKeys: (b, { filter, after, limit } = {}) => request('GET', `buckets/${seg(b)}/keys`, { params: { filter, after, limit } }),
  getKey: (b, key, revision) => request('GET', `buckets/${seg(b)}/keys/${seg(key)}`, { params: { revision } }),
  history: (b, key) => request('GET', `buckets/${seg(b)}/history/${seg(key)}`),
  // putKey writes bytes (a Uint8Array). ifMatch makes it an update of that
  // revision, create a create that fails when the key has a value.
  putKey: (b, key, bytes, { ifMatch, create } = {}) => {
    const headers = { 'Content-Type': 'application/octet-stream' };
    if (ifMatch) headers['If-Match'] = String(ifMatch);
    if (create) headers['If-None-Match'] = '*';
    return request('PUT', `buckets/${seg(b)}/keys/${seg(key)}`, { body: bytes, headers });
  },
  deleteKey: (b, key, { purge } = {}) => request('DELETE', `buckets/${seg(b)}/keys/${seg(key)}`, { params: { purge: purge ? 'true' : '' } }),
};

// configApi calls the Config routes (SPEC section 9); null when the server
// hides them. Documents travel as JSON text, so that numbers keep every
// digit: get returns the answer's text, set and create send the editor's.
export const configApi = configBase && {
  list: (env) => request('GET', '', { from: configBase, headers: envHeaders(env) }),
  get: (env, name) => request('GET', seg(name), { from: configBase, headers: envHeaders(env), raw: true }),
  // set replaces a document with the JSON text data: with ifMatch only if
  // it is at that revision, with create only if it does not exist.
  set: (env, name, data, { ifMatch, create } = {}) => {
    const more = { 'Content-Type': 'application/json' };
    if (ifMatch) more['If-Match'] = String(ifMatch);
    if (create) more['If-None-Match'] = '*';
    return request('POST', seg(name), { from: configBase, body: data, headers: envHeaders(env, more) });
  },
  remove: (env, name, { ifMatch } = {}) => request('DELETE', seg(name), {
    from: configBase, headers: envHeaders(env, ifMatch ? { 'If-Match': String(ifMatch) } : {}),
  }),
};

// secretsApi calls the Secrets routes (SPEC section 10); null when the
// server hides them. No route returns a value, and none is asked for.
export const secretsApi = secretsBase && {
  list: (env) => request('GET', '', { from: secretsBase, headers: envHeaders(env) }),
  info: (env, name) => request('GET', seg(name), { from: secretsBase, headers: envHeaders(env) }),
  create: (env, { name, value, description }) => {
    const b = jsonBody({ name, value, description });
    return request('POST', '', { from: secretsBase, body: b.body, headers: envHeaders(env, b.headers) });
  },
  replace: (env, name, value) => {
    const b = jsonBody({ value });
    return request('PUT', seg(name), { from: secretsBase, body: b.body, headers: envHeaders(env, b.headers) });
  },
  describe: (env, name, description) => {
    const b = jsonBody({ description });
    return request('PATCH', seg(name), { from: secretsBase, body: b.body, headers: envHeaders(env, b.headers) });
  },
  remove: (env, name) => request('DELETE', seg(name), { from: secretsBase, headers: envHeaders(env) }),
};

// watchURL is the WebSocket URL of a bucket's watch route, with the API
// key as ?token=, since browsers cannot give a WebSocket headers.
export function watchURL(bucket, params) {
  const u = apiURL(`buckets/${seg(bucket)}/watch`, params);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const key = auth.get();
  if (key) u.searchParams.set('token', key);
  return u.toString();
}
