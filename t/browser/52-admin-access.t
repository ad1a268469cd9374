#!/usr/bin/env node
// 52-admin-access.t: the staff pages are for administrators only.  A visitor who opens one
// is sent to the login page (and, once signed in as an administrator, lands where they were
// going); a signed-in customer sees "Acceso restringido", no staff navigation, and no staff
// data; the API refuses the customer's token (403) and no token at all (401).
'use strict';

import('./lib/harness.mjs').then(({ run, api, registerUser, loginApi, createAdmin }) => run(async (h) => {
    const customer = await registerUser({ name: 'Clienta Curiosa' });
    const admin = await createAdmin();
    const staffLink = (j) => j.page.getByRole('navigation', { name: 'Principal' })
        .getByRole('link', { name: 'Administración', exact: true });
    const STAFF = ['/admin', '/admin/productos', '/admin/productos/nuevo', '/admin/pedidos',
        '/admin/pedidos/1', '/admin/usuarios', `/admin/usuarios/${customer.id}`];

    await h.journey('visitante-en-admin', async (j) => {
        for (const path of STAFF) {
            await j.step(`${path} sends a visitor to the login page`, async () => {
                await j.goto(path);
                const u = new URL(j.page.url());
                j.check(u.pathname === '/ingresar', `went to ${u.pathname}`);
                j.check(u.searchParams.get('next') === path, `next is ${u.searchParams.get('next')}`);
                await j.page.getByRole('heading', { name: 'Ingresar' }).waitFor();
                j.check(await staffLink(j).count() === 0,
                    'a visitor sees a link to the staff pages');
            });
        }
        await j.step('signing in as an administrator continues to the page asked for', async () => {
            await j.goto('/admin/usuarios');
            const form = j.page.locator('main form');
            await form.getByLabel('Correo electrónico').fill(admin.email);
            await form.getByLabel('Contraseña').fill(admin.password);
            await j.act(() => form.getByRole('button', { name: 'Ingresar' }).click());
            await j.page.waitForURL((u) => u.pathname === '/admin/usuarios');
            await j.page.getByRole('heading', { name: 'Usuarios', level: 1 }).waitFor();
            await staffLink(j).waitFor();
        });
    });

    await h.journey('cliente-en-admin', async (j) => {
        await j.step('the customer signs in and has no staff link', async () => {
            await j.signIn(customer, '/');
            await j.page.getByRole('button', { name: 'Salir' }).waitFor();
            j.check(await staffLink(j).count() === 0,
                'the navigation offers the staff pages to a customer');
        });
        for (const path of STAFF) {
            await j.step(`${path} says the customer has no permission`, async () => {
                await j.nav(path);
                j.check(new URL(j.page.url()).pathname === path, `went to ${j.page.url()}`);
                await j.page.getByRole('heading', { name: 'Acceso restringido' }).waitFor();
                await j.page.getByText('no tiene permiso').waitFor();
                j.check(await j.page.locator('main table, main form').count() === 0, 'a staff table or form is drawn');
                j.check(await j.page.getByRole('navigation', { name: 'Secciones de administración' }).count() === 0,
                    'the staff section links are shown');
            });
        }
        await j.step('the API refuses the staff calls to the customer (403) and to nobody (401)', async () => {
            const token = (await loginApi(customer)).token;
            for (const [method, path, body] of [
                ['GET', '/api/orders/all'], ['GET', '/api/users'], ['PATCH', `/api/users/${customer.id}`, { role: 'admin' }],
                ['POST', '/api/products', { id: 'NOPE1', name: 'No', description: 'No debería existir', price: 1, category: 'x1' }],
                ['PATCH', '/api/products/AML001/stock', { stock: 0 }], ['DELETE', '/api/products/AML001'],
            ]) {
                const r = await api(method, path, body, { token });
                j.check(r.status === 403, `${method} ${path} as a customer: ${r.status}`);
                const anon = await api(method, path, body);
                j.check(anon.status === 401, `${method} ${path} without a token: ${anon.status}`);
            }
            const me = await api('GET', `/api/users/${customer.id}`, null, { token: admin.token });
            j.check(me.json?.data?.user?.role === 'customer', `the customer's role is ${me.json?.data?.user?.role}`);
        });
    }, { viewport: 'phone' });
}));
