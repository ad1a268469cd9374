// admin-common.js: what the staff pages (admin-*.js) share: the section links, the page
// header, paging links, a two-step confirmation button and a few labels.  Every staff route
// is registered with auth 'admin' (routes.js), so these pages are only drawn for an
// administrator; the API refuses everyone else anyway (403).

import { el, ORDER_STATUS } from '../ui.js';

export const SECTIONS = [
  ['/admin', 'Resumen'],
  ['/admin/productos', 'Productos'],
  ['/admin/pedidos', 'Pedidos'],
  ['/admin/usuarios', 'Usuarios'],
];

export const ROLE = { customer: 'Cliente', admin: 'Administrador' };

// The next step of an order's life, for an administrator (docs/openapi.yaml:
// pending → confirmed → preparing → shipped → delivered; cancelled from any status but
// delivered and cancelled).
export const NEXT_STATUS = {
  pending: 'confirmed',
  confirmed: 'preparing',
  preparing: 'shipped',
  shipped: 'delivered',
};
export const NEXT_LABEL = {
  confirmed: 'Confirmar pedido',
  preparing: 'Marcar en preparación',
  shipped: 'Marcar como enviado',
  delivered: 'Marcar como entregado',
};
export function canCancel(status) {
  return status !== 'delivered' && status !== 'cancelled';
}
export { ORDER_STATUS };

// The links between the staff sections; `current` is the path of the section shown.
export function adminNav(current) {
  return el('nav', { class: 'actions admin-nav', 'aria-label': 'Secciones de administración' },
    SECTIONS.map(([href, text]) => el('a', { href, class: href === current ? 'btn btn-small btn-primary' : 'btn btn-small',
      'aria-current': href === current ? 'page' : null }, text)));
}

// h1 + the section links (+ anything else, e.g. a "new" button).
export function adminHeader(title, current, ...extra) {
  return el('div', { class: 'admin-header' },
    adminNav(current),
    el('h1', {}, title),
    extra.length ? el('div', { class: 'actions' }, extra) : null);
}

// Paging links for data.pagination; hrefFor(page) → the address of that page.
export function pager(p, hrefFor) {
  if (!p || !p.pages || p.pages <= 1) return null;
  const pages = [];
  const from = Math.max(1, p.page - 3);
  const to = Math.min(p.pages, p.page + 3);
  for (let i = from; i <= to; i++) pages.push(i);
  return el('nav', { 'aria-label': 'Páginas' },
    el('ul', { class: 'pagination' },
      p.page > 1 ? el('li', {}, el('a', { href: hrefFor(p.page - 1), rel: 'prev' }, 'Anterior')) : null,
      pages.map((i) => el('li', {}, i === p.page
        ? el('span', { 'aria-current': 'page' }, String(i))
        : el('a', { href: hrefFor(i), 'aria-label': `Página ${i}` }, String(i)))),
      p.page < p.pages ? el('li', {}, el('a', { href: hrefFor(p.page + 1), rel: 'next' }, 'Siguiente')) : null));
}

// The page number of ?pagina= (1 when missing or not a number).
export function pageParam(ctx) {
  const n = Number.parseInt(ctx.query.get('pagina') || '1', 10);
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

// An address made of a path and the query parameters that have a value.
export function hrefWith(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

// A button that asks once more before doing something it cannot undo (no window.confirm:
// it is not styled, and a keyboard user loses their place).  The first press turns it into
// "confirmText"; a second press within 6 s runs action(button); otherwise it goes back.
// `what` (optional) names the thing in the accessible name, for buttons repeated in a list:
// "Desactivar Ramo X", then "Confirmar desactivación: Ramo X".
export function confirmButton(text, confirmText, action, attrs = {}, what = '') {
  let armed = false;
  let timer = null;
  const b = el('button', { type: 'button', class: 'btn btn-danger', ...attrs,
    'aria-label': what ? `${text} ${what}` : null }, text);
  const disarm = () => {
    armed = false;
    b.textContent = text;
    if (what) b.setAttribute('aria-label', `${text} ${what}`);
  };
  b.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmText;
      if (what) b.setAttribute('aria-label', `${confirmText}: ${what}`);
      clearTimeout(timer);
      timer = setTimeout(disarm, 6000);
      return;
    }
    clearTimeout(timer);
    disarm();
    await action(b);
  });
  return b;
}

// Splits a comma-separated (or, with lines = true, one-per-line) text into trimmed items.
export function splitList(text, lines = false) {
  return String(text || '').split(lines ? /\r?\n/ : /[,\n]/).map((s) => s.trim()).filter(Boolean);
}

// An inline message slot (for a table row): shows text with role=alert, or hides.
export function inlineMessage() {
  const p = el('p', { class: 'field-error', role: 'alert', hidden: true });
  return {
    node: p,
    show(text) { p.textContent = text; p.hidden = false; },
    clear() { p.textContent = ''; p.hidden = true; },
  };
}
