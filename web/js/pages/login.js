import { el, mount, field, formError, formValues, showError, busy, clearErrors } from '../ui.js';

// Only local paths are followed after login (no open redirect).
export function safeNext(next) {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

export default {
  title: 'Ingresar',
  render(ctx) {
    const next = safeNext(ctx.query.get('next'));
    if (ctx.session.isLoggedIn()) { ctx.navigate(next, { replace: true }); return; }
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Ingresar');
    const form = el('form', { novalidate: true, 'aria-labelledby': 'login-h' },
      formError(),
      field({ label: 'Correo electrónico', name: 'email', type: 'email', required: true, autocomplete: 'email' }),
      field({ label: 'Contraseña', name: 'password', type: 'password', required: true, autocomplete: 'current-password' }),
      el('div', { class: 'actions' }, submit,
        el('a', { href: '/recuperar-clave' }, '¿Olvidaste tu contraseña?')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const v = formValues(form);
      await busy(submit, async () => {
        try {
          await ctx.session.login(v.email, v.password);
          ctx.navigate(next, { replace: true });
        } catch (e) {
          showError(form, e);
        }
      });
    });
    mount(ctx.main,
      el('h1', { id: 'login-h' }, 'Ingresar'),
      form,
      el('p', {}, '¿No tienes cuenta? ', el('a', { href: `/registro${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}` }, 'Crea una aquí')));
  },
};
