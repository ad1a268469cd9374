import { el, mount } from '../ui.js';

export default {
  title: 'Página no encontrada',
  render(ctx) {
    mount(ctx.main,
      el('h1', {}, 'Página no encontrada'),
      el('p', {}, 'La dirección que abriste no existe en la tienda.'),
      el('p', {}, el('a', { href: '/' }, 'Volver al catálogo')));
  },
};
