// admin-products.js: /admin/productos — every product (active and inactive, newest first),
// searchable; the stock of each is changed in place; a product is deactivated (soft delete:
// it leaves the catalogue) or activated again from here.
//   ?q=<text>      search in name and description (2 characters or more)
//   ?pagina=<n>    page (20 a page)

import { el, mount, loading, errorBlock, errorText, clp, field, formValues, toast, busy } from '../ui.js';
import { adminHeader, pager, pageParam, hrefWith, confirmButton, inlineMessage } from './admin-common.js';

const LIMIT = 20;

function stockCell(ctx, p) {
  const msg = inlineMessage();
  const input = el('input', { type: 'number', name: 'stock', min: 0, max: 1000000, step: 1, required: true,
    value: String(p.stock ?? 0), 'aria-label': `Stock de ${p.name}`, inputmode: 'numeric' });
  const save = el('button', { type: 'submit', class: 'btn btn-small', 'aria-label': `Guardar stock de ${p.name}` }, 'Guardar');
  const form = el('form', { class: 'stock-form', novalidate: true },
    input, ' ', save, msg.node);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    input.removeAttribute('aria-invalid');
    const n = Number(input.value);
    if (input.value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 1000000) {
      input.setAttribute('aria-invalid', 'true');
      msg.show('Escribe un número entero entre 0 y 1.000.000.');
      input.focus();
      return;
    }
    await busy(save, async () => {
      try {
        const data = await ctx.api.patch(`/products/${encodeURIComponent(p.id)}/stock`, { stock: n });
        const stock = data && data.product ? data.product.stock : (data && data.stock !== undefined ? data.stock : n);
        input.value = String(stock);
        toast(`Stock de ${p.name}: ${stock} unidades.`);
      } catch (e) {
        input.setAttribute('aria-invalid', 'true');
        msg.show(e.fields && e.fields.stock ? e.fields.stock : errorText(e));
      }
    });
  });
  return form;
}

function activeCell(ctx, p) {
  const msg = inlineMessage();
  const setActive = async (button, active) => {
    msg.clear();
    await busy(button, async () => {
      try {
        if (active) await ctx.api.patch(`/products/${encodeURIComponent(p.id)}`, { active: true });
        else await ctx.api.del(`/products/${encodeURIComponent(p.id)}`);
        toast(active ? `${p.name} vuelve al catálogo.` : `${p.name} ya no se muestra en el catálogo.`);
        ctx.refresh();
      } catch (e) {
        msg.show(errorText(e));
      }
    });
  };
  const button = p.active
    ? confirmButton('Desactivar', 'Confirmar desactivación', (b) => setActive(b, false),
      { class: 'btn btn-small btn-danger' }, p.name)
    : el('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Activar ${p.name}`,
      onclick: (ev) => setActive(ev.currentTarget, true) }, 'Activar');
  return [button, msg.node];
}

export default {
  title: 'Productos (administración)',
  async render(ctx) {
    const q = (ctx.query.get('q') || '').trim();
    const page = pageParam(ctx);
    const header = () => adminHeader('Productos', '/admin/productos',
      el('a', { href: '/admin/productos/nuevo', class: 'btn btn-primary' }, 'Nuevo producto'));

    const search = el('form', { role: 'search', novalidate: true },
      field({ label: 'Buscar por nombre o descripción', name: 'q', type: 'search', value: q,
        hint: 'Al menos 2 letras.' }),
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn' }, 'Buscar'),
        q ? el('a', { href: '/admin/productos' }, 'Quitar búsqueda') : null));
    search.addEventListener('submit', (ev) => {
      ev.preventDefault();
      ctx.navigate(hrefWith('/admin/productos', { q: formValues(search).q }));
    });

    mount(ctx.main, header(), search, loading());
    if (q.length === 1) {
      mount(ctx.main, header(), search,
        el('p', { class: 'banner banner-error', role: 'alert' }, 'La búsqueda necesita al menos 2 letras.'));
      return;
    }
    let data;
    try {
      data = await ctx.api.get('/products', { includeInactive: true, sort: '-createdAt', search: q || null,
        page, limit: LIMIT });
    } catch (e) {
      if (ctx.isCurrent()) mount(ctx.main, header(), search, errorBlock(e, ctx.refresh));
      return;
    }
    if (!ctx.isCurrent()) return;
    const products = data.products || [];
    const total = data.pagination ? data.pagination.total : products.length;
    const rows = products.map((p) => el('tr', { dataset: { id: p.id } },
      el('td', { 'data-label': 'Código' }, el('code', {}, p.id)),
      el('td', { 'data-label': 'Nombre' }, el('a', { href: `/admin/productos/${encodeURIComponent(p.id)}` }, p.name)),
      el('td', { 'data-label': 'Categoría' }, p.category),
      el('td', { 'data-label': 'Precio', class: 'num' }, clp(p.price)),
      el('td', { 'data-label': 'Stock' }, stockCell(ctx, p)),
      el('td', { 'data-label': 'Estado' },
        el('span', { class: p.active ? 'badge status-delivered' : 'badge status-cancelled' }, p.active ? 'Activo' : 'Inactivo'),
        p.featured ? [' ', el('span', { class: 'badge badge-featured' }, 'Destacado')] : null),
      el('td', { 'data-label': 'Acciones' },
        el('div', { class: 'actions' },
          el('a', { href: `/admin/productos/${encodeURIComponent(p.id)}`, class: 'btn btn-small',
            'aria-label': `Editar ${p.name}` }, 'Editar'),
          activeCell(ctx, p)))));
    mount(ctx.main, header(), search,
      el('p', { class: 'muted', role: 'status' },
        `${total} ${total === 1 ? 'producto' : 'productos'}${q ? ` con «${q}»` : ' (activos e inactivos)'}.`),
      products.length
        ? el('div', { class: 'table-wrap' },
          el('table', { class: 'table table-stack' },
            el('caption', { class: 'visually-hidden' }, 'Productos'),
            el('thead', {}, el('tr', {}, ['Código', 'Nombre', 'Categoría', 'Precio', 'Stock', 'Estado', 'Acciones']
              .map((h) => el('th', { scope: 'col', class: h === 'Precio' ? 'num' : null }, h)))),
            el('tbody', {}, rows)))
        : el('p', {}, 'No hay productos que mostrar.'),
      pager(data.pagination, (n) => hrefWith('/admin/productos', { q, pagina: n })));
  },
};
