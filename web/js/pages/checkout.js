// Checkout: the cart, a saved or new address, delivery date, payment method and notes.  The
// order is placed from the cart (the API reads prices from the catalogue) with an
// Idempotency-Key, so a double click or a retry after a network error never orders twice.

import { el, mount, loading, errorBlock, clp, field, formError, formValues, showError, busy,
  clearErrors, fieldError, toast, PAYMENT_METHOD } from '../ui.js';
import { REGIONS, chileToday } from '../chile.js';
import { updateCartCount } from '../nav.js';

const ADDRESS_FIELDS = ['recipient', 'street', 'city', 'region', 'postalCode', 'phone'];

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function addressText(a) {
  return [a.recipient, a.street, a.city, a.region, a.postalCode, a.phone].filter(Boolean).join(', ');
}

export default {
  title: 'Finalizar compra',
  async render(ctx) {
    mount(ctx.main, el('h1', {}, 'Finalizar compra'), loading());
    const [cartRes, addrRes] = await Promise.allSettled([ctx.api.get('/cart'), ctx.api.get('/users/me/addresses')]);
    if (!ctx.isCurrent()) return;
    if (cartRes.status === 'rejected') throw cartRes.reason;
    const cart = cartRes.value.cart;
    if (!cart.items.length) {
      mount(ctx.main, el('h1', {}, 'Finalizar compra'), el('p', {}, 'Tu carrito está vacío.'),
        el('p', {}, el('a', { href: '/', class: 'btn btn-primary' }, 'Ver el catálogo')));
      return;
    }
    const addresses = addrRes.status === 'fulfilled' ? addrRes.value.addresses : [];
    const shipping = cart.total >= 50000 ? 0 : 3990;

    // Address choice: radios of the saved ones + "new".
    const def = addresses.find((a) => a.isDefault) || addresses[0];
    const choice = el('div', { role: 'radiogroup', 'aria-label': 'Dirección de despacho' },
      addresses.map((a) => el('div', { class: 'field field-check' },
        el('input', { type: 'radio', name: 'address', value: String(a.id), id: `addr-${a.id}`, checked: a === def }),
        el('label', { for: `addr-${a.id}` }, el('strong', {}, a.label || 'Dirección'), ': ', addressText(a)))),
      el('div', { class: 'field field-check' },
        el('input', { type: 'radio', name: 'address', value: 'new', id: 'addr-new', checked: !def }),
        el('label', { for: 'addr-new' }, 'Una dirección nueva')));
    const newAddr = el('div', { class: 'new-address' },
      el('div', { class: 'row' },
        field({ label: 'Quién recibe', name: 'recipient', required: true, autocomplete: 'name', value: ctx.session.user.name }),
        field({ label: 'Teléfono de contacto', name: 'phone', type: 'tel', required: true, autocomplete: 'tel', placeholder: '+56 9 1234 5678' })),
      field({ label: 'Calle y número', name: 'street', required: true, autocomplete: 'street-address' }),
      el('div', { class: 'row' },
        field({ label: 'Comuna o ciudad', name: 'city', required: true, autocomplete: 'address-level2' }),
        field({ label: 'Región', name: 'region', required: true, value: 'Metropolitana de Santiago',
          options: REGIONS.map((r) => [r, r]) }),
        field({ label: 'Código postal (opcional)', name: 'postalCode', autocomplete: 'postal-code', inputmode: 'numeric' })),
      field({ label: 'Guardar esta dirección en mi cuenta', name: 'save', type: 'checkbox' }));

    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, `Confirmar pedido · ${clp(cart.total + shipping)}`);
    const form = el('form', { novalidate: true, class: 'wide', 'aria-label': 'Datos del pedido' },
      formError(),
      el('fieldset', {}, el('legend', {}, 'Despacho'), addresses.length ? choice : null, newAddr,
        field({ label: 'Fecha de entrega (opcional)', name: 'deliveryDate', type: 'date', min: chileToday(1), max: chileToday(90),
          hint: 'Entre mañana y los próximos 90 días.' })),
      el('fieldset', {}, el('legend', {}, 'Forma de pago'),
        el('div', { role: 'radiogroup', 'aria-label': 'Forma de pago', dataset: { field: 'paymentMethod' } },
          ['transfer', 'cash', 'webpay'].map((m, i) => el('div', { class: 'field field-check' },
            el('input', { type: 'radio', name: 'paymentMethod', value: m, id: `pay-${m}`, checked: i === 0 }),
            el('label', { for: `pay-${m}` }, PAYMENT_METHOD[m]))),
          el('p', { class: 'field-hint' }, 'No cobramos en línea: con Webpay te enviaremos el enlace de pago al confirmar tu pedido.'),
          el('p', { class: 'field-error', hidden: true }))),
      field({ label: 'Notas para el pedido (opcional)', name: 'notes', type: 'textarea', maxlength: 500, rows: 3,
        hint: 'Por ejemplo, el mensaje de la tarjeta. Máximo 500 caracteres.' }),
      el('div', { class: 'actions' }, submit, el('a', { href: '/carrito' }, 'Volver al carrito')));

    const syncAddress = () => {
      const sel = form.querySelector('input[name="address"]:checked');
      newAddr.hidden = !!sel && sel.value !== 'new';
    };
    form.addEventListener('change', (ev) => { if (ev.target.name === 'address') syncAddress(); });
    syncAddress();

    let key = newKey();
    let lastBody = null;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const v = formValues(form);
      const sel = form.querySelector('input[name="address"]:checked');
      const useNew = !sel || sel.value === 'new';
      const body = { paymentMethod: v.paymentMethod };
      if (v.deliveryDate) body.deliveryDate = v.deliveryDate;
      if (v.notes) body.notes = v.notes;
      await busy(submit, async () => {
        try {
          if (useNew) {
            let bad = false;
            for (const [f, min, msg] of [['recipient', 2, 'Indica quién recibe (mínimo 2 letras).'],
              ['street', 3, 'Indica la calle y el número.'], ['city', 2, 'Indica la comuna o ciudad.'],
              ['phone', 6, 'Indica un teléfono de contacto.']]) {
              if ((v[f] || '').length < min) { fieldError(form, f, msg); bad = true; }
            }
            if (bad) { form.querySelector('[aria-invalid="true"]').focus(); return; }
            const addr = { recipient: v.recipient, street: v.street, city: v.city, region: v.region,
              phone: v.phone, postalCode: v.postalCode || null };
            if (v.save) {
              const saved = await ctx.api.post('/users/me/addresses', { label: 'Despacho', ...addr, isDefault: !addresses.length });
              body.addressId = saved.address.id;
            } else {
              body.shippingAddress = addr;
            }
          } else {
            body.addressId = Number(sel.value);
          }
          // The same order data keeps its key (a retry); changed data is a new order attempt.
          const text = JSON.stringify(body);
          if (lastBody !== null && lastBody !== text) key = newKey();
          lastBody = text;
          const res = await ctx.api.request('POST', '/orders', { body, headers: { 'Idempotency-Key': key } });
          const order = res.data.order;
          updateCartCount(0);
          toast(`Pedido ${order.number} recibido`);
          ctx.navigate(`/pedidos/${order.id}`, { replace: true });
        } catch (e) {
          const map = {};
          for (const f of ADDRESS_FIELDS) map[`shippingAddress.${f}`] = f;
          if (e.code === 'OUT_OF_STOCK') {
            key = newKey(); lastBody = null;
            showError(form, e);
            return;
          }
          if (e.code === 'IDEMPOTENCY_RETRY' || e.code === 'IDEMPOTENCY_KEY_REUSED') { key = newKey(); lastBody = null; }
          if (e.fields && e.fields.items) {
            showError(form, Object.assign(e, { message: 'Tu carrito cambió o está vacío. Revisa el carrito.' }), map);
            return;
          }
          showError(form, e, map);
        }
      });
    });

    mount(ctx.main,
      el('h1', {}, 'Finalizar compra'),
      el('section', { class: 'panel', 'aria-labelledby': 'sum-h' },
        el('h2', { id: 'sum-h' }, 'Resumen'),
        el('ul', {}, cart.items.map((i) => el('li', {}, `${i.quantity} × ${i.name} — ${clp(i.lineTotal)}`))),
        el('div', { class: 'totals' },
          el('div', {}, el('span', {}, 'Subtotal'), el('span', {}, clp(cart.total))),
          el('div', {}, el('span', {}, 'Despacho'), el('span', {}, shipping ? clp(shipping) : 'Gratis')),
          el('div', { class: 'grand' }, el('span', {}, 'Total'), el('span', {}, clp(cart.total + shipping))))),
      addrRes.status === 'rejected' ? el('p', { class: 'banner banner-info' }, 'No pudimos cargar tus direcciones guardadas; puedes escribir una nueva.') : null,
      form);
  },
};
