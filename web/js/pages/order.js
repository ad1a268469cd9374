// One order: lines, totals, address, payment, and its status history; cancel while allowed.

import { el, mount, loading, clp, fmtDate, fmtDateTime, statusBadge, ORDER_STATUS, PAYMENT_METHOD,
  busy, banner, errorText, toast } from '../ui.js';

const REASONS = {
  OUT_OF_STOCK: 'No había stock suficiente para todos los productos.',
  CUSTOMER: 'Lo cancelaste tú.',
  ADMIN: 'Lo canceló la tienda.',
  INTERRUPTED: 'No se pudo completar.',
};

export default {
  title: 'Pedido',
  async render(ctx) {
    mount(ctx.main, loading());
    let order;
    try {
      order = (await ctx.api.get(`/orders/${encodeURIComponent(ctx.params.id)}`)).order;
    } catch (e) {
      if (e.status === 404 || e.status === 400) {
        mount(ctx.main, el('h1', {}, 'Pedido no encontrado'), el('p', {}, el('a', { href: '/pedidos' }, 'Ver mis pedidos')));
        return;
      }
      throw e;
    }
    if (!ctx.isCurrent()) return;
    ctx.setTitle(`Pedido ${order.number}`);
    const a = order.shippingAddress || {};
    const cancellable = order.status === 'pending' || order.status === 'confirmed';
    const cancel = cancellable ? el('button', { type: 'button', class: 'btn btn-danger',
      onclick: async (ev) => {
        const b = ev.currentTarget;
        if (b.dataset.confirm !== '1') {
          b.dataset.confirm = '1';
          b.textContent = '¿Seguro? Pulsa otra vez para cancelar';
          return;
        }
        await busy(b, async () => {
          try {
            await ctx.api.post(`/orders/${order.id}/cancel`, {});
            toast('Pedido cancelado');
            ctx.refresh();
          } catch (e) {
            banner(errorText(e), 'error');
          }
        });
      } }, 'Cancelar pedido') : null;
    mount(ctx.main,
      el('p', { class: 'small' }, el('a', { href: '/pedidos' }, '← Mis pedidos')),
      el('h1', {}, `Pedido ${order.number}`),
      el('p', {}, 'Estado: ', statusBadge(order.status), order.status === 'cancelled' && order.reason ? ` — ${REASONS[order.reason] || ''}` : ''),
      el('div', { class: 'table-wrap' }, el('table', { class: 'table table-stack' },
        el('caption', { class: 'visually-hidden' }, 'Productos del pedido'),
        el('thead', {}, el('tr', {}, ['Producto', 'Precio', 'Cantidad', 'Total'].map((h, i) => el('th', { scope: 'col', class: i ? 'num' : null }, h)))),
        el('tbody', {}, order.items.map((i) => el('tr', {},
          el('td', { 'data-label': 'Producto' }, el('a', { href: `/producto/${encodeURIComponent(i.productId)}` }, i.name)),
          el('td', { class: 'num', 'data-label': 'Precio' }, clp(i.price)),
          el('td', { class: 'num', 'data-label': 'Cantidad' }, String(i.quantity)),
          el('td', { class: 'num', 'data-label': 'Total' }, clp(i.lineTotal))))))),
      el('div', { class: 'totals' },
        el('div', {}, el('span', {}, 'Subtotal'), el('span', {}, clp(order.subtotal))),
        el('div', {}, el('span', {}, 'Despacho'), el('span', {}, order.shipping ? clp(order.shipping) : 'Gratis')),
        el('div', { class: 'grand' }, el('span', {}, 'Total'), el('span', {}, clp(order.total)))),
      el('section', { class: 'panel' },
        el('h2', {}, 'Despacho y pago'),
        el('p', {}, [a.recipient, a.street, a.city, a.region, a.postalCode].filter(Boolean).join(', '), a.phone ? ` · ${a.phone}` : ''),
        order.deliveryDate ? el('p', {}, `Entrega: ${fmtDate(order.deliveryDate)}`) : null,
        el('p', {}, `Pago: ${PAYMENT_METHOD[order.paymentMethod] || order.paymentMethod}`),
        order.notes ? el('p', {}, `Notas: ${order.notes}`) : null),
      el('section', { 'aria-labelledby': 'hist-h' },
        el('h2', { id: 'hist-h' }, 'Historial'),
        el('ol', { class: 'timeline' }, (order.statusHistory || []).map((h) => el('li', {},
          el('strong', {}, ORDER_STATUS[h.status] || h.status), ' · ', fmtDateTime(h.at))))),
      cancel ? el('div', { class: 'actions' }, cancel) : null);
  },
};
