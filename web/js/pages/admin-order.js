// admin-order.js: /admin/pedidos/:id — one order as the staff sees it: items, totals, the
// delivery address and date, payment method, notes, the status history; and the status
// changes an administrator may make: the next step (pending → confirmed → preparing →
// shipped → delivered) or cancel (from any status but delivered and cancelled; the reserved
// stock goes back).  The customer sees every change on their own order page.

import { el, mount, loading, errorBlock, errorText, clp, fmtDate, fmtDateTime, statusBadge, toast, busy,
  PAYMENT_METHOD } from '../ui.js';
import { adminHeader, ORDER_STATUS, NEXT_STATUS, NEXT_LABEL, canCancel, confirmButton, inlineMessage } from './admin-common.js';

const REASON = {
  OUT_OF_STOCK: 'sin stock suficiente al crearlo',
  CUSTOMER: 'por el cliente',
  ADMIN: 'por la tienda',
  INTERRUPTED: 'por una interrupción del sistema',
};

function actions(ctx, o) {
  const msg = inlineMessage();
  const change = async (button, status) => {
    msg.clear();
    await busy(button, async () => {
      try {
        await ctx.api.patch(`/orders/${o.id}/status`, { status });
        toast(`Pedido ${o.number}: ${ORDER_STATUS[status]}.`);
        ctx.refresh();
      } catch (e) {
        msg.show(e.code === 'INVALID_TRANSITION'
          ? 'El pedido ya no admite ese cambio (quizás otra persona lo cambió). Recarga la página para ver su estado actual.'
          : errorText(e));
      }
    });
  };
  const next = NEXT_STATUS[o.status];
  const buttons = [];
  if (next) {
    buttons.push(el('button', { type: 'button', class: 'btn btn-primary',
      onclick: (ev) => change(ev.currentTarget, next) }, NEXT_LABEL[next]));
  }
  if (canCancel(o.status)) {
    buttons.push(confirmButton('Cancelar pedido', 'Confirmar cancelación', (b) => change(b, 'cancelled')));
  }
  return el('section', { class: 'panel', 'aria-labelledby': 'order-actions-h' },
    el('h2', { id: 'order-actions-h' }, 'Cambiar estado'),
    buttons.length
      ? [el('p', {}, 'Estado actual: ', statusBadge(o.status)), el('div', { class: 'actions' }, buttons), msg.node]
      : el('p', {}, `Este pedido está ${ORDER_STATUS[o.status].toLowerCase()}: ya no cambia de estado.`));
}

export default {
  title(ctx) { return `Pedido ${ctx.params.id}`; },
  async render(ctx) {
    mount(ctx.main, adminHeader('Pedido', '/admin/pedidos'), loading());
    let o;
    try {
      o = (await ctx.api.get(`/orders/${encodeURIComponent(ctx.params.id)}`)).order;
    } catch (e) {
      if (ctx.isCurrent()) mount(ctx.main, adminHeader('Pedido', '/admin/pedidos'), errorBlock(e, ctx.refresh));
      return;
    }
    if (!ctx.isCurrent()) return;
    ctx.setTitle(`Pedido ${o.number}`);
    const a = o.shippingAddress || {};
    mount(ctx.main,
      adminHeader(`Pedido ${o.number}`, '/admin/pedidos'),
      el('p', {}, statusBadge(o.status),
        o.status === 'cancelled' && REASON[o.reason] ? ` Cancelado ${REASON[o.reason]}.` : null,
        ' Creado el ', fmtDateTime(o.createdAt), ' · ',
        el('a', { href: `/admin/usuarios/${o.userId}` }, `Cuenta del cliente (${o.userId})`)),
      actions(ctx, o),
      el('section', { 'aria-labelledby': 'order-items-h' },
        el('h2', { id: 'order-items-h' }, 'Productos'),
        el('div', { class: 'table-wrap' },
          el('table', { class: 'table table-stack' },
            el('thead', {}, el('tr', {},
              el('th', { scope: 'col' }, 'Producto'), el('th', { scope: 'col', class: 'num' }, 'Precio'),
              el('th', { scope: 'col', class: 'num' }, 'Cantidad'), el('th', { scope: 'col', class: 'num' }, 'Subtotal'))),
            el('tbody', {}, (o.items || []).map((i) => el('tr', {},
              el('td', { 'data-label': 'Producto' }, el('a', { href: `/admin/productos/${encodeURIComponent(i.productId)}` }, i.name),
                ' ', el('span', { class: 'muted small' }, i.productId)),
              el('td', { 'data-label': 'Precio', class: 'num' }, clp(i.price)),
              el('td', { 'data-label': 'Cantidad', class: 'num' }, String(i.quantity)),
              el('td', { 'data-label': 'Subtotal', class: 'num' }, clp(i.lineTotal))))))),
        el('div', { class: 'totals' },
          el('div', {}, el('span', {}, 'Subtotal'), el('span', {}, clp(o.subtotal))),
          el('div', {}, el('span', {}, 'Envío'), el('span', {}, o.shipping ? clp(o.shipping) : 'Gratis')),
          el('div', { class: 'grand' }, el('span', {}, 'Total'), el('span', {}, clp(o.total))))),
      el('section', { class: 'panel', 'aria-labelledby': 'order-delivery-h' },
        el('h2', { id: 'order-delivery-h' }, 'Entrega y pago'),
        el('dl', { class: 'details' },
          el('dt', {}, 'Destinatario'), el('dd', {}, a.recipient || '—'),
          el('dt', {}, 'Dirección'), el('dd', {}, [a.street, a.city, a.region, a.postalCode].filter(Boolean).join(', ') || '—'),
          el('dt', {}, 'Teléfono'), el('dd', {}, a.phone || '—'),
          el('dt', {}, 'Fecha de entrega'), el('dd', {}, o.deliveryDate ? fmtDate(o.deliveryDate) : 'Sin fecha pedida'),
          el('dt', {}, 'Pago'), el('dd', {}, PAYMENT_METHOD[o.paymentMethod] || o.paymentMethod),
          el('dt', {}, 'Notas'), el('dd', {}, o.notes || '—'))),
      el('section', { 'aria-labelledby': 'order-history-h' },
        el('h2', { id: 'order-history-h' }, 'Historial'),
        el('ul', { class: 'timeline' }, (o.statusHistory || []).map((h) => el('li', {},
          statusBadge(h.status), ' ', fmtDateTime(h.at))))),
      el('p', {}, el('a', { href: '/admin/pedidos' }, 'Volver a pedidos')));
  },
};
