// The catalogue: filters (category, occasion, color, price range, featured), search, sort and
// pages, all kept in the address (?categoria=&ocasion=&color=&min=&max=&destacados=1&q=&orden=&pagina=).

import { el, mount, loading, errorBlock, clp, productImage, field, pagination, stars, fieldError, clearErrors } from '../ui.js';
import { addToCart } from '../shop.js';

const LIMIT = 12;
const SORTS = [
  ['', 'Destacados primero'],
  ['price', 'Precio: menor a mayor'],
  ['-price', 'Precio: mayor a menor'],
  ['name', 'Nombre (A–Z)'],
  ['-rating', 'Mejor evaluados'],
  ['-createdAt', 'Más nuevos'],
];
const COLORS = ['rojo', 'rosa', 'blanco', 'amarillo', 'naranja', 'morado', 'azul', 'verde', 'multicolor', 'pastel', 'crema'];

let facets = null;   // categories and occasions, loaded once per page load
async function loadFacets(api) {
  if (!facets) {
    facets = Promise.all([api.get('/products/categories'), api.get('/products/occasions')])
      .then(([c, o]) => ({
        categories: c.categories.slice().sort((a, b) => a.name.localeCompare(b.name, 'es')),
        occasions: o.occasions.slice().sort((a, b) => a.name.localeCompare(b.name, 'es')),
      }))
      .catch((e) => { facets = null; throw e; });
  }
  return facets;
}

function intOrEmpty(v) {
  return /^\d{1,9}$/.test(v || '') ? v : '';
}

export function productCard(ctx, p) {
  const href = `/producto/${encodeURIComponent(p.id)}`;
  const out = p.stock !== undefined && p.stock <= 0;
  return el('li', { class: 'card product-card' },
    el('a', { href, tabindex: '-1', 'aria-hidden': 'true' }, productImage(p.images && p.images[0], '')),
    el('div', { class: 'card-body' },
      el('h3', {}, el('a', { href }, p.name)),
      p.featured ? el('span', { class: 'badge badge-featured' }, 'Destacado') : null,
      el('p', { class: 'price' }, clp(p.price),
        p.original_price && p.original_price > p.price ? el('span', { class: 'price-old' }, el('span', { class: 'visually-hidden' }, 'Antes: '), clp(p.original_price)) : null),
      p.rating ? el('p', { class: 'small' }, stars(p.rating), ` (${p.reviews_count || 0})`) : null,
      out ? el('p', { class: 'small muted' }, 'Sin stock por ahora')
        : el('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Agregar ${p.name} al carrito`,
          onclick: () => addToCart(ctx, p.id, 1) }, 'Agregar al carrito')));
}

export default {
  title: 'Catálogo',
  async render(ctx) {
    const q = ctx.query;
    const state = {
      categoria: q.get('categoria') || '',
      ocasion: q.get('ocasion') || '',
      color: q.get('color') || '',
      min: intOrEmpty(q.get('min')),
      max: intOrEmpty(q.get('max')),
      destacados: q.get('destacados') === '1',
      q: (q.get('q') || '').trim(),
      orden: SORTS.some(([v]) => v === q.get('orden')) ? q.get('orden') : '',
      pagina: Math.max(1, Number.parseInt(q.get('pagina'), 10) || 1),
    };
    const heading = el('h1', {}, state.q ? `Resultados para «${state.q}»` : 'Catálogo');
    const results = el('section', { 'aria-labelledby': 'results-h', class: 'results' },
      el('h2', { id: 'results-h', class: 'visually-hidden' }, 'Productos'), loading());
    const filters = el('aside', { class: 'filters', 'aria-label': 'Filtros' }, loading('Cargando filtros…'));
    mount(ctx.main, heading, el('div', { class: 'catalog' }, filters, results));

    const params = {
      page: state.pagina, limit: LIMIT,
      category: state.categoria, occasion: state.ocasion, color: state.color,
      minPrice: state.min, maxPrice: state.max,
      featured: state.destacados ? 'true' : '', search: state.q.length >= 2 ? state.q : '',
      sort: state.orden,
    };

    const [facetsRes, listRes] = await Promise.allSettled([loadFacets(ctx.api), ctx.api.get('/products', params)]);
    if (!ctx.isCurrent()) return;

    // Filters form (a GET form the router turns into an address).
    const f = facetsRes.status === 'fulfilled' ? facetsRes.value : { categories: [], occasions: [] };
    const form = el('form', { role: 'search', novalidate: true, class: 'wide', 'aria-label': 'Filtrar el catálogo' },
      el('div', { class: 'form-error', role: 'alert', hidden: true }),
      field({ label: 'Buscar', name: 'q', type: 'search', value: state.q, hint: 'Nombre o descripción (mínimo 2 letras)' }),
      field({ label: 'Categoría', name: 'categoria', value: state.categoria,
        options: [['', 'Todas'], ...f.categories.map((c) => [c.slug, `${c.name} (${c.count})`])] }),
      field({ label: 'Ocasión', name: 'ocasion', value: state.ocasion,
        options: [['', 'Todas'], ...f.occasions.map((o) => [o.slug, `${o.name} (${o.count})`])] }),
      field({ label: 'Color', name: 'color', value: state.color,
        options: [['', 'Todos'], ...COLORS.map((c) => [c, c[0].toUpperCase() + c.slice(1)])] }),
      el('div', { class: 'row' },
        field({ label: 'Precio mínimo', name: 'min', type: 'number', min: 0, step: 1000, value: state.min, inputmode: 'numeric' }),
        field({ label: 'Precio máximo', name: 'max', type: 'number', min: 0, step: 1000, value: state.max, inputmode: 'numeric' })),
      field({ label: 'Solo destacados', name: 'destacados', type: 'checkbox', checked: state.destacados }),
      field({ label: 'Ordenar por', name: 'orden', value: state.orden, options: SORTS }),
      el('div', { class: 'actions' },
        el('button', { type: 'submit', class: 'btn btn-primary' }, 'Aplicar'),
        el('a', { href: '/', class: 'btn' }, 'Limpiar')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const v = Object.fromEntries(new FormData(form).entries());
      const search = (v.q || '').trim();
      if (search.length === 1) { fieldError(form, 'q', 'Escribe al menos 2 letras para buscar.'); form.q.focus(); return; }
      if (v.min && v.max && Number(v.min) > Number(v.max)) {
        fieldError(form, 'max', 'El precio máximo debe ser mayor o igual al mínimo.'); form.max.focus(); return;
      }
      const next = new URLSearchParams();
      for (const k of ['q', 'categoria', 'ocasion', 'color', 'min', 'max', 'orden']) {
        if (v[k] && String(v[k]).trim()) next.set(k, String(v[k]).trim());
      }
      if (form.destacados.checked) next.set('destacados', '1');
      ctx.navigate(`/${next.toString() ? `?${next}` : ''}`);
    });
    form.orden.addEventListener('change', () => form.requestSubmit());
    mount(filters, form, facetsRes.status === 'rejected' ? errorBlock(facetsRes.reason) : null);

    if (listRes.status === 'rejected') {
      const e = listRes.reason;
      if (e.fields && Object.keys(e.fields).length) {
        mount(results, errorBlock(e), el('p', {}, el('a', { href: '/' }, 'Ver todo el catálogo')));
      } else {
        mount(results, errorBlock(e, ctx.refresh));
      }
      return;
    }
    const { products, pagination: pg } = listRes.value;
    const hrefFor = (n) => {
      const next = new URLSearchParams(ctx.query);
      if (n > 1) next.set('pagina', String(n)); else next.delete('pagina');
      return `/${next.toString() ? `?${next}` : ''}`;
    };
    mount(results,
      el('h2', { id: 'results-h', class: 'visually-hidden' }, 'Productos'),
      el('p', { class: 'muted', role: 'status' }, pg.total === 0 ? 'No encontramos productos con esos filtros.'
        : `${pg.total} ${pg.total === 1 ? 'producto' : 'productos'} · página ${pg.page} de ${pg.pages}`),
      products.length ? el('ul', { class: 'grid' }, products.map((p) => productCard(ctx, p))) : null,
      pagination(pg.page, pg.pages, hrefFor));
  },
};
