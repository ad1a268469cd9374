// routes.js: every path of the storefront and the page module that draws it.
//
//   { path: '/producto/:id', page: 'product', auth: 'user' | 'admin' (optional) }
//
// page names a module web/js/pages/<page>.js, loaded on first use.  ":name" segments become
// ctx.params.name (decoded).  The first match wins.  auth 'user': a visitor is sent to
// /ingresar?next=<path>; auth 'admin': a visitor likewise, a signed-in non-admin sees the
// "forbidden" page (the API refuses them anyway).  Staff pages are named admin-*.

export const routes = [
  { path: '/', page: 'catalog' },
  { path: '/catalogo', page: 'catalog' },
  { path: '/producto/:id', page: 'product' },
  { path: '/carrito', page: 'cart', auth: 'user' },
  { path: '/compra', page: 'checkout', auth: 'user' },
  { path: '/pedidos', page: 'orders', auth: 'user' },
  { path: '/pedidos/:id', page: 'order', auth: 'user' },
  { path: '/favoritos', page: 'wishlist', auth: 'user' },
  { path: '/cuenta', page: 'account', auth: 'user' },
  { path: '/ingresar', page: 'login' },
  { path: '/registro', page: 'register' },
  { path: '/recuperar-clave', page: 'forgot' },
  { path: '/restablecer-clave', page: 'reset' },
  { path: '/contacto', page: 'contact' },

  // Staff.
  { path: '/admin', page: 'admin-home', auth: 'admin' },
  { path: '/admin/productos', page: 'admin-products', auth: 'admin' },
  { path: '/admin/productos/nuevo', page: 'admin-product', auth: 'admin' },
  { path: '/admin/productos/:id', page: 'admin-product', auth: 'admin' },
  { path: '/admin/pedidos', page: 'admin-orders', auth: 'admin' },
  { path: '/admin/pedidos/:id', page: 'admin-order', auth: 'admin' },
  { path: '/admin/usuarios', page: 'admin-users', auth: 'admin' },
  { path: '/admin/usuarios/:id', page: 'admin-user', auth: 'admin' },
];
