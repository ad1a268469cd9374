// tools/browser/pageweight.mjs: the weight of a first visit to one page of the shop, measured
// in Debian's headless Chromium (bench/storefront runs it).
//
//   node tools/browser/pageweight.mjs URL [rounds] [budget-bytes]
//
// Each round opens a fresh browser context (empty cache, no cookies), loads URL, waits until
// no request has been in flight for 1 s (the page's own API calls included, at most 20 s),
// and adds up what crossed the network for every response (Chromium's encodedDataLength:
// headers plus the body as sent, compressed when it was), except product images (image
// requests under /images/productos/).  Then the same page once more in the same context: the
// repeat visit, which the caching headers should make small.  Prints one table per round,
// the median, DOMContentLoaded and load times, and exits 1 when the median first load is over
// the budget, 2 when the page could not be measured.

import { launchChromium } from '../../t/browser/lib/harness.mjs';

const [url, roundsArg = '3', budgetArg = '300000'] = process.argv.slice(2);
const ROUNDS = Number(roundsArg);
const BUDGET = Number(budgetArg);
if (!url || !(ROUNDS >= 1 && ROUNDS <= 20) || !(BUDGET > 0)) {
    process.stderr.write('usage: pageweight.mjs URL [rounds 1-20] [budget-bytes]\n');
    process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const isProductImage = (r) => r.type === 'Image' && /^\/images\/productos\//.test(new URL(r.url).pathname);

async function visit(page, cdp) {
    const reqs = new Map();
    let inflight = 0;
    let last = Date.now();
    const onReq = (e) => {
        inflight++;
        last = Date.now();
        reqs.set(e.requestId, { url: e.request.url, type: e.type || 'Other', bytes: 0, status: 0, done: false });
    };
    const onResp = (e) => {
        const r = reqs.get(e.requestId);
        if (r) { r.status = e.response.status; r.type = e.type || r.type; r.encoding = e.response.headers['content-encoding'] || e.response.headers['Content-Encoding'] || ''; r.cached = e.response.fromDiskCache || e.response.fromMemoryCache || false; }
    };
    const onFinish = (e) => {
        const r = reqs.get(e.requestId);
        if (r && !r.done) { r.done = true; r.bytes = e.encodedDataLength; inflight--; last = Date.now(); }
    };
    const onFail = (e) => {
        const r = reqs.get(e.requestId);
        if (r && !r.done) { r.done = true; r.failed = e.errorText; inflight--; last = Date.now(); }
    };
    cdp.on('Network.requestWillBeSent', onReq);
    cdp.on('Network.responseReceived', onResp);
    cdp.on('Network.loadingFinished', onFinish);
    cdp.on('Network.loadingFailed', onFail);
    try {
        const res = await page.goto(url, { waitUntil: 'load', timeout: 30000 });
        if (!res || res.status() !== 200) throw new Error(`${url} answered ${res ? res.status() : 'nothing'}`);
        const end = Date.now() + 20000;
        while (Date.now() < end && (inflight > 0 || Date.now() - last < 1000)) await sleep(100);
        const nav = await page.evaluate(() => {
            const n = performance.getEntriesByType('navigation')[0];
            return n ? { dcl: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime } : null;
        });
        return { reqs: [...reqs.values()], nav };
    } finally {
        cdp.off('Network.requestWillBeSent', onReq);
        cdp.off('Network.responseReceived', onResp);
        cdp.off('Network.loadingFinished', onFinish);
        cdp.off('Network.loadingFailed', onFail);
    }
}

function summarize(reqs) {
    const counted = reqs.filter((r) => !isProductImage(r));
    const images = reqs.filter(isProductImage);
    const byType = new Map();
    for (const r of counted) {
        const t = byType.get(r.type) || { n: 0, bytes: 0 };
        t.n++;
        t.bytes += r.bytes;
        byType.set(r.type, t);
    }
    return {
        total: counted.reduce((s, r) => s + r.bytes, 0),
        requests: counted.length,
        images: { n: images.length, bytes: images.reduce((s, r) => s + r.bytes, 0) },
        byType,
        failed: reqs.filter((r) => r.failed || r.status >= 400),
        uncompressed: counted.filter((r) => r.bytes > 1500 && !r.encoding && ['Document', 'Script', 'Stylesheet', 'Fetch', 'XHR'].includes(r.type)),
    };
}

const browser = await launchChromium();
const firsts = [];
const repeats = [];
const dcls = [];
const loads = [];
let problems = 0;
try {
    for (let i = 1; i <= ROUNDS; i++) {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'es-CL' });
        try {
            const page = await ctx.newPage();
            const cdp = await ctx.newCDPSession(page);
            await cdp.send('Network.enable');
            const first = await visit(page, cdp);
            const s = summarize(first.reqs);
            const again = summarize((await visit(page, cdp)).reqs);
            firsts.push(s.total);
            repeats.push(again.total);
            if (first.nav) { dcls.push(first.nav.dcl); loads.push(first.nav.load); }
            console.log(`round ${i}: first load ${kb(s.total)} in ${s.requests} requests `
                + `(product images apart: ${s.images.n}, ${kb(s.images.bytes)}); repeat visit ${kb(again.total)}; `
                + `DOMContentLoaded ${first.nav ? first.nav.dcl.toFixed(0) : '?'} ms, load ${first.nav ? first.nav.load.toFixed(0) : '?'} ms`);
            if (i === 1) {
                for (const [type, t] of [...s.byType].sort((a, b) => b[1].bytes - a[1].bytes)) {
                    console.log(`  ${type.padEnd(12)} ${String(t.n).padStart(3)} requests ${kb(t.bytes).padStart(10)}`);
                }
                for (const r of s.uncompressed) console.log(`  note: sent uncompressed: ${r.type} ${new URL(r.url).pathname} (${kb(r.bytes)})`);
            }
            for (const r of s.failed) {
                problems++;
                console.log(`  problem: ${r.url} ${r.failed || r.status}`);
            }
        } finally {
            await ctx.close().catch(() => {});
        }
    }
} catch (e) {
    console.error(`bench storefront: ${e.message}`);
    await browser.close().catch(() => {});
    process.exit(2);
}
await browser.close().catch(() => {});

const m = median(firsts);
console.log('');
console.log(`first catalogue load (median of ${ROUNDS}, product images excluded): ${kb(m)} of a ${kb(BUDGET)} budget (${(100 * m / BUDGET).toFixed(0)} %)`);
console.log(`repeat visit (median): ${kb(median(repeats))}`);
if (dcls.length) console.log(`DOMContentLoaded (median): ${median(dcls).toFixed(0)} ms; load (median): ${median(loads).toFixed(0)} ms`);
if (problems) console.log(`${problems} failed requests or answers >= 400 during the loads`);
if (m > BUDGET) {
    console.log(`OVER BUDGET by ${kb(m - BUDGET)}`);
    process.exit(1);
}
console.log('within budget');
process.exit(problems ? 1 : 0);
