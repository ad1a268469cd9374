#!/usr/bin/env node
// 54-admin-outage.t: when a service behind the staff pages is down, the page says so in
// plain words with the wait and a "Reintentar" button, and nothing else breaks: the user
// service is stopped, the accounts page shows "El servicio no está disponible…", the
// other sections still work, and once the service is back "Reintentar" shows the accounts.
// The user service is started again however the file ends.
'use strict';

import('./lib/harness.mjs').then(({ run, api, createAdmin, stopComponent, startComponent, waitFor }) => run(async (h) => {
    const admin = await createAdmin();

    await h.journey('admin-servicio-caido', async (j) => {
        const main = j.page.locator('main');

        await j.step('the accounts page works', async () => {
            await j.signIn(admin, '/admin/usuarios');
            await main.locator('tbody tr').first().waitFor();
        });

        await j.step('with the user service down, the accounts page says so and offers to retry', async () => {
            stopComponent('user');
            j.allow({ method: 'GET', url: '/api/users', status: [502, 503, 504] });
            await j.nav('/admin/pedidos');
            await j.nav('/admin/usuarios');
            const alert = main.getByRole('alert');
            await alert.getByText(/El servicio no está disponible en este momento\. Intenta de nuevo en \d+ segundos?\./).waitFor();
            await alert.getByRole('button', { name: 'Reintentar' }).waitFor();
            j.check(await main.locator('table').count() === 0, 'a table is drawn anyway');
        });

        await j.step('the other sections still work', async () => {
            await j.nav('/admin/productos');
            await main.locator('tbody tr').first().waitFor();
        });

        await j.step('once the service is back, "Reintentar" shows the accounts', async () => {
            await j.nav('/admin/usuarios');
            await main.getByRole('button', { name: 'Reintentar' }).waitFor();
            startComponent('user');
            await waitFor(async () => (await api('GET', '/api/users?limit=1', null, { token: admin.token })).status === 200,
                { timeout: 20000, what: 'the user service answering through the gateway' });
            await j.act(() => main.getByRole('button', { name: 'Reintentar' }).click());
            await main.locator('tbody tr').first().waitFor();
        });
    });
}));
