// A product: images, details, price and stock, add to cart / favourites, reviews (and writing
// one, for a signed-in customer; a delivered order makes it a verified purchase).

import { el, mount, loading, errorBlock, clp, productImage, field, formError, formValues, showError,
  busy, clearErrors, stars, fmtDate, pagination, toast, fieldError } from '../ui.js';
import { addToCart, addToWishlist } from '../shop.js';

function gallery(p) {
  const images = p.images && p.images.length ? p.images : [null];
  const main = productImage(images[0], p.name, { class: 'gallery-main', loading: 'eager', width: 600, height: 600 });
  const thumbs = images.length > 1 ? el('div', { class: 'thumbs', role: 'group', 'aria-label': 'Imágenes' },
    images.map((src, i) => el('button', { type: 'button', 'aria-pressed': i === 0 ? 'true' : 'false',
      'aria-label': `Ver imagen ${i + 1} de ${images.length}`,
      onclick: (ev) => {
        main.src = src;
        for (const b of ev.currentTarget.parentNode.children) b.setAttribute('aria-pressed', 'false');
        ev.currentTarget.setAttribute('aria-pressed', 'true');
      } }, productImage(src, '', { width: 72, height: 72 })))) : null;
  return el('div', { class: 'gallery' }, main, thumbs);
}

function details(p) {
  const rows = [
    ['Tamaño', p.size],
    ['Tiempo de entrega', p.delivery_time],
    ['Flores', (p.flowers || []).join(', ')],
    ['Colores', (p.colors || []).join(', ')],
    ['Cuidados', p.care_instructions],
  ].filter(([, v]) => v);
  return el('dl', { class: 'details' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

async function reviewsSection(ctx, productId) {
  const section = el('section', { 'aria-labelledby': 'reviews-h' }, el('h2', { id: 'reviews-h' }, 'Opiniones'), loading());
  const page = Math.max(1, Number.parseInt(ctx.query.get('opiniones'), 10) || 1);
  const draw = async () => {
    let data;
    try {
      data = await ctx.api.get(`/reviews/product/${encodeURIComponent(productId)}`, { page, limit: 5 });
    } catch (e) {
      mount(section, el('h2', { id: 'reviews-h' }, 'Opiniones'), errorBlock(e, draw));
      return;
    }
    const s = data.summary;
    const mine = data.reviews.find((r) => r.mine);
    mount(section,
      el('h2', { id: 'reviews-h' }, 'Opiniones'),
      s.count ? el('p', {}, stars(s.average), ` ${Number(s.average).toFixed(1)} de 5 · ${s.count} ${s.count === 1 ? 'opinión' : 'opiniones'}`)
        : el('p', { class: 'muted' }, 'Todavía no hay opiniones de este producto.'),
      el('ul', { class: 'reviews' }, data.reviews.map((r) => el('li', { class: 'review' },
        el('p', {}, stars(r.rating), ' ', el('strong', {}, r.title || '')),
        el('p', {}, r.comment),
        el('p', { class: 'small muted' }, `${r.authorName || 'Cliente'} · ${fmtDate(r.createdAt)}`,
          r.verifiedPurchase ? ' · ' : '', r.verifiedPurchase ? el('span', { class: 'badge' }, 'Compra verificada') : null)))),
      pagination(data.pagination.page, data.pagination.pages, (n) => `${ctx.path}?opiniones=${n}`, 'Páginas de opiniones'),
      ctx.session.isLoggedIn() ? (mine ? el('p', { class: 'muted' }, 'Ya publicaste tu opinión sobre este producto.') : reviewForm(ctx, productId, draw))
        : el('p', {}, el('a', { href: `/ingresar?next=${encodeURIComponent(ctx.path)}` }, 'Ingresa'), ' para escribir una opinión.'));
  };
  await draw();
  return section;
}

function reviewForm(ctx, productId, redraw) {
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Publicar opinión');
  const form = el('form', { novalidate: true, 'aria-labelledby': 'review-h' },
    el('h3', { id: 'review-h' }, 'Escribe tu opinión'),
    el('p', { class: 'small muted' }, 'Si recibiste este producto en un pedido entregado, tu opinión aparecerá como compra verificada.'),
    formError(),
    field({ label: 'Calificación', name: 'rating', required: true, value: '5',
      options: [['5', '5 — Excelente'], ['4', '4 — Muy bueno'], ['3', '3 — Bueno'], ['2', '2 — Regular'], ['1', '1 — Malo']] }),
    field({ label: 'Título', name: 'title', maxlength: 120 }),
    field({ label: 'Comentario', name: 'comment', type: 'textarea', required: true, minlength: 10, maxlength: 2000,
      hint: 'Entre 10 y 2000 caracteres.' }),
    el('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const v = formValues(form);
    await busy(submit, async () => {
      try {
        await ctx.api.post(`/reviews/product/${encodeURIComponent(productId)}`,
          { rating: Number(v.rating), title: v.title, comment: v.comment });
        toast('¡Gracias por tu opinión!');
        await redraw();
      } catch (e) {
        showError(form, e);
      }
    });
  });
  return form;
}

export default {
  title: 'Producto',
  async render(ctx) {
    mount(ctx.main, loading());
    let p;
    try {
      p = (await ctx.api.get(`/products/${encodeURIComponent(ctx.params.id)}`)).product;
    } catch (e) {
      if (e.status === 404) {
        mount(ctx.main, el('h1', {}, 'Producto no encontrado'),
          el('p', {}, 'Este producto no existe o ya no está disponible.'),
          el('p', {}, el('a', { href: '/' }, 'Volver al catálogo')));
        return;
      }
      throw e;
    }
    if (!ctx.isCurrent()) return;
    ctx.setTitle(p.name);
    const inStock = p.stock > 0;
    const buy = el('form', { novalidate: true, class: 'buy' },
      formError(),
      inStock ? field({ label: 'Cantidad', name: 'quantity', type: 'number', min: 1, max: Math.min(100, p.stock), value: '1', inputmode: 'numeric' }) : null,
      el('div', { class: 'actions' },
        inStock ? el('button', { type: 'submit', class: 'btn btn-primary' }, 'Agregar al carrito') : null,
        el('button', { type: 'button', class: 'btn', onclick: () => addToWishlist(ctx, p.id) }, 'Guardar en favoritos')));
    buy.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(buy);
      const q = Number.parseInt(buy.quantity.value, 10);
      if (!(q >= 1 && q <= Math.min(100, p.stock))) {
        fieldError(buy, 'quantity', `Elige una cantidad entre 1 y ${Math.min(100, p.stock)}.`);
        buy.quantity.focus();
        return;
      }
      await busy(ev.submitter, () => addToCart(ctx, p.id, q, buy));
    });
    mount(ctx.main,
      el('p', { class: 'small' }, el('a', { href: '/' }, '← Volver al catálogo')),
      el('div', { class: 'product' },
        gallery(p),
        el('div', { class: 'stack' },
          el('h1', {}, p.name),
          el('p', { class: 'price' }, clp(p.price),
            p.original_price && p.original_price > p.price ? el('span', { class: 'price-old' }, el('span', { class: 'visually-hidden' }, 'Antes: '), clp(p.original_price)) : null),
          p.rating ? el('p', {}, stars(p.rating), ` ${Number(p.rating).toFixed(1)} (${p.reviews_count || 0} opiniones)`) : null,
          el('p', {}, p.description),
          el('p', { class: inStock ? 'small' : 'small muted' }, inStock ? `Disponible: ${p.stock} ${p.stock === 1 ? 'unidad' : 'unidades'}` : 'Sin stock por ahora'),
          buy,
          details(p))),
      await reviewsSection(ctx, p.id));
  },
};
