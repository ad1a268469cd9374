// /restablecer-clave#token=...: the page the password-reset mail links to.  The token travels
// in the fragment, which browsers never send: no server, log or Referer sees it.  (Links of
// the ?token= form, from mails sent before, still work.)

import { el, mount, field, formError, showError, busy, clearErrors, fieldError } from '../ui.js';

export default {
  title: 'Nueva contraseña',
  render(ctx) {
    const token = new URLSearchParams(location.hash.slice(1)).get('token') || ctx.query.get('token') || '';
    if (!token) {
      mount(ctx.main, el('h1', {}, 'Enlace incompleto'),
        el('p', {}, 'Abre el enlace completo que te enviamos por correo, o '),
        el('p', {}, el('a', { href: '/recuperar-clave' }, 'pide un enlace nuevo')));
      return;
    }
    // The token leaves the address bar (and the history) at once.
    history.replaceState(null, '', '/restablecer-clave');
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Guardar contraseña');
    const form = el('form', { novalidate: true, 'aria-labelledby': 'rp-h' },
      formError(),
      field({ label: 'Nueva contraseña', name: 'newPassword', type: 'password', required: true, autocomplete: 'new-password',
        minlength: 8, maxlength: 128, hint: 'Entre 8 y 128 caracteres.' }),
      field({ label: 'Repite la contraseña', name: 'password2', type: 'password', required: true, autocomplete: 'new-password' }),
      el('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const pw = form.newPassword.value;
      if (pw !== form.password2.value) {
        fieldError(form, 'password2', 'Las contraseñas no coinciden.');
        form.password2.focus();
        return;
      }
      await busy(submit, async () => {
        try {
          await ctx.api.post('/auth/reset-password', { token, newPassword: pw }, { auth: false });
          mount(ctx.main, el('h1', {}, 'Contraseña actualizada'),
            el('p', { class: 'banner banner-success', role: 'status' }, 'Ya puedes ingresar con tu nueva contraseña.'),
            el('p', {}, el('a', { href: '/ingresar', class: 'btn btn-primary' }, 'Ingresar')));
        } catch (e) {
          if (e.code === 'INVALID_RESET_TOKEN' || (e.fields && e.fields.token)) {
            showError(form, e);
            form.querySelector('.form-error').append(' ', el('a', { href: '/recuperar-clave' }, 'Pedir un enlace nuevo'));
            return;
          }
          showError(form, e);
        }
      });
    });
    mount(ctx.main, el('h1', { id: 'rp-h' }, 'Elige una nueva contraseña'), form);
  },
};
