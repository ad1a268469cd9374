// app.js: the entry point.  A single-page app: nginx answers every non-API, non-asset path
// with index.html, and this router draws the page for location.pathname.
//
// A page module (web/js/pages/<name>.js) exports default:
//   {
//     title: 'Catálogo',                       // or title(ctx) → string
//     async render(ctx) { ... }                // draws into ctx.main; may return a cleanup fn
//   }
// ctx = { main, params, query (URLSearchParams), path, navigate(url, {replace}),
//         refresh() (draw the same route again), session, api, setTitle(text) }
// Links: any same-origin <a href="/..."> navigates without a reload (add data-reload or
// target to opt out).  After each navigation the banner is cleared and focus goes to <main>.

import { routes } from './routes.js';
import { session } from './session.js';
import { api, ApiError } from './api.js';
import { el, mount, banner, errorBlock } from './ui.js';
import { renderNav, updateCartCount, markCurrent } from './nav.js';

const main = document.getElementById('main');
let cleanup = null;
let seq = 0;

function compile(path) {
  const names = [];
  const re = path.replace(/\/:([A-Za-z]+)/g, (_, n) => { names.push(n); return '/([^/]+)'; });
  return { re: new RegExp(`^${re}/?$`), names };
}
const table = routes.map((r) => ({ ...r, ...compile(r.path) }));

function match(pathname) {
  for (const r of table) {
    const m = r.re.exec(pathname);
    if (m) {
      const params = {};
      r.names.forEach((n, i) => {
        try { params[n] = decodeURIComponent(m[i + 1]); } catch (e) { params[n] = m[i + 1]; }
      });
      return { route: r, params };
    }
  }
  return null;
}

export function navigate(url, { replace = false } = {}) {
  const u = new URL(url, location.origin);
  if (u.origin !== location.origin) { location.assign(u.href); return; }
  const target = u.pathname + u.search + u.hash;
  if (replace) history.replaceState(null, '', target);
  else history.pushState(null, '', target);
  render({ focus: true });
}

function setTitle(text) {
  document.title = text ? `${text} · Flores Victoria` : 'Flores Victoria';
}

const pageCache = new Map();
async function loadPage(name) {
  if (!pageCache.has(name)) {
    pageCache.set(name, import(`./pages/${name}.js`).then((m) => m.default));
  }
  return pageCache.get(name);
}

async function render({ focus = false } = {}) {
  const mySeq = ++seq;
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  banner(null);
  main.setAttribute('aria-busy', 'true');
  await session.ready;
  const found = match(location.pathname);
  let pageName = found ? found.route.page : 'not-found';
  const auth = found && found.route.auth;
  if (auth && !session.isLoggedIn()) {
    const next = location.pathname + location.search;
    history.replaceState(null, '', `/ingresar?next=${encodeURIComponent(next)}`);
    return render({ focus });
  }
  if (auth === 'admin' && !session.isAdmin()) pageName = 'forbidden';
  let page;
  try {
    page = await loadPage(pageName);
  } catch (e) {
    pageCache.delete(pageName);
    if (mySeq !== seq) return;
    mount(main, errorBlock({ status: 0 }, () => render()));
    main.removeAttribute('aria-busy');
    console.error('page module failed to load', pageName, e);
    return;
  }
  if (mySeq !== seq) return;
  const ctx = {
    main,
    params: found ? found.params : {},
    query: new URLSearchParams(location.search),
    path: location.pathname,
    navigate,
    refresh: () => render(),
    session,
    api,
    setTitle,
    isCurrent: () => mySeq === seq,
  };
  setTitle(typeof page.title === 'function' ? page.title(ctx) : page.title);
  markCurrent();
  mount(main);
  main.setAttribute('aria-busy', 'true');
  try {
    const c = await page.render(ctx);
    if (mySeq === seq && typeof c === 'function') cleanup = c;
  } catch (e) {
    if (mySeq === seq) {
      mount(main, errorBlock(e, () => render()));
    }
    // An API error is the page's to show (it is shown); anything else is a bug: say so.
    if (!(e instanceof ApiError)) console.error('page', pageName, 'failed:', e);
  } finally {
    if (mySeq === seq) main.removeAttribute('aria-busy');
  }
  if (focus && mySeq === seq) {
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.hasAttribute('data-reload')) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || u.pathname.startsWith('/api/')) return;
  if (u.pathname === location.pathname && u.search === location.search && u.hash) return;
  ev.preventDefault();
  navigate(u.pathname + u.search + u.hash);
});

window.addEventListener('popstate', () => render({ focus: true }));

session.onChange(() => {
  renderNav();
  updateCartCount();
  // A sign-out on another tab (or an expired session) leaves protected pages.
  const found = match(location.pathname);
  if (found && found.route.auth && !session.isLoggedIn()) render();
});

session.ready.then(() => {
  renderNav();
  updateCartCount();
  render();
});

