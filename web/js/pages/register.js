import { el, mount, field, formError, formValues, showError, busy, clearErrors, fieldError, toast } from '../ui.js';
import { safeNext } from './login.js';

export default {
  title: 'Crear cuenta',
  render(ctx) {
    const next = safeNext(ctx.query.get('next'));
    if (ctx.session.isLoggedIn()) { ctx.navigate(next, { replace: true }); return; }
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Crear cuenta');
    const form = el('form', { novalidate: true, 'aria-labelledby': 'reg-h' },
      formError(),
      field({ label: 'Nombre', name: 'name', required: true, autocomplete: 'name', minlength: 2, maxlength: 100 }),
      field({ label: 'Correo electrónico', name: 'email', type: 'email', required: true, autocomplete: 'email' }),
      field({ label: 'Contraseña', name: 'password', type: 'password', required: true, autocomplete: 'new-password',
        minlength: 8, maxlength: 128, hint: 'Entre 8 y 128 caracteres.' }),
      field({ label: 'Repite la contraseña', name: 'password2', type: 'password', required: true, autocomplete: 'new-password' }),
      el('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const v = formValues(form);
      const pw = form.password.value;
      if (pw !== form.password2.value) {
        fieldError(form, 'password2', 'Las contraseñas no coinciden.');
        form.password2.focus();
        return;
      }
      await busy(submit, async () => {
        try {
          await ctx.api.post('/auth/register', { name: v.name, email: v.email, password: pw }, { auth: false });
        } catch (e) {
          showError(form, e);
          return;
        }
        try {
          await ctx.session.login(v.email, pw);
          toast('¡Bienvenida o bienvenido! Tu cuenta está lista.');
          ctx.navigate(next, { replace: true });
        } catch (e) {
          ctx.navigate(`/ingresar?next=${encodeURIComponent(next)}`, { replace: true });
        }
      });
    });
    mount(ctx.main, el('h1', { id: 'reg-h' }, 'Crear cuenta'), form,
      el('p', {}, '¿Ya tienes cuenta? ', el('a', { href: '/ingresar' }, 'Ingresa aquí')));
  },
};
