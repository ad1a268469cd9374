#!/usr/bin/env node
// 14-tabs.t: one customer, two tabs (one browser profile, one refresh cookie).  Both tabs
// reloaded at the same instant, again and again, each restore its session with a refresh;
// the refreshes are serialised across tabs, so no tab ever presents a cookie the other has
// already rotated (which the reuse detection would punish by ending the session).  Signing
// out in one tab signs the other out too.
'use strict';

import('./lib/harness.mjs').then(({ run, registerUser }) => run(async (h) => {
    const u = await registerUser({ name: 'Teresa Tabs' });

    await h.journey('dos-pestanas', async (j) => {
        const a = j.page;
        let b;
        const bProblems = [];

        await j.step('signed in in the first tab, the second tab follows', async () => {
            await j.signIn(u, '/pedidos');
            b = await j.context.newPage();
            b.on('pageerror', (e) => bProblems.push(`uncaught: ${e.message}`));
            b.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) bProblems.push(m.text()); });
            b.on('response', (r) => { if (r.status() >= 400) bProblems.push(`${r.status()} ${r.url()}`); });
            await b.goto(j.url('/pedidos'));
            await b.getByRole('heading', { name: 'Mis pedidos' }).waitFor();
            await b.getByRole('button', { name: 'Salir' }).waitFor();
        });

        await j.step('both tabs reloaded together, five times: both stay signed in', async () => {
            for (let i = 0; i < 5; i++) {
                await Promise.all([a.reload(), b.reload()]);
                await Promise.all([
                    a.getByRole('heading', { name: 'Mis pedidos' }).waitFor(),
                    b.getByRole('heading', { name: 'Mis pedidos' }).waitFor(),
                ]);
                await a.getByRole('button', { name: 'Salir' }).waitFor();
                await b.getByRole('button', { name: 'Salir' }).waitFor();
            }
            j.check(bProblems.length === 0, `second tab: ${bProblems.join('; ')}`);
        }, { timeout: 60 });

        await j.step('the session is still alive (not revoked as a reuse)', async () => {
            await j.goto('/cuenta');
            await a.getByRole('heading', { name: 'Mi cuenta' }).waitFor();
            const name = a.getByLabel('Nombre', { exact: true });
            await name.waitFor();
            j.check(await name.inputValue() === u.name, `name shown: ${await name.inputValue()}`);
        });

        await j.step('signing out in one tab signs the other out', async () => {
            await b.goto(j.url('/pedidos'));
            await b.getByRole('heading', { name: 'Mis pedidos' }).waitFor();
            await j.act(() => a.getByRole('button', { name: 'Salir' }).click());
            await a.getByRole('link', { name: 'Ingresar' }).first().waitFor();
            await b.getByRole('heading', { name: 'Ingresar' }).waitFor();
            j.check(new URL(b.url()).pathname === '/ingresar', `second tab at ${b.url()}`);
            j.check(bProblems.length === 0, `second tab: ${bProblems.join('; ')}`);
        });
    });
}));
