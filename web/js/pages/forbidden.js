import { el, mount } from '../ui.js';

export default {
  title: 'Acceso restringido',
  render(ctx) {
    mount(ctx.main,
      el('h1', {}, 'Acceso restringido'),
      el('p', { class: 'banner banner-error', role: 'alert' },
        'Esta sección es solo para el personal de la tienda. Tu cuenta no tiene permiso para usarla.'),
      el('p', {}, el('a', { href: '/' }, 'Volver al catálogo')));
  },
};
