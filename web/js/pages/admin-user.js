// admin-user.js: /admin/usuarios/:id — one account: its details, its role and whether it may
// sign in.  A role change reaches the sign-in service through an event, so it applies from
// the account's next sign-in (or token refresh).

import { el, mount, loading, errorBlock, fmtDate, fmtDateTime, field, formError, formValues, showError,
  clearErrors, toast, busy } from '../ui.js';
import { adminHeader, ROLE } from './admin-common.js';

export default {
  title(ctx) { return `Cuenta ${ctx.params.id}`; },
  async render(ctx) {
    mount(ctx.main, adminHeader('Cuenta', '/admin/usuarios'), loading());
    let u;
    try {
      u = (await ctx.api.get(`/users/${encodeURIComponent(ctx.params.id)}`)).user;
    } catch (e) {
      if (ctx.isCurrent()) mount(ctx.main, adminHeader('Cuenta', '/admin/usuarios'), errorBlock(e, ctx.refresh));
      return;
    }
    if (!ctx.isCurrent()) return;
    ctx.setTitle(u.name || `Cuenta ${u.id}`);
    const self = ctx.session.user && String(ctx.session.user.id) === String(u.id);
    const form = el('form', { novalidate: true, 'aria-labelledby': 'user-access-h' },
      formError(),
      field({ label: 'Rol', name: 'role', value: u.role, options: Object.entries(ROLE) }),
      field({ label: 'Cuenta activa (puede ingresar y comprar)', name: 'active', type: 'checkbox', checked: u.active !== false }),
      self ? el('p', { class: 'field-hint' }, 'Es tu propia cuenta: no puedes quitarte el rol de administrador ni desactivarla.') : null,
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn btn-primary' }, 'Guardar cambios')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const v = formValues(form);
      const body = {};
      if (v.role !== u.role) body.role = v.role;
      if (v.active !== (u.active !== false)) body.active = v.active;
      if (!Object.keys(body).length) { toast('No hay cambios que guardar.', 'success'); return; }
      await busy(form.querySelector('button[type=submit]'), async () => {
        try {
          await ctx.api.patch(`/users/${u.id}`, body);
          toast('Cambios guardados.');
          ctx.refresh();
        } catch (e) {
          if (e.code === 'CANNOT_CHANGE_SELF') {
            e.message = 'No puedes quitarte el rol de administrador ni desactivar tu propia cuenta.';
          }
          showError(form, e);
        }
      });
    });
    mount(ctx.main,
      adminHeader(u.name || `Cuenta ${u.id}`, '/admin/usuarios'),
      el('dl', { class: 'details panel' },
        el('dt', {}, 'Correo'), el('dd', {}, u.email),
        el('dt', {}, 'Teléfono'), el('dd', {}, u.phone || '—'),
        el('dt', {}, 'Rol'), el('dd', {}, ROLE[u.role] || u.role),
        el('dt', {}, 'Estado'), el('dd', {}, u.active === false ? 'Desactivada' : 'Activa'),
        el('dt', {}, 'Creada'), el('dd', {}, fmtDate(u.createdAt)),
        u.updatedAt ? [el('dt', {}, 'Último cambio'), el('dd', {}, fmtDateTime(u.updatedAt))] : null),
      el('h2', { id: 'user-access-h' }, 'Rol y acceso'),
      form,
      el('p', {}, el('a', { href: '/admin/usuarios' }, 'Volver a usuarios')));
  },
};
