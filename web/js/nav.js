// nav.js: the header navigation, redrawn when the session changes.

import { session } from './session.js';
import { el, mount } from './ui.js';

export function renderNav() {
  const nav = document.getElementById('nav');
  if (!nav) return;
  const items = [
    el('li', {}, el('a', { href: '/' }, 'Catálogo')),
    el('li', {}, el('a', { href: '/contacto' }, 'Contacto')),
  ];
  if (session.isLoggedIn()) {
    items.push(
      el('li', {}, el('a', { href: '/favoritos' }, 'Favoritos')),
      el('li', {}, el('a', { href: '/pedidos' }, 'Mis pedidos')),
      el('li', {}, el('a', { href: '/cuenta' }, 'Mi cuenta')),
    );
    if (session.isAdmin()) items.push(el('li', {}, el('a', { href: '/admin' }, 'Administración')));
    items.push(
      el('li', {}, el('a', { href: '/carrito', class: 'nav-cart', id: 'nav-cart' }, 'Carrito')),
      el('li', {}, el('button', { type: 'button', class: 'btn-link', id: 'logout',
        onclick: async () => {
          await session.logout();
          const { navigate } = await import('./app.js');
          navigate('/');
        } }, 'Salir')),
    );
  } else {
    items.push(
      el('li', {}, el('a', { href: '/ingresar' }, 'Ingresar')),
      el('li', {}, el('a', { href: '/registro' }, 'Crear cuenta')),
    );
  }
  mount(nav, items);
  markCurrent();
}

// aria-current="page" on the header link of the page shown.
export function markCurrent() {
  for (const a of document.querySelectorAll('#nav a[href]')) {
    const here = new URL(a.href).pathname === location.pathname;
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

// Shows the number of units in the cart next to "Carrito": the count given, or asked of the API.
export async function updateCartCount(count) {
  if (!session.isLoggedIn()) return;
  if (count === undefined) {
    try {
      const { api } = await import('./api.js');
      count = (await api.get('/cart')).cart.count;
    } catch (e) {
      return;   // the cart page itself will say what is wrong
    }
  }
  const a = document.getElementById('nav-cart');
  if (a) a.textContent = count ? `Carrito (${count})` : 'Carrito';
}
