// The customer's orders, newest first.

import { el, mount, loading, clp, fmtDate, statusBadge, pagination } from '../ui.js';

export default {
  title: 'Mis pedidos',
  async render(ctx) {
    mount(ctx.main, el('h1', {}, 'Mis pedidos'), loading());
    const page = Math.max(1, Number.parseInt(ctx.query.get('pagina'), 10) || 1);
    const data = await ctx.api.get('/orders', { page, limit: 10 });
    if (!ctx.isCurrent()) return;
    if (!data.orders.length) {
      mount(ctx.main, el('h1', {}, 'Mis pedidos'), el('p', {}, 'Todavía no tienes pedidos.'),
        el('p', {}, el('a', { href: '/', class: 'btn btn-primary' }, 'Ver el catálogo')));
      return;
    }
    mount(ctx.main, el('h1', {}, 'Mis pedidos'),
      el('div', { class: 'table-wrap' }, el('table', { class: 'table table-stack' },
        el('caption', { class: 'visually-hidden' }, 'Tus pedidos'),
        el('thead', {}, el('tr', {}, ['Pedido', 'Fecha', 'Estado', 'Total'].map((h, i) => el('th', { scope: 'col', class: i === 3 ? 'num' : null }, h)))),
        el('tbody', {}, data.orders.map((o) => el('tr', {},
          el('td', { 'data-label': 'Pedido' }, el('a', { href: `/pedidos/${o.id}` }, o.number)),
          el('td', { 'data-label': 'Fecha' }, fmtDate(o.createdAt)),
          el('td', { 'data-label': 'Estado' }, statusBadge(o.status)),
          el('td', { class: 'num', 'data-label': 'Total' }, clp(o.total))))))),
      pagination(data.pagination.page, data.pagination.pages, (n) => `/pedidos?pagina=${n}`));
  },
};
