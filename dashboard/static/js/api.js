// The dashboard's client of the ironkv HTTP API. It only uses the public
// REST and WebSocket routes, below the API path the server put in the
// page's <meta name="ironkv-api">.

const DEFAULT_API = '/api/v1/kv';
const KEY_STORAGE = 'ironkv.apiKey';

function apiBase() {
  const meta = document.querySelector('meta[name="ironkv-api"]');
  let p = meta ? meta.content : DEFAULT_API;
  if (p.includes('{{')) p = DEFAULT_API; // the page was not served by the Handler
  return new URL(p.replace(/\/+$/, '') + '/', document.baseURI);
}

const base = apiBase();

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

function apiURL(path, params) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

async function request(method, path, { params, body, headers } = {}) {
  const h = new Headers(headers || {});
  const key = auth.get();
  if (key) h.set('Authorization', 'Bearer ' + key);
  let res;
  try {
    res = await fetch(apiURL(path, params), { method, headers: h, body, cache: 'no-store', credentials: 'omit' });
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
  return res.json();
}

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

// watchURL is the WebSocket URL of a bucket's watch route, with the API
// key as ?token=, since browsers cannot give a WebSocket headers.
export function watchURL(bucket, params) {
  const u = apiURL(`buckets/${seg(bucket)}/watch`, params);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const key = auth.get();
  if (key) u.searchParams.set('token', key);
  return u.toString();
}
