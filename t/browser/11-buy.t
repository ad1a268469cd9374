#!/usr/bin/env node
// 11-buy.t: a customer registers (an email already taken is refused next to the form), adds
// products to the cart from a product's page and from the catalogue, changes a quantity and
// removes a line, checks out with a new address (a missing field is pointed at; the address
// is saved), sees the order with its history, keeps the session over a reload without any
// script-readable credential, finds the order in the history, orders again with the saved
// address, and signs out.  Then the cart and checkout on a phone.
'use strict';

import('./lib/harness.mjs').then(({ run, api, registerUser, uniqueEmail }) => run(async (h) => {
    // Two products with stock to spare, as the catalogue has them now.
    const list = (await api('GET', '/api/products?limit=100&sort=name')).json.data.products;
    const [p1, p2] = list.filter((p) => p.stock >= 10 && /^[A-Z]{3}\d{3}$/.test(p.id));
    if (!p1 || !p2) throw new Error('the catalogue has no two seed products with stock');
    const taken = await registerUser({ name: 'Cuenta Existente' });
    const me = { name: 'Valentina Soto', email: uniqueEmail('compra'), password: 'Clave-de-Prueba-9' };
    const clp = (n) => new Intl.NumberFormat('es-CL', { style: 'currency', currency: 'CLP' }).format(n);

    await h.journey('cliente-compra', async (j) => {
        const main = j.page.locator('main');
        const nav = j.page.getByRole('navigation', { name: 'Principal' });
        let order;

        await j.step('an email already registered is refused in plain words', async () => {
            await j.goto('/registro');
            const form = main.locator('form');
            await form.getByLabel('Nombre').fill('Otra Persona');
            await form.getByLabel('Correo electrónico').fill(taken.email);
            await form.getByLabel('Contraseña', { exact: true }).fill('Clave-de-Prueba-9');
            await form.getByLabel('Repite la contraseña').fill('Clave-de-Prueba-9');
            j.allow({ method: 'POST', url: '/api/auth/register', status: 409, times: 1 });
            await form.getByRole('button', { name: 'Crear cuenta' }).click();
            await form.getByRole('alert').filter({ hasText: 'Ya existe una cuenta con ese correo' }).waitFor();
        });

        await j.step('registers and is signed in', async () => {
            const form = main.locator('form');
            await form.getByLabel('Nombre').fill(me.name);
            await form.getByLabel('Correo electrónico').fill(me.email);
            await j.act(() => form.getByRole('button', { name: 'Crear cuenta' }).click());
            await nav.getByRole('button', { name: 'Salir' }).waitFor();
            await nav.getByRole('link', { name: 'Mis pedidos' }).waitFor();
        });

        await j.step('adds two units from a product page', async () => {
            await j.nav(`/producto/${p1.id}`);
            await main.getByLabel('Cantidad').fill('2');
            await main.getByRole('button', { name: 'Agregar al carrito' }).click();
            await j.page.getByText('Agregado al carrito').first().waitFor();
            await nav.getByRole('link', { name: 'Carrito (2)' }).waitFor();
        });

        await j.step('adds another product from the catalogue', async () => {
            await j.nav(`/?q=${encodeURIComponent(p2.name.slice(0, 12))}`);
            await main.getByRole('button', { name: `Agregar ${p2.name} al carrito` }).click();
            await nav.getByRole('link', { name: 'Carrito (3)' }).waitFor();
        });

        await j.step('the cart: a quantity changed, a line removed', async () => {
            await j.nav('/carrito');
            await main.getByRole('cell', { name: p1.name, exact: true }).waitFor();
            const qty = main.getByLabel(`Cantidad de ${p1.name}`);
            await qty.fill('3');
            await qty.press('Tab');
            await main.locator('#cart-total').filter({ hasText: clp(3 * p1.price + p2.price) }).waitFor();
            await main.getByRole('button', { name: `Quitar ${p2.name} del carrito` }).click();
            await main.locator('#cart-total').filter({ hasText: clp(3 * p1.price) }).waitFor();
            j.check(await main.getByRole('cell', { name: p2.name, exact: true }).count() === 0, 'the removed line is gone');
            await nav.getByRole('link', { name: 'Carrito (3)' }).waitFor();
        });

        await j.step('checkout: a missing street is pointed at', async () => {
            await j.act(() => main.getByRole('link', { name: 'Ir a pagar' }).click());
            await main.getByRole('heading', { name: 'Finalizar compra' }).waitFor();
            await main.getByLabel('Teléfono de contacto').fill('+56 9 1234 5678');
            await main.getByLabel('Comuna o ciudad').fill('Ñuñoa');
            await main.getByRole('button', { name: /Confirmar pedido/ }).click();
            await main.getByText('Indica la calle y el número.').waitFor();
            j.check(await main.getByLabel('Calle y número').evaluate((e) => e === document.activeElement), 'focus on the street');
        });

        await j.step('checkout: new address saved, delivery date, Webpay, notes', async () => {
            await main.getByLabel('Calle y número').fill('Irarrázaval 2401, depto 12');
            await main.getByLabel('Guardar esta dirección en mi cuenta').check();
            const day = new Date(Date.now() + 3 * 86400000).toLocaleDateString('en-CA', { timeZone: 'America/Santiago' });
            await main.getByLabel('Fecha de entrega (opcional)').fill(day);
            await main.getByLabel('Webpay (pago al confirmar)').check();
            await main.getByLabel('Notas para el pedido (opcional)').fill('Tarjeta: ¡Feliz cumpleaños, mamá!');
            await j.act(() => main.getByRole('button', { name: /Confirmar pedido/ }).click());
            await main.getByRole('heading', { name: /^Pedido FV-\d{8}-\d{5,}$/ }).waitFor();
            const id = new URL(j.page.url()).pathname.split('/').pop();
            order = (await api('GET', `/api/orders/${id}`, undefined, { token: (await (await import('./lib/harness.mjs')).loginApi(me)).token })).json.data.order;
            j.check(order.status === 'pending' && order.paymentMethod === 'webpay' && order.deliveryDate === day, JSON.stringify(order));
            await main.getByText('Pendiente').first().waitFor();
            await main.getByText('Pago: Webpay (pago al confirmar)').waitFor();
            await main.getByText('Notas: Tarjeta: ¡Feliz cumpleaños, mamá!').waitFor();
            await main.getByRole('heading', { name: 'Historial' }).waitFor();
            await main.locator('.grand').filter({ hasText: clp(order.total) }).waitFor();
            await nav.getByRole('link', { name: 'Carrito', exact: true }).waitFor();
        });

        await j.step('a reload keeps the session; no script can read a long-lived credential', async () => {
            await j.page.reload();
            await j.ready();
            await main.getByRole('heading', { name: `Pedido ${order.number}` }).waitFor();
            const seen = await j.page.evaluate(() => ({ cookie: document.cookie, storage: JSON.stringify(localStorage) + JSON.stringify(sessionStorage) }));
            j.check(!/flores_refresh/.test(seen.cookie), `document.cookie shows ${seen.cookie}`);
            j.check(!/eyJ|refresh/i.test(seen.storage), `storage holds ${seen.storage}`);
            const cookies = await j.context.cookies();
            const c = cookies.find((x) => x.name === 'flores_refresh');
            j.check(c && c.httpOnly && c.sameSite === 'Strict' && c.path === '/api/auth', JSON.stringify(cookies));
        });

        await j.step('the order is in the history', async () => {
            await j.act(() => nav.getByRole('link', { name: 'Mis pedidos' }).click());
            const row = main.getByRole('row').filter({ hasText: order.number });
            await row.getByText('Pendiente').waitFor();
            await row.getByText(clp(order.total)).waitFor();
        });

        await j.step('orders again with the saved address', async () => {
            await j.nav(`/producto/${p2.id}`);
            await main.getByRole('button', { name: 'Agregar al carrito' }).click();
            await nav.getByRole('link', { name: 'Carrito (1)' }).waitFor();
            await j.nav('/compra');
            const saved = main.getByRole('radio', { name: /Irarrázaval 2401/ });
            j.check(await saved.isChecked(), 'the saved address is chosen');
            j.check(await main.getByLabel('Calle y número').isHidden(), 'the new-address fields are hidden');
            await j.act(() => main.getByRole('button', { name: /Confirmar pedido/ }).click());
            await main.getByRole('heading', { name: /^Pedido FV-/ }).waitFor();
            await main.getByText(/Irarrázaval 2401, depto 12, Ñuñoa/).waitFor();
            await main.getByText('Pago: Transferencia bancaria').waitFor();
        });

        await j.step('signs out; the orders need a session again', async () => {
            await j.act(() => nav.getByRole('button', { name: 'Salir' }).click());
            await nav.getByRole('link', { name: 'Ingresar' }).waitFor();
            await j.goto('/pedidos');
            j.check(new URL(j.page.url()).pathname === '/ingresar', j.page.url());
            const c = (await j.context.cookies()).find((x) => x.name === 'flores_refresh');
            j.check(!c, `cookie still there: ${JSON.stringify(c)}`);
        });
    });

    await h.journey('cliente-telefono', async (j) => {
        const main = j.page.locator('main');
        const u = await registerUser({ name: 'Paula Móvil' });
        const wide = () => j.page.evaluate(() => document.documentElement.scrollWidth);

        await j.step('on a phone: the cart fits the screen', async () => {
            await j.signIn(u, `/producto/${p1.id}`);
            await main.getByRole('button', { name: 'Agregar al carrito' }).click();
            await j.page.getByRole('link', { name: 'Carrito (1)' }).waitFor();
            await j.nav('/carrito');
            await main.getByLabel(`Cantidad de ${p1.name}`).waitFor();
            j.check(await wide() <= 400, `cart ${await wide()}px wide`);
        });

        await j.step('on a phone: checkout fits and orders', async () => {
            await j.act(() => main.getByRole('link', { name: 'Ir a pagar' }).click());
            j.check(await wide() <= 400, `checkout ${await wide()}px wide`);
            await main.getByLabel('Calle y número').fill('Av. Alemania 0671');
            await main.getByLabel('Comuna o ciudad').fill('Temuco');
            await main.getByLabel('Región').selectOption('La Araucanía');
            await main.getByLabel('Teléfono de contacto').fill('+56 9 2222 3333');
            await main.getByLabel('Efectivo contra entrega').check();
            await j.act(() => main.getByRole('button', { name: /Confirmar pedido/ }).click());
            await main.getByRole('heading', { name: /^Pedido FV-/ }).waitFor();
            await main.getByText('Pago: Efectivo contra entrega').waitFor();
            j.check(await wide() <= 400, `order ${await wide()}px wide`);
        });
    }, { viewport: 'phone' });
}));
