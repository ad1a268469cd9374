#!/usr/bin/env node
// 13-account.t: the rest of a customer's account.  Forgot password: the mail's link (its path
// and token, opened on this stack) leads to the page that sets a new password, which then
// signs in.  Favourites: saved from a product, moved to the cart.  A review written after a
// delivered order shows as a verified purchase.  Wrong passwords until the gateway's limit:
// the wait from Retry-After is shown.
'use strict';

import('./lib/harness.mjs').then(({ run, api, registerUser, loginApi, createAdmin, waitMail, uniqueEmail }) => run(async (h) => {
    const list = (await api('GET', '/api/products?limit=100&sort=name')).json.data.products;
    const prod = list.find((p) => p.stock >= 5 && /^[A-Z]{3}\d{3}$/.test(p.id));
    if (!prod) throw new Error('no seed product with stock');

    await h.journey('cliente-clave-olvidada', async (j) => {
        const main = j.page.locator('main');
        const u = await registerUser({ name: 'Olga Olvido' });
        let link;

        await j.step('asks for a reset link', async () => {
            await j.goto('/ingresar');
            await j.act(() => main.getByRole('link', { name: '¿Olvidaste tu contraseña?' }).click());
            await main.getByLabel('Correo electrónico').fill(u.email);
            await j.act(() => main.getByRole('button', { name: 'Enviar enlace' }).click());
            await main.getByRole('heading', { name: 'Revisa tu correo' }).waitFor();
        });

        await j.step('the mail carries a link to the reset page', async () => {
            const m = await waitMail(u.email, { match: /restablecer-clave/ });
            j.check(m, 'no reset mail');
            const url = (/https?:\/\/[^\s"<>]+\/restablecer-clave#token=[A-Za-z0-9_-]+/.exec(m.text) || [])[0];
            j.check(url, `no link in: ${m.text.slice(0, 300)}`);
            link = new URL(url);
        }, { timeout: 40 });

        await j.step('the link (on this shop) sets a new password', async () => {
            await j.goto(link.pathname + link.search + link.hash);
            await main.getByRole('heading', { name: 'Elige una nueva contraseña' }).waitFor();
            j.check(!/token=/.test(j.page.url()), `the token stays in the address bar: ${j.page.url()}`);
            await main.getByLabel('Nueva contraseña', { exact: true }).fill('Otra-Clave-Nueva-7');
            await main.getByLabel('Repite la contraseña').fill('Otra-Clave-Nueva-7');
            await j.act(() => main.getByRole('button', { name: 'Guardar contraseña' }).click());
            await main.getByRole('heading', { name: 'Contraseña actualizada' }).waitFor();
        });

        await j.step('signs in with it', async () => {
            await j.signIn({ email: u.email, password: 'Otra-Clave-Nueva-7' }, '/pedidos');
            await main.getByRole('heading', { name: 'Mis pedidos' }).waitFor();
        });

        await j.step('the same link a second time is refused in plain words', async () => {
            await j.goto(link.pathname + link.search + link.hash);
            await main.getByLabel('Nueva contraseña', { exact: true }).fill('Tercera-Clave-8');
            await main.getByLabel('Repite la contraseña').fill('Tercera-Clave-8');
            j.allow({ method: 'POST', url: '/api/auth/reset-password', status: 400, times: 1 });
            await main.getByRole('button', { name: 'Guardar contraseña' }).click();
            await main.getByRole('alert').filter({ hasText: 'no es válido o ya expiró' }).waitFor();
            await main.getByRole('link', { name: 'Pedir un enlace nuevo' }).waitFor();
        });
    });

    await h.journey('cliente-favoritos-opinion', async (j) => {
        const main = j.page.locator('main');
        const u = await registerUser({ name: 'Berta Flores' });
        const admin = await createAdmin();
        // A delivered order with the product, made through the API (the staff's side).
        const tok = (await loginApi(u)).token;
        const placed = await api('POST', '/api/orders', {
            items: [{ productId: prod.id, quantity: 1 }],
            shippingAddress: { recipient: 'Berta Flores', street: 'Av. Matta 500', city: 'Santiago', region: 'Metropolitana de Santiago', phone: '+56 9 5555 5555' },
            paymentMethod: 'cash',
        }, { token: tok, headers: { 'Idempotency-Key': `t13-${u.id}` } });
        if (placed.status !== 201) throw new Error(`order: ${placed.status} ${placed.text}`);
        for (const status of ['confirmed', 'preparing', 'shipped', 'delivered']) {
            const r = await api('PATCH', `/api/orders/${placed.json.data.order.id}/status`, { status }, { token: admin.token });
            if (r.status !== 200) throw new Error(`status ${status}: ${r.status} ${r.text}`);
        }

        await j.step('saves a product in favourites', async () => {
            await j.signIn(u, `/producto/${prod.id}`);
            await main.getByRole('button', { name: 'Guardar en favoritos' }).click();
            await j.page.getByText('Guardado en favoritos').waitFor();
        });

        await j.step('moves it from favourites to the cart', async () => {
            await j.nav('/favoritos');
            await j.act(() => main.getByRole('button', { name: `Mover ${prod.name} al carrito` }).click());
            await main.getByText('No tienes productos guardados.').waitFor();
            await j.page.getByRole('link', { name: 'Carrito (1)' }).waitFor();
        });

        await j.step('the delivered order shows its whole history', async () => {
            await j.nav(`/pedidos/${placed.json.data.order.id}`);
            for (const s of ['Pendiente', 'Confirmado', 'En preparación', 'Enviado', 'Entregado']) {
                await main.locator('.timeline li').filter({ hasText: s }).waitFor();
            }
        });

        await j.step('writes a review: a verified purchase', async () => {
            await j.nav(`/producto/${prod.id}`);
            const form = main.locator('form').filter({ hasText: 'Escribe tu opinión' });
            await form.getByLabel('Calificación').selectOption('4');
            await form.getByLabel('Título').fill('Muy lindo');
            await form.getByLabel('Comentario').fill(`Llegó a tiempo y las flores duraron más de una semana (${u.id}).`);
            await form.getByRole('button', { name: 'Publicar opinión' }).click();
            const mine = main.locator('.review').filter({ hasText: `una semana (${u.id})` });
            await mine.getByText('Compra verificada').waitFor();
            await main.getByText('Ya publicaste tu opinión sobre este producto.').waitFor();
        });
    });

    await h.journey('demasiados-intentos', async (j) => {
        const main = j.page.locator('main');
        const email = uniqueEmail('limite');
        await j.step('wrong passwords until the limit: the wait is shown', async () => {
            await j.goto('/ingresar');
            j.allow({ method: 'POST', url: '/api/auth/login', status: 401 });
            j.allow({ method: 'POST', url: '/api/auth/login', status: 429 });
            await main.getByLabel('Correo electrónico').fill(email);
            for (let i = 0; i < 12; i++) {
                await main.getByLabel('Contraseña').fill(`incorrecta-${i}`);
                await main.getByRole('button', { name: 'Ingresar' }).click();
                await main.locator('.form-error:not([hidden])').waitFor();
                await main.getByRole('button', { name: 'Ingresar' }).and(j.page.locator(':not([disabled])')).waitFor();
                if (await main.getByText(/Demasiados intentos/).count()) break;
            }
            const text = await main.locator('.form-error').textContent();
            j.check(/Demasiados intentos\. Espera \d+ (segundos?|minutos?) e intenta de nuevo\./.test(text), `shown: ${text}`);
        }, { timeout: 60 });
    });
}));
