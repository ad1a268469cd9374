#!/usr/bin/env node
// 00-smoke.t: the chain the journeys stand on: Debian's Chromium starts through
// playwright-core, reaches the stack's gateway, and the harness sees a failed request (here
// a declared 404 that does not fail the step; an undeclared one, a console error and an
// uncaught exception that would) and saves screenshots.
'use strict';

import('./lib/harness.mjs').then(({ run, STACK_DIR }) => run(async (h) => {
    await h.journey('smoke', async (j) => {
        await j.step('Chromium shows the gateway health', async () => {
            const res = await j.goto('/health');
            j.check(res && [200, 503].includes(res.status()), `GET /health answered ${res && res.status()}`);
            await j.page.getByText('"services"').waitFor();
        });
        await j.step('a declared failing request is seen and does not fail the step', async () => {
            j.allow({ method: 'GET', url: '/api/products/NO-SUCH-PRODUCT', status: 404 });
            const res = await j.goto('/api/products/NO-SUCH-PRODUCT');
            j.check(res.status() === 404, `answered ${res.status()}`);
            j.check(j.saw({ url: '/api/products/NO-SUCH-PRODUCT', status: 404 }) === 1, 'the 404 was not seen');
        });
        await j.step('an undeclared failing request, a console error and an exception are caught', async () => {
            await j.goto('/api/products/NOT-DECLARED');
            await j.page.evaluate(() => { console.error('a console error'); setTimeout(() => { throw new Error('thrown'); }, 0); });
            await j.settle();
            const seen = j.problems.splice(0);   // caught, then cleared so that this step passes
            j.check(seen.some((p) => /HTTP: GET \/api\/products\/NOT-DECLARED → 404/.test(p)), `not caught: the 404 (${seen})`);
            j.check(seen.some((p) => /console error: a console error/.test(p)), `not caught: the console error (${seen})`);
            j.check(seen.some((p) => /uncaught exception: Error: thrown/.test(p)), `not caught: the exception (${seen})`);
        });
        await j.step('screenshots are saved', async () => {
            const fs = await import('node:fs');
            const dir = `${STACK_DIR}/screenshots/smoke`;
            j.check(fs.readdirSync(dir).filter((f) => f.endsWith('.png')).length >= 2, `no screenshots in ${dir}`);
        });
    });
}));
