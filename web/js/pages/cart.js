// The cart: change quantities, remove lines, go to checkout.

import { el, mount, loading, errorBlock, clp, banner, errorText, toast } from '../ui.js';
import { updateCartCount } from '../nav.js';

export default {
  title: 'Carrito',
  async render(ctx) {
    mount(ctx.main, el('h1', {}, 'Carrito'), loading());
    const body = el('div');
    const draw = async () => {
      const { cart } = await ctx.api.get('/cart');
      if (!ctx.isCurrent()) return;
      updateCartCount(cart.count);
      if (!cart.items.length) {
        mount(body, el('p', {}, 'Tu carrito está vacío.'), el('p', {}, el('a', { href: '/', class: 'btn btn-primary' }, 'Ver el catálogo')));
        return;
      }
      const unavailable = cart.items.some((i) => !i.available);
      const rows = cart.items.map((i) => {
        const qty = el('input', { type: 'number', min: 0, max: 100, value: String(i.quantity), name: `qty-${i.productId}`,
          id: `qty-${i.productId}`, inputmode: 'numeric', 'aria-describedby': `err-${i.productId}` });
        const err = el('p', { class: 'field-error', id: `err-${i.productId}`, hidden: true });
        const update = async () => {
          const q = Number.parseInt(qty.value, 10);
          if (!(q >= 0 && q <= 100)) {
            err.textContent = 'Elige una cantidad entre 0 y 100.'; err.hidden = false;
            qty.setAttribute('aria-invalid', 'true');
            return;
          }
          if (q === i.quantity) return;
          qty.disabled = true;
          try {
            await ctx.api.put(`/cart/items/${encodeURIComponent(i.productId)}`, { quantity: q });
            toast(q === 0 ? 'Producto quitado del carrito' : 'Cantidad actualizada');
            await draw();
          } catch (e) {
            qty.disabled = false;
            err.textContent = errorText(e); err.hidden = false;
            qty.setAttribute('aria-invalid', 'true');
          }
        };
        qty.addEventListener('change', update);
        const remove = el('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Quitar ${i.name} del carrito`,
          onclick: async (ev) => {
            ev.currentTarget.disabled = true;
            try {
              await ctx.api.del(`/cart/items/${encodeURIComponent(i.productId)}`);
              toast('Producto quitado del carrito');
              await draw();
            } catch (e) {
              ev.target.disabled = false;
              banner(errorText(e), 'error');
            }
          } }, 'Quitar');
        return el('tr', {},
          el('td', { 'data-label': 'Producto' }, el('a', { href: `/producto/${encodeURIComponent(i.productId)}` }, i.name),
            i.available ? null : el('span', { class: 'badge status-cancelled' }, 'No disponible')),
          el('td', { class: 'num', 'data-label': 'Precio' }, clp(i.price)),
          el('td', { 'data-label': 'Cantidad' }, el('label', { for: qty.id, class: 'visually-hidden' }, `Cantidad de ${i.name}`), qty, err),
          el('td', { class: 'num', 'data-label': 'Total' }, clp(i.lineTotal)),
          el('td', {}, remove));
      });
      mount(body,
        el('div', { class: 'table-wrap' }, el('table', { class: 'table table-stack' },
          el('caption', { class: 'visually-hidden' }, 'Productos en tu carrito'),
          el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Producto'), el('th', { scope: 'col', class: 'num' }, 'Precio'),
            el('th', { scope: 'col' }, 'Cantidad'), el('th', { scope: 'col', class: 'num' }, 'Total'), el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Acciones')))),
          el('tbody', {}, rows))),
        el('p', { class: 'small muted' }, 'Cambia la cantidad y sal del campo para actualizar; 0 quita el producto.'),
        el('div', { class: 'totals' },
          el('div', {}, el('span', {}, `Subtotal (${cart.count} ${cart.count === 1 ? 'unidad' : 'unidades'})`), el('span', { id: 'cart-total' }, clp(cart.total))),
          el('p', { class: 'small muted' }, 'Despacho gratis desde $50.000; si no, $3.990. Se calcula al confirmar.')),
        unavailable ? el('p', { class: 'banner banner-error', role: 'alert' }, 'Hay productos que ya no están disponibles: quítalos para poder comprar.') : null,
        el('div', { class: 'actions' },
          unavailable ? null : el('a', { href: '/compra', class: 'btn btn-primary' }, 'Ir a pagar'),
          el('a', { href: '/', class: 'btn' }, 'Seguir comprando')));
    };
    mount(ctx.main, el('h1', {}, 'Carrito'), body);
    mount(body, loading());
    try {
      await draw();
    } catch (e) {
      mount(body, errorBlock(e, ctx.refresh));
    }
  },
};
