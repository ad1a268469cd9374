#!/usr/bin/env node
// 50-admin-ships-order.t: a customer's order goes through the staff pages: the
// administrator finds it among the pending orders, confirms it from the list, prepares and
// ships it from its page (every change in its history), and the customer, signed in on
// another browser, sees "Enviado" on their order.  A change the order no longer allows
// (another administrator was faster) is refused in plain words.  Another order cancelled
// from its page gives its units back to the stock.
'use strict';

import('./lib/harness.mjs').then(({ run, api, registerUser, loginApi, createAdmin, randomHex, waitFor }) => run(async (h) => {
    const admin = await createAdmin();
    // A product of its own, so that no other test's stock changes get in the way.
    const productId = `T50${randomHex(3).toUpperCase()}`;
    const made = await api('POST', '/api/products', {
        id: productId, name: `Ramo Envío ${productId}`, description: 'Un ramo para probar el despacho de pedidos.',
        price: 28000, category: 'cumpleanos', stock: 5, images: ['/images/productos/passion-eterna-1.webp'],
    }, { token: admin.token });
    if (made.status !== 201) throw new Error(`the product was not created: ${made.status} ${made.text}`);
    const customer = await registerUser({ name: 'Camila Rojas' });
    const ctoken = (await loginApi(customer)).token;
    const placed = await api('POST', '/api/orders', {
        items: [{ productId, quantity: 1 }],
        shippingAddress: { recipient: 'Camila Rojas', street: 'Los Aromos 1234', city: 'Providencia',
            region: 'Región Metropolitana', phone: '+56 9 8765 4321' },
        paymentMethod: 'transfer', notes: 'Entregar en conserjería',
    }, { token: ctoken, headers: { 'Idempotency-Key': `t50-${customer.id}` } });
    if (placed.status !== 201) throw new Error(`the customer's order was not placed: ${placed.status} ${placed.text}`);
    const order = placed.json.data.order;
    if (order.status !== 'pending') throw new Error(`the order is ${order.status} (${order.reason})`);

    await h.journey('admin-envia-pedido', async (j) => {
        const main = j.page.locator('main');
        const row = () => main.locator(`tr[data-number="${order.number}"]`);

        await j.step('the new order is among the pending ones', async () => {
            await j.signIn(admin, '/admin/pedidos?estado=pending');
            await main.getByRole('heading', { name: 'Pedidos: pendiente', level: 1 }).waitFor();
            await row().waitFor();
            await row().getByText('Pendiente').waitFor();
            await j.checkLabels();
        });

        await j.step('it is confirmed from the list and leaves the pending ones', async () => {
            await j.act(() => row().getByRole('button', { name: `Confirmar pedido: ${order.number}` }).click());
            await j.page.getByText(`Pedido ${order.number}: Confirmado.`).waitFor();
            j.check(await row().count() === 0, 'still listed as pending');
        });

        await j.step('the "Confirmado" filter lists it; its page opens from there', async () => {
            await j.act(() => main.getByRole('navigation', { name: 'Filtrar por estado' })
                .getByRole('link', { name: 'Confirmado' }).click());
            await j.act(() => row().getByRole('link', { name: order.number }).click());
            await main.getByRole('heading', { name: `Pedido ${order.number}` }).waitFor();
            await main.getByText('Entregar en conserjería').waitFor();
            await j.checkLabels();
            await main.getByText('Los Aromos 1234, Providencia, Región Metropolitana').waitFor();
        });

        await j.step('it is marked "en preparación", then "enviado"', async () => {
            await j.act(() => main.getByRole('button', { name: 'Marcar en preparación' }).click());
            await main.getByRole('button', { name: 'Marcar como enviado' }).waitFor();
            await j.act(() => main.getByRole('button', { name: 'Marcar como enviado' }).click());
            await main.getByRole('button', { name: 'Marcar como entregado' }).waitFor();
            const history = await main.locator('.timeline li .badge').allTextContents();
            j.check(JSON.stringify(history) === JSON.stringify(['Pendiente', 'Confirmado', 'En preparación', 'Enviado']),
                `the history shows ${JSON.stringify(history)}`);
            const r = await api('GET', `/api/orders/${order.id}`, null, { token: ctoken });
            j.check(r.json?.data?.order?.status === 'shipped', `the API says ${r.json?.data?.order?.status}`);
        });

    });

    await h.journey('cliente-ve-envio', async (j) => {
        await j.step('the customer sees the status changes on their order', async () => {
            await j.signIn(customer, `/pedidos/${order.id}`);
            const main = j.page.locator('main');
            await main.getByText(order.number).first().waitFor();
            await main.getByText('Enviado').first().waitFor();
            j.check(await main.getByText('Entregado').count() === 0, 'the order already shows "Entregado"');
        });
    }, { viewport: 'phone' });

    await h.journey('admin-cancela', async (j) => {
        const main = j.page.locator('main');
        // As an administrator: past the gateway's catalogue cache, which the order service's
        // stock changes do not purge.
        const stockNow = async () => (await api('GET', `/api/products/${productId}`, null, { token: admin.token }))
            .json?.data?.product?.stock;
        let second;
        await j.step('a second order is cancelled from its page after a confirmation', async () => {
            const r = await api('POST', '/api/orders', {
                items: [{ productId, quantity: 2 }], paymentMethod: 'cash',
                shippingAddress: { recipient: 'Camila Rojas', street: 'Los Aromos 1234', city: 'Providencia',
                    region: 'Región Metropolitana', phone: '+56 9 8765 4321' },
            }, { token: ctoken });
            j.check(r.status === 201 && r.json.data.order.status === 'pending', `the second order: ${r.status} ${r.text.slice(0, 200)}`);
            second = r.json.data.order;
            j.check(await stockNow() === 2, `stock after two orders: ${await stockNow()}`);
            await j.signIn(admin, `/admin/pedidos/${second.id}`);
            await main.getByRole('button', { name: 'Cancelar pedido' }).click();
            await main.getByRole('button', { name: 'Confirmar cancelación' }).waitFor();
            j.check((await api('GET', `/api/orders/${second.id}`, null, { token: ctoken })).json.data.order.status === 'pending',
                'cancelled at the first press');
            await j.act(() => main.getByRole('button', { name: 'Confirmar cancelación' }).click());
            await main.getByText('Cancelado por la tienda.').waitFor();
            await main.getByText('ya no cambia de estado').waitFor();
        });
        await j.step('its units are back in stock', async () => {
            await waitFor(async () => await stockNow() === 4, { timeout: 20000, what: 'the stock back at 4' });
        });
    });

    await h.journey('admin-cambio-imposible', async (j) => {
        const main = j.page.locator('main');
        await j.step('a change the order no longer allows is refused in plain words', async () => {
            await j.signIn(admin, `/admin/pedidos/${order.id}`);
            await main.getByRole('button', { name: 'Marcar como entregado' }).waitFor();
            // Another administrator delivers it meanwhile; this page still offers "entregado".
            const other = await api('PATCH', `/api/orders/${order.id}/status`, { status: 'delivered' }, { token: admin.token });
            j.check(other.status === 200, `delivering through the API: ${other.status}`);
            j.allow({ method: 'PATCH', url: `/api/orders/${order.id}/status`, status: 409, times: 1 });
            await main.getByRole('button', { name: 'Marcar como entregado' }).click();
            await main.getByText('Recarga la página para ver su estado actual').waitFor();
        });
        await j.step('drawn again, the delivered order offers no change', async () => {
            await j.nav('/admin/pedidos');
            await j.nav(`/admin/pedidos/${order.id}`);
            await main.getByText('ya no cambia de estado').waitFor();
            j.check(await main.getByRole('button', { name: /Marcar|Cancelar/ }).count() === 0, 'a status button is offered');
        });
    });
}));
