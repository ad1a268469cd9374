// shop.js: actions shared by several customer pages (cart, wishlist).

import { api } from './api.js';
import { session } from './session.js';
import { toast, showError, banner, errorText } from './ui.js';
import { updateCartCount } from './nav.js';

function needLogin(ctx, next) {
  ctx.navigate(`/ingresar?next=${encodeURIComponent(next || location.pathname + location.search)}`);
}

// Adds to the cart; a visitor is sent to the login first.  errRoot: where to show an error
// (a form with .form-error), else a banner.
export async function addToCart(ctx, productId, quantity = 1, errRoot = null) {
  if (!session.isLoggedIn()) { needLogin(ctx); return false; }
  try {
    const data = await api.post('/cart/items', { productId, quantity });
    toast('Agregado al carrito');
    updateCartCount(data && data.cart ? data.cart.count : undefined);
    return true;
  } catch (e) {
    if (errRoot) showError(errRoot, e);
    else {
      // No form here: the field's own reason ("no puede superar 100 unidades") if there is one.
      const msg = (e.fields && Object.values(e.fields)[0]) || errorText(e);
      banner(msg, 'error');
      toast(msg, 'error', 6000);
    }
    return false;
  }
}

export async function addToWishlist(ctx, productId) {
  if (!session.isLoggedIn()) { needLogin(ctx); return false; }
  try {
    await api.post('/wishlist/items', { productId });
    toast('Guardado en favoritos');
    return true;
  } catch (e) {
    if (e.status === 409) { toast('Ya estaba en tus favoritos'); return true; }
    banner(errorText(e), 'error');
    toast(errorText(e), 'error', 6000);
    return false;
  }
}
