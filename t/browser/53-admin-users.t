#!/usr/bin/env node
// 53-admin-users.t: an administrator finds a customer in the accounts list and makes them an
// administrator there; signed in again, the new administrator has the staff pages.  An
// administrator cannot take their own role away (refused in plain words), and an account
// made customer again loses the staff pages.
'use strict';

import('./lib/harness.mjs').then(({ run, api, registerUser, loginApi, createAdmin, waitFor, randomHex }) => run(async (h) => {
    const admin = await createAdmin();
    const tag = randomHex(3);
    const customer = await registerUser({ name: `Valentina Soto ${tag}` });
    const staffLink = (j) => j.page.getByRole('navigation', { name: 'Principal' })
        .getByRole('link', { name: 'Administración', exact: true });
    // The auth service learns a role change from an event: the next sign-in has it soon after.
    const roleAtLogin = (role) => waitFor(async () => (await loginApi(customer)).user.role === role,
        { timeout: 15000, interval: 300, what: `${customer.email} signing in as ${role}` });

    await h.journey('admin-cambia-rol', async (j) => {
        const main = j.page.locator('main');
        const row = () => main.locator(`tr[data-email="${customer.email}"]`);

        await j.step('the accounts list finds the customer by name', async () => {
            await j.signIn(admin, '/admin/usuarios');
            await main.getByLabel('Buscar por nombre o correo').fill(tag);
            await j.act(() => main.getByRole('button', { name: 'Buscar' }).click());
            await row().waitFor();
            j.check(await main.locator('tbody tr').count() === 1, 'the search lists other accounts too');
            await j.checkLabels();
            j.check(await row().getByLabel(`Rol de ${customer.name}`).inputValue() === 'customer', 'not shown as a customer');
        });

        await j.step('the customer is made an administrator from the list', async () => {
            await row().getByLabel(`Rol de ${customer.name}`).selectOption('admin');
            await row().getByRole('button', { name: 'Cambiar rol' }).click();
            await j.page.getByText(`${customer.name} ahora es administrador.`).waitFor();
            const r = await api('GET', `/api/users/${customer.id}`, null, { token: admin.token });
            j.check(r.json?.data?.user?.role === 'admin', `the API says ${r.json?.data?.user?.role}`);
        });

        await j.step('the administrator cannot take their own role away', async () => {
            j.allow({ method: 'PATCH', url: `/api/users/${admin.id}`, status: 409, times: 1 });
            await j.nav(`/admin/usuarios/${admin.id}`);
            await main.getByText('Es tu propia cuenta').waitFor();
            await j.checkLabels();
            await main.getByLabel('Rol', { exact: true }).selectOption('customer');
            await main.getByRole('button', { name: 'Guardar cambios' }).click();
            await main.locator('.form-error').getByText('No puedes quitarte el rol de administrador').waitFor();
        });
    });

    await h.journey('nuevo-admin', async (j) => {
        await j.step('signed in again, the new administrator has the staff pages', async () => {
            await roleAtLogin('admin');
            await j.signIn(customer, '/admin');
            await staffLink(j).waitFor();
            await j.page.getByRole('heading', { name: 'Pedidos por atender' }).waitFor();
        });
    });

    await h.journey('admin-quita-rol', async (j) => {
        await j.step('made a customer again from the account page', async () => {
            await j.signIn(admin, `/admin/usuarios/${customer.id}`);
            const main = j.page.locator('main');
            await main.getByLabel('Rol', { exact: true }).selectOption('customer');
            await j.act(() => main.getByRole('button', { name: 'Guardar cambios' }).click());
            await j.page.getByText('Cambios guardados.').waitFor();
            await main.locator('dl').getByText('Cliente', { exact: true }).waitFor();
        });
    });

    await h.journey('ex-admin', async (j) => {
        await j.step('signed in again, the staff pages say "Acceso restringido"', async () => {
            await roleAtLogin('customer');
            await j.signIn(customer, '/admin/pedidos');
            await j.page.getByRole('heading', { name: 'Acceso restringido' }).waitFor();
            j.check(await staffLink(j).count() === 0, 'the staff link is still offered');
        });
    });
}));
