// The public JSON API, with the bearer from sessionStorage. Nothing private.

const API = '/api/v1';
const TOKEN_KEY = 'rectify.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(v) {
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  me: null,
  lang: 'zh',
};

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export async function api(path, { method = 'GET', body, form, headers = {}, raw = false, key } = {}) {
  const h = { Accept: 'application/json', 'Accept-Language': session.lang, ...headers };
  if (key) h['Idempotency-Key'] = key;  // a POST that creates: a repeat of it creates nothing
  if (session.token) h.Authorization = 'Bearer ' + session.token;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(API + path, { method, headers: h, body: payload });
  if (!res.ok) {
    let problem = {};
    try { problem = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, problem);
  }
  if (raw) return res;
  if (res.status === 204 || res.status === 202) return null;
  return res.json();
}

/** An endpoint of the contract this deployment does not serve (yet): 404 or 405. */
export function unavailable(err) {
  return err instanceof ApiError && (err.status === 404 || err.status === 405);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

/** Every page of a keyset list, up to ``max`` rows. */
export async function all(path, params = {}, max = 2000) {
  const rows = [];
  let cursor = null;
  do {
    const page = await api(path + query({ ...params, limit: 500, cursor }));
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && rows.length < max);
  return rows;
}

let cache = {};
/** Rarely changing reference data (workflows, units), fetched once per sign-in. */
export async function cached(path) {
  if (!cache[path]) cache[path] = api(path).catch((e) => { delete cache[path]; throw e; });
  return cache[path];
}
export function dropCache() { cache = {}; }
