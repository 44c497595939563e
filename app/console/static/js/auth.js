// Sign-in: a pasted API key, or OpenID Connect's authorization-code flow with PKCE.
// The token lives in sessionStorage and travels only as the bearer: no cookies.
import { api, ApiError, dropCache, session } from './api.js';
import { h, mount } from './dom.js';
import { t } from './i18n.js';
import { problemText } from './ui.js';

const PKCE_KEY = 'rectify.pkce';
let config = { oidc: null };

export async function loadConfig() {
  const res = await fetch('/console/config.json');
  if (res.ok) config = await res.json();
  return config;
}

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function randomString(bytes = 32) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return b64url(a);
}

export async function challengeOf(verifier) {
  if (!crypto.subtle) throw new Error('OIDC sign-in needs HTTPS (or localhost)');
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

export function redirectUri() {
  return location.origin + '/console/';
}

async function discover(issuer) {
  const res = await fetch(issuer + '/.well-known/openid-configuration');
  if (!res.ok) throw new Error(`OIDC discovery failed: HTTP ${res.status}`);
  return res.json();
}

/** The provider's authorization URL for a fresh PKCE pair (the verifier stays in this tab). */
export async function authorizationUrl(oidc) {
  const meta = await discover(oidc.issuer);
  const verifier = randomString(48);
  const state = randomString(16);
  const nonce = randomString(16);
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, nonce, token_endpoint: meta.token_endpoint }));
  const url = new URL(meta.authorization_endpoint);
  const params = {
    response_type: 'code',
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: oidc.scope || 'openid',
    state,
    nonce,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** Back from the provider with ?code=: exchange it for the access token. */
export async function finishOidc() {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, '', location.pathname + location.hash);
  if (params.has('error')) throw new Error(params.get('error_description') || params.get('error'));
  if (!saved || saved.state !== params.get('state')) throw new Error('OIDC state mismatch');
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.get('code'),
    redirect_uri: redirectUri(),
    client_id: config.oidc.client_id,
    code_verifier: saved.verifier,
  });
  const res = await fetch(saved.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  if (!res.ok) throw new Error(`OIDC token exchange failed: HTTP ${res.status}`);
  session.token = (await res.json()).access_token;
  return true;
}

export async function loadMe() {
  session.me = await api('/me');
  return session.me;
}

export function signOut() {
  session.token = null;
  session.me = null;
  dropCache();
}

export function signInPage(root, onSignedIn, error) {
  const msg = h('p', { class: 'error', id: 'signin-error' }, error || '');
  const input = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', required: true, placeholder: t('api_key') });
  const form = h('form', {
    class: 'stack',
    onsubmit: async (ev) => {
      ev.preventDefault();
      session.token = input.value.trim();
      try {
        await loadMe();
        onSignedIn();
      } catch (e) {
        signOut();
        msg.textContent = e instanceof ApiError && e.status === 401 ? t('bad_key') : problemText(e);
      }
    },
  },
  h('label', { for: 'token' }, t('paste_key')), input,
  h('button', { type: 'submit', class: 'primary' }, t('sign_in')));
  const oidc = config.oidc && h('div', { class: 'stack' },
    h('p', { class: 'muted center' }, t('or')),
    h('button', {
      type: 'button', id: 'oidc-sign-in',
      onclick: async () => {
        try { location.assign(await authorizationUrl(config.oidc)); } catch (e) { msg.textContent = e.message; }
      },
    }, t('oidc_sign_in')));
  mount(root, h('div', { class: 'signin' },
    h('div', { class: 'card' }, h('h1', {}, t('app')), form, oidc, msg)));
  input.focus();
}
