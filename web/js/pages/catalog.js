import { el, mount, loading, errorBlock, clp, productImage } from '../ui.js';

export default {
  title: 'Catálogo',
  async render(ctx) {
    mount(ctx.main, el('h1', {}, 'Catálogo'), loading());
    let data;
    try {
      data = await ctx.api.get('/products', { page: ctx.query.get('page') || 1, limit: 12 });
    } catch (e) {
      mount(ctx.main, el('h1', {}, 'Catálogo'), errorBlock(e, ctx.refresh));
      return;
    }
    if (!ctx.isCurrent()) return;
    mount(ctx.main, el('h1', {}, 'Catálogo'),
      el('ul', { class: 'grid' }, data.products.map((p) => el('li', { class: 'card product-card' },
        productImage(p.images && p.images[0], p.name),
        el('div', { class: 'card-body' },
          el('h3', {}, el('a', { href: `/producto/${encodeURIComponent(p.id)}` }, p.name)),
          el('p', { class: 'price' }, clp(p.price)))))));
  },
};
