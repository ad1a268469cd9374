import { el, mount, field, formError, formValues, showError, busy, clearErrors } from '../ui.js';

export default {
  title: 'Recuperar contraseña',
  render(ctx) {
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Enviar enlace');
    const form = el('form', { novalidate: true, 'aria-labelledby': 'fp-h' },
      formError(),
      field({ label: 'Correo electrónico', name: 'email', type: 'email', required: true, autocomplete: 'email' }),
      el('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const v = formValues(form);
      await busy(submit, async () => {
        try {
          await ctx.api.post('/auth/forgot-password', { email: v.email }, { auth: false });
          mount(ctx.main, el('h1', {}, 'Revisa tu correo'),
            el('p', { class: 'banner banner-success', role: 'status' },
              'Si el correo corresponde a una cuenta, te enviamos un enlace para elegir una nueva contraseña. Vale por 30 minutos.'),
            el('p', {}, el('a', { href: '/ingresar' }, 'Volver a ingresar')));
        } catch (e) {
          showError(form, e);
        }
      });
    });
    mount(ctx.main, el('h1', { id: 'fp-h' }, 'Recuperar contraseña'),
      el('p', {}, 'Escribe el correo de tu cuenta y te enviaremos un enlace para restablecer la contraseña.'), form);
  },
};
