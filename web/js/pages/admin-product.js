// admin-product.js: /admin/productos/nuevo (create) and /admin/productos/:id (edit) — every
// field of a product; the stock of an existing product is changed on its own (set a value or
// add/take units), so that saving the other fields never overwrites a stock that orders
// changed meanwhile.  Errors from the API are shown next to the field they are about.

import { el, mount, loading, errorBlock, errorText, field, formError, formValues, showError,
  clearErrors, fieldError, toast, busy, clp } from '../ui.js';
import { adminHeader, splitList, confirmButton, inlineMessage } from './admin-common.js';

const LIST_FIELDS = ['flowers', 'colors', 'occasions', 'extras'];

// API field names (with [n] for list items) → the form's inputs.
function fieldOf(name) {
  return String(name).replace(/\[\d+\]$/, '').replace(/\..*$/, '');
}

// The API's messages may name other fields by their API names ("no puede ser menor que
// price"): they are shown with the form's words.
const WORDS = {
  original_price: 'el precio anterior', price: 'el precio', stock: 'el stock', category: 'la categoría',
  name: 'el nombre', description: 'la descripción', delivery_time: 'el tiempo de entrega',
  care_instructions: 'los cuidados', occasions: 'las ocasiones', images: 'las imágenes',
};
function plainFields(fields) {
  const out = {};
  for (const [k, msg] of Object.entries(fields || {})) {
    out[k] = String(msg).replace(/\b(original_price|price|stock|category|name|description|delivery_time|care_instructions|occasions|images)\b/g,
      (w) => WORDS[w]);
  }
  return out;
}

function productForm(p, categories, isNew) {
  const v = (k) => (p && p[k] !== undefined && p[k] !== null ? p[k] : '');
  const list = (k, sep = ', ') => (p && Array.isArray(p[k]) ? p[k].join(sep) : '');
  const categoryList = el('datalist', { id: 'admin-categories' },
    categories.map((c) => el('option', { value: c.slug }, c.name)));
  const category = field({ label: 'Categoría', name: 'category', value: v('category'), required: true,
    hint: 'Minúsculas, números, _ o - (por ejemplo cumpleanos). Elige una existente o escribe una nueva.' });
  category.querySelector('input').setAttribute('list', 'admin-categories');
  return el('form', { class: 'wide', novalidate: true, 'aria-label': isNew ? 'Nuevo producto' : 'Datos del producto' },
    formError(),
    el('fieldset', {}, el('legend', {}, 'Datos principales'),
      isNew ? field({ label: 'Código', name: 'id', required: true, maxlength: 32,
        hint: 'Mayúsculas, números, _ o - (hasta 32), por ejemplo AML050. No se puede cambiar después.' }) : null,
      field({ label: 'Nombre', name: 'name', value: v('name'), required: true, minlength: 2, maxlength: 120 }),
      field({ label: 'Descripción', name: 'description', type: 'textarea', rows: 4, value: v('description'),
        required: true, minlength: 10, maxlength: 2000 }),
      el('div', { class: 'row' },
        field({ label: 'Precio (CLP)', name: 'price', type: 'number', min: 1, step: 1, value: v('price'),
          required: true, inputmode: 'numeric' }),
        field({ label: 'Precio anterior (CLP, opcional)', name: 'original_price', type: 'number', min: 1, step: 1,
          value: v('original_price'), inputmode: 'numeric', hint: 'Se muestra tachado; no puede ser menor que el precio.' }),
        isNew ? field({ label: 'Stock inicial', name: 'stock', type: 'number', min: 0, step: 1, value: '0',
          inputmode: 'numeric' }) : null),
      category, categoryList,
      field({ label: 'Destacado en la portada', name: 'featured', type: 'checkbox', checked: !!(p && p.featured) }),
      field({ label: 'Activo (se muestra en el catálogo)', name: 'active', type: 'checkbox', checked: isNew || !!(p && p.active) })),
    el('fieldset', {}, el('legend', {}, 'Detalles'),
      el('div', { class: 'row' },
        field({ label: 'Tamaño', name: 'size', value: v('size'), maxlength: 200 }),
        field({ label: 'Tiempo de entrega', name: 'delivery_time', value: v('delivery_time'), maxlength: 200 })),
      field({ label: 'Flores', name: 'flowers', value: list('flowers'), hint: 'Separadas por comas.' }),
      field({ label: 'Colores', name: 'colors', value: list('colors'), hint: 'Separados por comas.' }),
      field({ label: 'Ocasiones', name: 'occasions', value: list('occasions'),
        hint: 'Separadas por comas, en minúsculas (por ejemplo aniversario, cumpleanos).' }),
      field({ label: 'Extras', name: 'extras', value: list('extras'), hint: 'Separados por comas.' }),
      field({ label: 'Imágenes', name: 'images', type: 'textarea', rows: 3, value: list('images', '\n'),
        hint: 'Una por línea: una ruta /images/... o una dirección https://.' }),
      field({ label: 'Cuidados', name: 'care_instructions', type: 'textarea', rows: 3, value: v('care_instructions'),
        maxlength: 1000 })),
    el('div', { class: 'actions' },
      el('button', { type: 'submit', class: 'btn btn-primary' }, isNew ? 'Crear producto' : 'Guardar cambios'),
      el('a', { href: '/admin/productos' }, 'Volver a productos')));
}

// The form's values as the API wants them; problems found here are shown like the API's.
function bodyOf(form, isNew) {
  const v = formValues(form);
  const bad = {};
  const int = (k, { optional = false } = {}) => {
    if (v[k] === '' || v[k] === undefined) {
      if (!optional) bad[k] = 'Este campo es obligatorio.';
      return optional ? null : undefined;
    }
    const n = Number(v[k]);
    if (!Number.isInteger(n)) { bad[k] = 'Escribe un número entero, sin puntos ni signos.'; return undefined; }
    return n;
  };
  const body = {
    name: v.name,
    description: v.description,
    price: int('price'),
    original_price: int('original_price', { optional: true }),
    category: v.category,
    featured: !!v.featured,
    active: !!v.active,
    size: v.size,
    delivery_time: v.delivery_time,
    images: splitList(v.images, true),
    care_instructions: v.care_instructions,
  };
  for (const k of LIST_FIELDS) body[k] = splitList(v[k]);
  if (isNew) {
    body.id = (v.id || '').toUpperCase();
    body.stock = int('stock', { optional: true }) ?? 0;
  }
  for (const k of ['name', 'description', 'category']) if (!body[k]) bad[k] = 'Este campo es obligatorio.';
  if (isNew && !body.id) bad.id = 'Este campo es obligatorio.';
  return { body, bad };
}

function stockPanel(ctx, p) {
  const msg = inlineMessage();
  const current = el('strong', {}, String(p.stock ?? 0));
  const form = el('form', { novalidate: true, 'aria-labelledby': 'stock-h' },
    el('p', {}, 'Stock actual: ', current, ' unidades.'),
    el('div', { class: 'row' },
      field({ label: 'Nuevo stock', name: 'stock', type: 'number', min: 0, step: 1, inputmode: 'numeric',
        hint: 'El número total de unidades disponibles.' }),
      field({ label: 'O sumar / restar unidades', name: 'delta', type: 'number', step: 1, inputmode: 'numeric',
        hint: 'Por ejemplo 5 o -2.' })),
    msg.node,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn' }, 'Actualizar stock')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    msg.clear();
    const v = formValues(form);
    let body;
    if (v.stock !== '' && v.delta !== '') {
      msg.show('Escribe el nuevo stock o las unidades a sumar/restar, no ambos.');
      return;
    }
    if (v.stock !== '') {
      const n = Number(v.stock);
      if (!Number.isInteger(n) || n < 0) { fieldError(form, 'stock', 'Escribe un número entero, 0 o más.'); form.elements.stock.focus(); return; }
      body = { stock: n };
    } else if (v.delta !== '') {
      const n = Number(v.delta);
      if (!Number.isInteger(n) || n === 0) { fieldError(form, 'delta', 'Escribe un número entero distinto de 0.'); form.elements.delta.focus(); return; }
      body = { delta: n };
    } else {
      msg.show('Escribe el nuevo stock o las unidades a sumar/restar.');
      return;
    }
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const data = await ctx.api.patch(`/products/${encodeURIComponent(p.id)}/stock`, body);
        current.textContent = String(data.stock);
        form.reset();
        toast(`Stock de ${p.name}: ${data.stock} unidades.`);
      } catch (e) {
        if (e.code === 'INSUFFICIENT_STOCK') fieldError(form, 'delta', 'No hay tantas unidades para restar.');
        else showError(form, e);
        if (e.code === 'INSUFFICIENT_STOCK' || !e.fields || !Object.keys(e.fields).length) msg.show(errorText(e));
      }
    });
  });
  return el('section', { class: 'panel', 'aria-labelledby': 'stock-h' }, el('h2', { id: 'stock-h' }, 'Stock'), form);
}

export default {
  title(ctx) { return ctx.params.id ? `Producto ${ctx.params.id}` : 'Nuevo producto'; },
  async render(ctx) {
    const isNew = !ctx.params.id;
    const title = isNew ? 'Nuevo producto' : 'Editar producto';
    mount(ctx.main, adminHeader(title, '/admin/productos'), loading());
    let p = null;
    let categories = [];
    try {
      const [prod, cats] = await Promise.all([
        isNew ? null : ctx.api.get(`/products/${encodeURIComponent(ctx.params.id)}`),
        ctx.api.get('/products/categories').catch(() => ({ categories: [] })),
      ]);
      p = prod ? prod.product : null;
      categories = cats.categories || [];
    } catch (e) {
      if (ctx.isCurrent()) mount(ctx.main, adminHeader(title, '/admin/productos'), errorBlock(e, ctx.refresh));
      return;
    }
    if (!ctx.isCurrent()) return;
    const form = productForm(p, categories, isNew);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const { body, bad } = bodyOf(form, isNew);
      const badNames = Object.keys(bad);
      if (badNames.length) {
        for (const k of badNames) fieldError(form, k, bad[k]);
        const box = form.querySelector('.form-error');
        box.textContent = 'Revisa los campos marcados.';
        box.hidden = false;
        form.querySelector('[aria-invalid="true"]').focus();
        return;
      }
      await busy(form.querySelector('button[type=submit]'), async () => {
        try {
          if (isNew) {
            const data = await ctx.api.post('/products', body);
            toast(`Producto ${data.product.name} creado.`);
            ctx.navigate(`/admin/productos/${encodeURIComponent(data.product.id)}`, { replace: true });
          } else {
            const data = await ctx.api.patch(`/products/${encodeURIComponent(p.id)}`, body);
            toast(`Cambios de ${data.product.name} guardados.`);
            ctx.refresh();
          }
        } catch (e) {
          const map = {};
          e.fields = plainFields(e.fields);
          for (const f of Object.keys(e.fields)) map[f] = fieldOf(f);
          showError(form, e, map);
          if (e.code === 'ID_TAKEN') {
            fieldError(form, 'id', 'Ya existe un producto con este código.');
            form.elements.id.focus();
          }
        }
      });
    });
    mount(ctx.main,
      adminHeader(title, '/admin/productos'),
      p ? el('p', {}, el('code', {}, p.id), ' · ', clp(p.price), ' · ',
        p.active ? 'Activo' : 'Inactivo (no se muestra en el catálogo)', ' · ',
        el('a', { href: `/producto/${encodeURIComponent(p.id)}` }, 'Ver en la tienda')) : null,
      form,
      p ? stockPanel(ctx, p) : null,
      p && p.active ? el('section', { class: 'panel', 'aria-labelledby': 'deact-h' },
        el('h2', { id: 'deact-h' }, 'Desactivar'),
        el('p', {}, 'El producto deja de mostrarse en el catálogo; los pedidos que ya lo tienen no cambian. Puedes activarlo de nuevo.'),
        confirmButton('Desactivar producto', 'Confirmar desactivación', async (b) => {
          await busy(b, async () => {
            try {
              await ctx.api.del(`/products/${encodeURIComponent(p.id)}`);
              toast(`${p.name} ya no se muestra en el catálogo.`);
              ctx.refresh();
            } catch (e) {
              toast(errorText(e), 'error', 8000);
            }
          });
        })) : null);
  },
};
