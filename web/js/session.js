// session.js: who is signed in, and the access token.
//
//   import { session } from '../session.js';
//   session.user            → {id, name, email, role, createdAt} or null
//   session.isLoggedIn()    session.isAdmin()
//   await session.login(email, password)   (throws ApiError)
//   await session.logout()
//   session.onChange(fn)    fn(user) after every login / logout / restore; returns an unsubscribe
//   await session.ready     resolves once the session of the page load is known
//
// Tokens: the refresh token lives only in an HttpOnly, SameSite=Strict cookie scoped to
// /api/auth (the auth service sets it when a request carries X-Flores-Client: web); this
// script never sees it.  The short-lived access token lives only in this module's memory.
// On page load the session is restored with one refresh call, made only when this browser
// has signed in before (localStorage flag "flores.session", which holds no secret), so a
// visitor never causes a 401.  Refreshes are serialised across tabs with the Web Locks API
// (one rotation at a time; each tab rotates the shared cookie in turn, so two tabs never
// present the same refresh token and trip the reuse detection).  Login and logout are
// announced to the other tabs on a BroadcastChannel.

import { api, setAuthHooks, ApiError } from './api.js';

const WEB = { 'X-Flores-Client': 'web' };
const HINT = 'flores.session';
const SKEW_MS = 30 * 1000;

let token = null;
let expiresAt = 0;
let inflight = null;
const listeners = new Set();
const channel = 'BroadcastChannel' in self ? new BroadcastChannel('flores-session') : null;

function hint(on) {
  try {
    if (on) localStorage.setItem(HINT, '1'); else localStorage.removeItem(HINT);
  } catch (e) { /* storage disabled: sessions just do not survive a reload */ }
}
function hinted() {
  try { return localStorage.getItem(HINT) === '1'; } catch (e) { return false; }
}

function emit() {
  for (const fn of listeners) {
    try { fn(session.user); } catch (e) { console.warn(e); }
  }
}

function setTokens(data) {
  token = data.token;
  expiresAt = Date.now() + (Number(data.expiresIn) || 900) * 1000;
}

function clear() {
  token = null;
  expiresAt = 0;
  session.user = null;
}

async function withLock(fn) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request('flores-refresh', fn);
  }
  return fn();
}

// One refresh in flight per tab; across tabs, one at a time.
function refresh() {
  if (!inflight) {
    inflight = withLock(async () => {
      try {
        const res = await api.request('POST', '/auth/refresh',
          { body: {}, headers: WEB, auth: false, retry: false });
        setTokens(res.data);
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          const had = session.user !== null;
          clear();
          hint(false);
          if (had) emit();
        }
        return false;
      }
    }).finally(() => { inflight = null; });
  }
  return inflight;
}

async function accessToken() {
  if (!token) return null;
  if (Date.now() > expiresAt - SKEW_MS) {
    if (!(await refresh())) return null;
  }
  return token;
}

setAuthHooks(accessToken, async () => (token ? refresh() : false));

async function loadUser() {
  const data = await api.get('/auth/me');
  session.user = data.user;
}

async function restore() {
  if (!hinted()) { clear(); return; }
  try {
    if (await refresh()) await loadUser();
  } catch (e) {
    // The API is unreachable: stay signed out for now; the page shows its own errors.
    clear();
  }
}

export const session = {
  user: null,
  ready: null,
  isLoggedIn() { return session.user !== null; },
  isAdmin() { return session.user !== null && session.user.role === 'admin'; },
  async login(email, password) {
    const res = await api.request('POST', '/auth/login',
      { body: { email, password }, headers: WEB, auth: false, retry: false });
    setTokens(res.data);
    session.user = res.data.user;
    hint(true);
    if (channel) channel.postMessage({ type: 'login' });
    emit();
    return session.user;
  },
  async logout() {
    try {
      if (await accessToken()) {
        await api.request('POST', '/auth/logout', { body: {}, headers: WEB, retry: false });
      }
    } catch (e) {
      // Signed out here whatever the server said; the cookie expires on its own.
    }
    clear();
    hint(false);
    if (channel) channel.postMessage({ type: 'logout' });
    emit();
  },
  onChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

if (channel) {
  channel.onmessage = async (ev) => {
    if (!ev.data) return;
    if (ev.data.type === 'logout') {
      clear();
      emit();
    } else if (ev.data.type === 'login' && !session.user) {
      await restore();
      emit();
    }
  };
}

session.ready = restore();
