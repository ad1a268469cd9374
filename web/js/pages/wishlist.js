// Favourites: current price and availability; move to the cart or remove.

import { el, mount, loading, clp, busy, banner, errorText, toast } from '../ui.js';
import { updateCartCount } from '../nav.js';

export default {
  title: 'Favoritos',
  async render(ctx) {
    mount(ctx.main, el('h1', {}, 'Favoritos'), loading());
    const { wishlist } = await ctx.api.get('/wishlist');
    if (!ctx.isCurrent()) return;
    if (!wishlist.items.length) {
      mount(ctx.main, el('h1', {}, 'Favoritos'), el('p', {}, 'No tienes productos guardados.'),
        el('p', {}, el('a', { href: '/', class: 'btn btn-primary' }, 'Ver el catálogo')));
      return;
    }
    const act = (fn, done) => async (ev) => {
      await busy(ev.currentTarget, async () => {
        try { await fn(); toast(done); ctx.refresh(); } catch (e) { banner(errorText(e), 'error'); }
      });
    };
    mount(ctx.main, el('h1', {}, 'Favoritos'),
      el('ul', { class: 'stack', 'aria-label': 'Productos guardados' }, wishlist.items.map((i) => el('li', { class: 'panel' },
        el('h2', {}, el('a', { href: `/producto/${encodeURIComponent(i.productId)}` }, i.name)),
        el('p', { class: 'price' }, clp(i.price), i.available ? '' : ' · No disponible'),
        el('div', { class: 'actions' },
          i.available ? el('button', { type: 'button', class: 'btn btn-primary', 'aria-label': `Mover ${i.name} al carrito`,
            onclick: act(async () => { await ctx.api.post(`/wishlist/items/${encodeURIComponent(i.productId)}/move-to-cart`, {}); updateCartCount(); }, 'Movido al carrito') }, 'Mover al carrito') : null,
          el('button', { type: 'button', class: 'btn btn-danger', 'aria-label': `Quitar ${i.name} de favoritos`,
            onclick: act(() => ctx.api.del(`/wishlist/items/${encodeURIComponent(i.productId)}`), 'Quitado de favoritos') }, 'Quitar'))))));
  },
};
