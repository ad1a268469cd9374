import { el, mount, field, formError, formValues, showError, busy, clearErrors } from '../ui.js';

const SUBJECTS = [
  ['consulta', 'Consulta general'], ['pedido', 'Sobre un pedido'], ['cotizacion', 'Cotización'],
  ['evento', 'Flores para un evento'], ['reclamo', 'Reclamo'], ['otro', 'Otro'],
];

export default {
  title: 'Contacto',
  render(ctx) {
    const u = ctx.session.user;
    const submit = el('button', { type: 'submit', class: 'btn btn-primary' }, 'Enviar mensaje');
    const form = el('form', { novalidate: true, 'aria-labelledby': 'ct-h' },
      formError(),
      field({ label: 'Nombre', name: 'name', required: true, autocomplete: 'name', value: u ? u.name : '' }),
      field({ label: 'Correo electrónico', name: 'email', type: 'email', required: true, autocomplete: 'email', value: u ? u.email : '' }),
      field({ label: 'Teléfono (opcional)', name: 'phone', type: 'tel', autocomplete: 'tel', placeholder: '+56 9 1234 5678' }),
      field({ label: 'Asunto', name: 'subject', required: true, options: SUBJECTS, value: 'consulta' }),
      field({ label: 'Mensaje', name: 'message', type: 'textarea', required: true, rows: 6, minlength: 10, maxlength: 5000,
        hint: 'Entre 10 y 5000 caracteres.' }),
      el('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const v = formValues(form);
      const body = { name: v.name, email: v.email, subject: v.subject, message: v.message };
      if (v.phone) body.phone = v.phone;
      await busy(submit, async () => {
        try {
          const data = await ctx.api.post('/contact', body, { auth: false });
          mount(ctx.main, el('h1', {}, 'Mensaje enviado'),
            el('p', { class: 'banner banner-success', role: 'status' },
              `Recibimos tu mensaje. Tu número de seguimiento es ${data.ticket}; te responderemos a ${body.email}.`),
            el('p', {}, el('a', { href: '/' }, 'Volver al catálogo')));
        } catch (e) {
          showError(form, e);
        }
      });
    });
    mount(ctx.main, el('h1', { id: 'ct-h' }, 'Contacto'),
      el('p', {}, '¿Tienes una pregunta o quieres cotizar un arreglo? Escríbenos.'), form);
  },
};
