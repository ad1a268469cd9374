// admin-home.js: /admin — the staff's start page: how many orders wait in each early
// status, how many products and accounts there are, with links to each section.

import { el, mount, loading, errorText } from '../ui.js';
import { adminHeader, ORDER_STATUS, hrefWith } from './admin-common.js';

async function count(ctx, path, query) {
  const data = await ctx.api.get(path, { ...query, limit: 1 });
  return data.pagination ? data.pagination.total : 0;
}

export default {
  title: 'Administración',
  async render(ctx) {
    mount(ctx.main, adminHeader('Administración', '/admin'), loading());
    const asks = [
      ['pending', () => count(ctx, '/orders/all', { status: 'pending' })],
      ['confirmed', () => count(ctx, '/orders/all', { status: 'confirmed' })],
      ['preparing', () => count(ctx, '/orders/all', { status: 'preparing' })],
      ['shipped', () => count(ctx, '/orders/all', { status: 'shipped' })],
      ['products', () => count(ctx, '/products', { includeInactive: true })],
      ['users', () => count(ctx, '/users', {})],
    ];
    const results = await Promise.allSettled(asks.map(([, f]) => f()));
    if (!ctx.isCurrent()) return;
    const value = (i) => (results[i].status === 'fulfilled' ? String(results[i].value)
      : `no disponible (${errorText(results[i].reason)})`);
    mount(ctx.main,
      adminHeader('Administración', '/admin'),
      el('section', { class: 'panel', 'aria-labelledby': 'adm-orders' },
        el('h2', { id: 'adm-orders' }, 'Pedidos por atender'),
        el('ul', {}, ['pending', 'confirmed', 'preparing', 'shipped'].map((s, i) => el('li', {},
          el('a', { href: hrefWith('/admin/pedidos', { estado: s }) }, ORDER_STATUS[s]), ': ', value(i)))),
        el('p', {}, el('a', { href: '/admin/pedidos' }, 'Ver todos los pedidos'))),
      el('section', { class: 'panel', 'aria-labelledby': 'adm-products' },
        el('h2', { id: 'adm-products' }, 'Productos'),
        el('p', {}, `Productos en el catálogo (activos e inactivos): ${value(4)}`),
        el('p', { class: 'actions' },
          el('a', { href: '/admin/productos', class: 'btn' }, 'Ver productos'),
          el('a', { href: '/admin/productos/nuevo', class: 'btn btn-primary' }, 'Nuevo producto'))),
      el('section', { class: 'panel', 'aria-labelledby': 'adm-users' },
        el('h2', { id: 'adm-users' }, 'Usuarios'),
        el('p', {}, `Cuentas registradas: ${value(5)}`),
        el('p', {}, el('a', { href: '/admin/usuarios' }, 'Ver usuarios y roles'))));
  },
};
