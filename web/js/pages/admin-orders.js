// admin-orders.js: /admin/pedidos — every order, newest first, filtered by status; the next
// step of each order (confirm, prepare, ship, deliver) is one button away, the rest (cancel,
// the items, the address) is on the order's page.
//   ?estado=<status>   pending, confirmed, preparing, shipped, delivered, cancelled
//   ?pagina=<n>        page (20 a page)

import { el, mount, loading, errorBlock, errorText, clp, fmtDate, fmtDateTime, statusBadge, toast, busy } from '../ui.js';
import { adminHeader, pager, pageParam, hrefWith, ORDER_STATUS, NEXT_STATUS, NEXT_LABEL, inlineMessage } from './admin-common.js';

const LIMIT = 20;

function statusFilter(current) {
  const items = [['', 'Todos'], ...Object.entries(ORDER_STATUS)];
  return el('nav', { class: 'actions', 'aria-label': 'Filtrar por estado' },
    items.map(([s, text]) => el('a', { href: hrefWith('/admin/pedidos', { estado: s }),
      class: s === current ? 'btn btn-small btn-primary' : 'btn btn-small',
      'aria-current': s === current ? 'page' : null }, text)));
}

function nextCell(ctx, o) {
  const next = NEXT_STATUS[o.status];
  if (!next) return '—';
  const msg = inlineMessage();
  const b = el('button', { type: 'button', class: 'btn btn-small', 'aria-label': `${NEXT_LABEL[next]}: ${o.number}` },
    NEXT_LABEL[next]);
  b.addEventListener('click', async () => {
    msg.clear();
    await busy(b, async () => {
      try {
        await ctx.api.patch(`/orders/${o.id}/status`, { status: next });
        toast(`Pedido ${o.number}: ${ORDER_STATUS[next]}.`);
        ctx.refresh();
      } catch (e) {
        msg.show(e.code === 'INVALID_TRANSITION'
          ? 'El pedido ya cambió de estado. Recarga la lista para ver su estado actual.' : errorText(e));
      }
    });
  });
  return [b, msg.node];
}

export default {
  title: 'Pedidos (administración)',
  async render(ctx) {
    let status = ctx.query.get('estado') || '';
    if (!(status in ORDER_STATUS)) status = '';
    const page = pageParam(ctx);
    const heading = status ? `Pedidos: ${ORDER_STATUS[status].toLowerCase()}` : 'Pedidos';
    const header = () => [adminHeader(heading, '/admin/pedidos'), statusFilter(status)];
    mount(ctx.main, header(), loading());
    let data;
    try {
      data = await ctx.api.get('/orders/all', { status: status || null, page, limit: LIMIT });
    } catch (e) {
      if (ctx.isCurrent()) mount(ctx.main, header(), errorBlock(e, ctx.refresh));
      return;
    }
    if (!ctx.isCurrent()) return;
    const orders = data.orders || [];
    const total = data.pagination ? data.pagination.total : orders.length;
    mount(ctx.main, header(),
      el('p', { class: 'muted', role: 'status' }, `${total} ${total === 1 ? 'pedido' : 'pedidos'}.`),
      orders.length
        ? el('div', { class: 'table-wrap' },
          el('table', { class: 'table table-stack' },
            el('caption', { class: 'visually-hidden' }, heading),
            el('thead', {}, el('tr', {}, ['Pedido', 'Fecha', 'Cliente', 'Entrega', 'Total', 'Estado', 'Siguiente paso']
              .map((h) => el('th', { scope: 'col', class: h === 'Total' ? 'num' : null }, h)))),
            el('tbody', {}, orders.map((o) => el('tr', { dataset: { id: o.id, number: o.number } },
              el('td', { 'data-label': 'Pedido' }, el('a', { href: `/admin/pedidos/${o.id}` }, o.number)),
              el('td', { 'data-label': 'Fecha' }, fmtDateTime(o.createdAt)),
              el('td', { 'data-label': 'Cliente' },
                el('a', { href: `/admin/usuarios/${o.userId}` }, `Cuenta ${o.userId}`),
                o.shippingAddress && o.shippingAddress.recipient
                  ? [el('br'), el('span', { class: 'muted small' }, `Para: ${o.shippingAddress.recipient}`)] : null),
              el('td', { 'data-label': 'Entrega' }, o.deliveryDate ? fmtDate(o.deliveryDate) : '—'),
              el('td', { 'data-label': 'Total', class: 'num' }, clp(o.total)),
              el('td', { 'data-label': 'Estado' }, statusBadge(o.status)),
              el('td', { 'data-label': 'Siguiente paso' }, nextCell(ctx, o)))))))
        : el('p', {}, status ? `No hay pedidos en estado «${ORDER_STATUS[status]}».` : 'Todavía no hay pedidos.'),
      pager(data.pagination, (n) => hrefWith('/admin/pedidos', { estado: status, pagina: n })));
  },
};
