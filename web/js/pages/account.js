// The customer's account: profile (name, phone), saved addresses, password, sessions.

import { el, mount, loading, field, formError, formValues, showError, busy, clearErrors, toast,
  banner, errorText, fieldError } from '../ui.js';
import { REGIONS } from '../chile.js';

function profileForm(ctx, profile) {
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Guardar datos');
  const form = el('form', { novalidate: true, 'aria-labelledby': 'prof-h' },
    el('h2', { id: 'prof-h' }, 'Tus datos'),
    formError(),
    field({ label: 'Nombre', name: 'name', required: true, autocomplete: 'name', value: profile.name || '' }),
    field({ label: 'Correo electrónico', name: 'email', type: 'email', value: profile.email, hint: 'El correo no se puede cambiar.' }),
    field({ label: 'Teléfono', name: 'phone', type: 'tel', autocomplete: 'tel', value: profile.phone || '', placeholder: '+56 9 1234 5678' }),
    el('div', { class: 'actions' }, submit));
  form.email.readOnly = true;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const v = formValues(form);
    await busy(submit, async () => {
      try {
        await ctx.api.patch('/users/me', { name: v.name, phone: v.phone });
        toast('Datos guardados');
      } catch (e) {
        showError(form, e);
      }
    });
  });
  return form;
}

function addressForm(ctx, onDone) {
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Agregar dirección');
  const form = el('form', { novalidate: true, 'aria-labelledby': 'addr-new-h', class: 'panel' },
    el('h3', { id: 'addr-new-h' }, 'Nueva dirección'),
    formError(),
    field({ label: 'Nombre de la dirección (opcional)', name: 'label', maxlength: 40, placeholder: 'Casa, oficina…' }),
    field({ label: 'Quién recibe', name: 'recipient', required: true, autocomplete: 'name' }),
    field({ label: 'Calle y número', name: 'street', required: true, autocomplete: 'street-address' }),
    el('div', { class: 'row' },
      field({ label: 'Comuna o ciudad', name: 'city', required: true, autocomplete: 'address-level2' }),
      field({ label: 'Región', name: 'region', required: true, value: 'Metropolitana de Santiago', options: REGIONS.map((r) => [r, r]) })),
    el('div', { class: 'row' },
      field({ label: 'Código postal (opcional, 7 dígitos)', name: 'postalCode', inputmode: 'numeric', autocomplete: 'postal-code' }),
      field({ label: 'Teléfono (opcional)', name: 'phone', type: 'tel', autocomplete: 'tel' })),
    field({ label: 'Usar como dirección principal', name: 'isDefault', type: 'checkbox' }),
    el('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const v = formValues(form);
    if (v.postalCode && !/^\d{7}$/.test(v.postalCode)) {
      fieldError(form, 'postalCode', 'El código postal tiene 7 dígitos.');
      form.postalCode.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        await ctx.api.post('/users/me/addresses', {
          label: v.label || null, recipient: v.recipient, street: v.street, city: v.city, region: v.region,
          postalCode: v.postalCode || null, phone: v.phone || null, isDefault: v.isDefault });
        toast('Dirección agregada');
        onDone();
      } catch (e) {
        showError(form, e);
      }
    });
  });
  return form;
}

async function addressesSection(ctx) {
  const section = el('section', { 'aria-labelledby': 'addr-h' });
  const draw = async () => {
    mount(section, el('h2', { id: 'addr-h' }, 'Direcciones'), loading());
    let addresses;
    try {
      addresses = (await ctx.api.get('/users/me/addresses')).addresses;
    } catch (e) {
      mount(section, el('h2', { id: 'addr-h' }, 'Direcciones'), el('p', { class: 'banner banner-error', role: 'alert' }, errorText(e)));
      return;
    }
    const act = (fn, msg) => async (ev) => {
      await busy(ev.currentTarget, async () => {
        try { await fn(); toast(msg); await draw(); } catch (e) { banner(errorText(e), 'error'); }
      });
    };
    mount(section, el('h2', { id: 'addr-h' }, 'Direcciones'),
      addresses.length ? el('ul', { class: 'stack' }, addresses.map((a) => el('li', { class: 'panel' },
        el('p', {}, el('strong', {}, a.label || 'Dirección'), a.isDefault ? el('span', { class: 'badge' }, ' Principal') : null),
        el('p', {}, [a.recipient, a.street, a.city, a.region, a.postalCode, a.phone].filter(Boolean).join(', ')),
        el('div', { class: 'actions' },
          a.isDefault ? null : el('button', { type: 'button', class: 'btn btn-small',
            onclick: act(() => ctx.api.put(`/users/me/addresses/${a.id}`, { label: a.label, recipient: a.recipient, street: a.street,
              city: a.city, region: a.region, postalCode: a.postalCode, phone: a.phone, isDefault: true }), 'Dirección principal actualizada') }, 'Usar como principal'),
          el('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Eliminar la dirección ${a.label || a.street}`,
            onclick: act(() => ctx.api.del(`/users/me/addresses/${a.id}`), 'Dirección eliminada') }, 'Eliminar')))))
        : el('p', { class: 'muted' }, 'No tienes direcciones guardadas.'),
      addressForm(ctx, draw));
  };
  await draw();
  return section;
}

function passwordForm(ctx) {
  const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Cambiar contraseña');
  const form = el('form', { novalidate: true, 'aria-labelledby': 'pw-h' },
    el('h2', { id: 'pw-h' }, 'Contraseña'),
    formError(),
    field({ label: 'Contraseña actual', name: 'currentPassword', type: 'password', required: true, autocomplete: 'current-password' }),
    field({ label: 'Nueva contraseña', name: 'newPassword', type: 'password', required: true, autocomplete: 'new-password', hint: 'Entre 8 y 128 caracteres. Se cerrarán tus otras sesiones.' }),
    el('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    await busy(submit, async () => {
      try {
        await ctx.api.post('/auth/change-password', { currentPassword: form.currentPassword.value, newPassword: form.newPassword.value });
        form.reset();
        toast('Contraseña actualizada; cerramos tus otras sesiones');
      } catch (e) {
        showError(form, e);
      }
    });
  });
  return form;
}

export default {
  title: 'Mi cuenta',
  async render(ctx) {
    mount(ctx.main, el('h1', {}, 'Mi cuenta'), loading());
    const { profile } = await ctx.api.get('/users/me');
    if (!ctx.isCurrent()) return;
    const addresses = await addressesSection(ctx);
    if (!ctx.isCurrent()) return;
    const logoutAll = el('button', { type: 'button', class: 'btn btn-danger', onclick: async (ev) => {
      await busy(ev.currentTarget, async () => {
        try {
          await ctx.api.request('POST', '/auth/logout-all', { headers: { 'X-Flores-Client': 'web' } });
        } catch (e) {
          banner(errorText(e), 'error');
          return;
        }
        await ctx.session.logout();
        ctx.navigate('/ingresar');
      });
    } }, 'Cerrar sesión en todos los dispositivos');
    mount(ctx.main, el('h1', {}, 'Mi cuenta'),
      el('p', {}, el('a', { href: '/pedidos' }, 'Mis pedidos'), ' · ', el('a', { href: '/favoritos' }, 'Favoritos')),
      profileForm(ctx, profile), addresses, passwordForm(ctx),
      el('section', { 'aria-labelledby': 'ses-h' }, el('h2', { id: 'ses-h' }, 'Sesiones'), logoutAll));
  },
};
