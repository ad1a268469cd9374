#!/usr/bin/env node
// 59-page-weight.t: the catalogue's first load stays within its budget of 300 KB transferred
// (product images apart), measured as bench/storefront does (tools/browser/pageweight.mjs,
// one round in a fresh browser context), and nothing it loads fails.
'use strict';

import('./lib/harness.mjs').then(({ run, ok, note, ROOT, BASE_URL }) => run(async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [`${ROOT}/tools/browser/pageweight.mjs`, `${BASE_URL}/`, '1', '300000'],
        { encoding: 'utf8', timeout: 120000 });
    const out = `${r.stdout || ''}${r.stderr || ''}`;
    note(out.trim());
    const m = /first catalogue load .*?: ([\d.]+) KB of a/.exec(out);
    ok(m !== null, 'the first catalogue load was measured', out);
    ok(r.status === 0, `within 300 KB, nothing failed (${m ? m[1] : '?'} KB)`, out);
}));
