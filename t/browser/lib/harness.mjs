// t/browser/lib/harness.mjs: runs the storefront's journeys in Debian's headless Chromium
// (/usr/bin/chromium, driven by playwright-core from tools/browser) against a running stack,
// and prints TAP for prove.
//
//   #!/usr/bin/env node
//   import { run, api, registerUser } from './lib/harness.mjs';
//   run(async (h) => {
//       await h.journey('catalogo', async (j) => {
//           await j.step('la portada carga', async () => {
//               await j.goto('/');
//               await j.page.getByRole('heading', { name: /Flores/ }).waitFor();
//           });
//       });
//   });
//
// Each journey gets a fresh browser context (no cookies, no storage) and one page.  Every step
// is one TAP test: it passes when its function returns and, once the page's requests have
// settled, nothing unexpected happened during it: no console error, no uncaught exception, no
// failed request and no HTTP answer >= 400 that the journey did not declare with j.allow().
// After every step (passed or not) a screenshot is saved to
// $FLORES_STACK_DIR/screenshots/<journey>/NN-<step>.png; a failed step prints its error, the
// page's address, what was unexpected and the screenshot's path.  After a failed step the
// journey's remaining steps are reported as skipped.  The browser is always closed.
//
// Environment: FLORES_URL (the gateway), FLORES_STACK_DIR (screenshots, secrets),
// FLORES_MAIL_DIR (mails), FLORES_PG_URL and FLORES_BIN_DIR / FLORES_BUILD_DIR (createAdmin),
// FLORES_BROWSER_FILE_TIMEOUT (seconds one file may run, default 300),
// FLORES_BROWSER_STEP_TIMEOUT (seconds one step may run, default 30).
// When Chromium or playwright-core is missing, tools/browser/install is run first.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// Without FLORES_URL in the environment the stack's facts come from its stack.env, as for the
// Perl tests: $FLORES_STACK_DIR/stack.env, else run/test/stack.env, else run/stack.env.
function loadStackEnv() {
    if (process.env.FLORES_URL) return;
    const candidates = [
        ...(process.env.FLORES_STACK_DIR ? [path.join(process.env.FLORES_STACK_DIR, 'stack.env')] : []),
        path.join(ROOT, 'run/test/stack.env'), path.join(ROOT, 'run/stack.env'),
    ];
    for (const file of candidates) {
        let text;
        try { text = fs.readFileSync(file, 'utf8'); } catch { continue; }
        for (const l of text.split('\n')) {
            const m = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*?)\s*$/.exec(l);
            if (!m) continue;
            const v = m[2].replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
            if (process.env[m[1]] === undefined) process.env[m[1]] = v;
        }
        process.stderr.write(`# stack facts read from ${file}\n`);
        return;
    }
}
loadStackEnv();
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage',
];
export const BASE_URL = (process.env.FLORES_URL || '').replace(/\/+$/, '');
export const STACK_DIR = process.env.FLORES_STACK_DIR || path.join(ROOT, 'run');
export const MAIL_DIR = process.env.FLORES_MAIL_DIR || path.join(STACK_DIR, 'mail');

const FILE_TIMEOUT_S = Number(process.env.FLORES_BROWSER_FILE_TIMEOUT || 300);
const STEP_TIMEOUT_S = Number(process.env.FLORES_BROWSER_STEP_TIMEOUT || 30);
const PLAYWRIGHT = path.join(ROOT, 'tools/browser/node_modules/playwright-core');

export const VIEWPORTS = {
    desktop: { viewport: { width: 1280, height: 800 } },
    phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

// ---- TAP -----------------------------------------------------------------------------------

let testNo = 0;
let failures = 0;

function line(s) { process.stdout.write(`${s}\n`); }
export function diag(s) {
    for (const l of String(s).split('\n')) process.stderr.write(`# ${l}\n`);
}
export function note(s) {
    for (const l of String(s).split('\n')) line(`# ${l}`);
}
function clean(s) { return String(s).replace(/[\r\n#]+/g, ' ').trim(); }
export function ok(cond, name, ...diags) {
    testNo++;
    if (cond) {
        line(`ok ${testNo} - ${clean(name)}`);
    } else {
        failures++;
        line(`not ok ${testNo} - ${clean(name)}`);
        for (const d of diags) if (d !== undefined && d !== '') diag(d);
    }
    return !!cond;
}
function skip(name, why) {
    testNo++;
    line(`ok ${testNo} - ${clean(name)} # SKIP ${clean(why)}`);
}

// ---- small helpers -------------------------------------------------------------------------

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

export function randomHex(n = 4) { return crypto.randomBytes(n).toString('hex'); }

let emailSeq = 0;
export function uniqueEmail(tag = 'b') {
    emailSeq++;
    return `${tag}-${Date.now()}-${process.pid}-${randomHex(3)}-${emailSeq}@example.com`.toLowerCase();
}

function slug(s) {
    return String(s).normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
        .replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'step';
}

// withTimeout(promise, ms, what): rejects when the promise takes longer than ms.
export function withTimeout(p, ms, what) {
    let timer;
    return Promise.race([
        p,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what}: took longer than ${ms / 1000} s`)), ms);
        }),
    ]).finally(() => clearTimeout(timer));
}

// waitFor(fn, {timeout, interval, what}): polls fn until it returns a truthy value.
export async function waitFor(fn, { timeout = 10000, interval = 200, what = 'condition' } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (e) { last = e; }
        if (Date.now() > end) {
            throw new Error(`waited ${timeout / 1000} s for ${what}${last ? `: ${last.message}` : ''}`);
        }
        await sleep(interval);
    }
}

// ---- the API, from node ----------------------------------------------------------------------

// The gateway limits anonymous callers by address (register: 10 per 15 minutes).  Requests
// made here (not by the browser) come from their own loopback addresses so that the journeys
// do not spend the browser's (127.0.0.1) allowance; Linux answers on all of 127/8.
const SRC_NET = 216 + (process.pid % 38);
let srcSeq = crypto.randomInt(1000);
function nextSource() {
    srcSeq = (srcSeq + 1) % 64516;
    return `127.${SRC_NET}.${1 + Math.floor(srcSeq / 254)}.${1 + (srcSeq % 254)}`;
}

// api(method, path, body, {token, headers, source, timeout}) → {status, headers, json, text}.
export function api(method, urlPath, body, opts = {}) {
    const url = new URL(/^https?:/.test(urlPath) ? urlPath : BASE_URL + urlPath);
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    let data;
    if (body !== undefined && body !== null) {
        data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
        headers['Content-Type'] ||= 'application/json';
        headers['Content-Length'] = data.length;
    }
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const source = opts.source === undefined ? nextSource() : opts.source;
    return new Promise((resolve, reject) => {
        const req = http.request({
            host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers,
            ...(source ? { localAddress: source } : {}), agent: false,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json;
                try { json = JSON.parse(text); } catch { json = undefined; }
                resolve({ status: res.statusCode, headers: res.headers, json, text });
            });
        });
        req.setTimeout(opts.timeout || 15000, () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

function expectStatus(res, status, what) {
    if (res.status !== status) {
        throw new Error(`${what}: HTTP ${res.status}, expected ${status}: ${res.text.slice(0, 400)}`);
    }
    return res.json?.data;
}

// registerUser({name, email, password, tag}) → {id, name, email, password, role}
export async function registerUser(o = {}) {
    const u = {
        name: o.name || 'Clienta de Prueba',
        email: o.email || uniqueEmail(o.tag || 'cliente'),
        password: o.password || `clave-Segura-${randomHex(4)}`,
    };
    const d = expectStatus(await api('POST', '/api/auth/register', u), 201, `register ${u.email}`);
    return { ...u, id: d.user.id, role: d.user.role };
}

// loginApi(user) → {token, refreshToken, expiresIn, user}
export async function loginApi(u) {
    const res = await api('POST', '/api/auth/login', { email: u.email, password: u.password });
    return expectStatus(res, 200, `login ${u.email}`);
}

// createAdmin({name, email, password}) → an administrator made as the docs say the first one
// is: flores-admin create-admin of the stack's build, password on standard input.
export async function createAdmin(o = {}) {
    const bin = path.join(process.env.FLORES_BIN_DIR || process.env.FLORES_BUILD_DIR
        || path.join(ROOT, 'run/build'), 'fcgi-services/auth/flores-admin');
    const a = {
        name: o.name || 'Administración Flores',
        email: o.email || uniqueEmail('admin'),
        password: o.password || `clave-Admin-${randomHex(6)}`,
    };
    if (!process.env.FLORES_PG_URL) throw new Error('createAdmin: FLORES_PG_URL is not set');
    const r = spawnSync(bin, ['create-admin', '--email', a.email, '--name', a.name], {
        input: `${a.password}\n`, timeout: 60000, encoding: 'utf8',
        env: { ...process.env, FLORES_PG_SCHEMA: 'auth' },
    });
    if (r.error || r.status !== 0) {
        throw new Error(`${bin} create-admin: ${r.error?.message || `exit ${r.status}`} ${r.stdout} ${r.stderr}`);
    }
    const d = await loginApi(a);
    if (d.user?.role !== 'admin') throw new Error(`createAdmin: ${a.email} logs in with role ${d.user?.role}`);
    return { ...a, id: d.user.id, role: 'admin', token: d.token };
}

// ---- the stack's components ----------------------------------------------------------------

// flores(args...): ./flores on the same stack (FLORES_STACK_DIR, FLORES_PORT_BASE and
// FLORES_HTTP_PORT come from the environment, as stack.env has them) → {status, out}.
export function flores(...args) {
    const r = spawnSync(path.join(ROOT, 'flores'), args, { encoding: 'utf8', timeout: 180000, env: process.env });
    return { status: r.error ? -1 : r.status, out: `${r.stdout || ''}${r.stderr || ''}${r.error ? r.error.message : ''}` };
}

const stopped = new Set();

// stopComponent(name) / startComponent(name): a store or service of the stack taken away and
// brought back; one still stopped when the file ends (or is interrupted) is started again.
export function stopComponent(name) {
    stopped.add(name);
    const r = flores('stop', name);
    if (r.status !== 0) throw new Error(`./flores stop ${name} exited ${r.status}: ${r.out}`);
}
export function startComponent(name) {
    const r = flores('start', name);
    if (r.status !== 0) throw new Error(`./flores start ${name} exited ${r.status}: ${r.out}`);
    stopped.delete(name);
}
function restoreComponents() {
    for (const name of [...stopped]) {
        diag(`restoring ${name}: ./flores start ${name}`);
        const r = flores('start', name);
        if (r.status !== 0) diag(`./flores start ${name} exited ${r.status}: ${r.out}`);
        stopped.delete(name);
    }
}

// ---- mail from the SMTP sink ------------------------------------------------------------------

function decodeQP(s) {
    const bytes = [];
    const t = s.replace(/=\r?\n/g, '');
    for (let i = 0; i < t.length; i++) {
        if (t[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(t.slice(i + 1, i + 3))) {
            bytes.push(parseInt(t.slice(i + 1, i + 3), 16));
            i += 2;
        } else {
            bytes.push(...Buffer.from(t[i], 'utf8'));
        }
    }
    return Buffer.from(bytes).toString('utf8');
}

function decodeWords(v) {
    return v.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*/g, (_, cs, enc, txt) => (
        /^b$/i.test(enc) ? Buffer.from(txt, 'base64').toString('utf8')
            : decodeQP(txt.replace(/_/g, ' '))));
}

function parseHeaders(head) {
    const h = {};
    const lines = [];
    for (const l of head.split(/\r?\n/)) {
        if (/^[ \t]/.test(l) && lines.length) lines[lines.length - 1] += ` ${l.trim()}`;
        else lines.push(l);
    }
    for (const l of lines) {
        const m = /^([^:\s]+):\s*(.*)$/.exec(l);
        if (m) (h[m[1].toLowerCase()] ||= []).push(m[2]);
    }
    return h;
}

function bodyText(headers, body) {
    const ct = (headers['content-type'] || ['text/plain'])[0];
    const b = /boundary="?([^";]+)"?/i.exec(ct);
    if (/^multipart\//i.test(ct) && b) {
        return body.split(`--${b[1]}`).slice(1)
            .filter((p) => !p.startsWith('--'))
            .map((p) => {
                const [ph, ...rest] = p.replace(/^\r?\n/, '').split(/\r?\n\r?\n/);
                return bodyText(parseHeaders(ph), rest.join('\n\n'));
            }).join('\n');
    }
    const enc = ((headers['content-transfer-encoding'] || [''])[0]).toLowerCase();
    if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (enc === 'quoted-printable') return decodeQP(body);
    return body;
}

// readMails() → [{file, rcpt: [...], from, subject, headers, text, mtime}], oldest first.
export function readMails() {
    let names = [];
    try { names = fs.readdirSync(MAIL_DIR); } catch { return []; }
    const out = [];
    for (const n of names) {
        const file = path.join(MAIL_DIR, n);
        let raw;
        let st;
        try { st = fs.statSync(file); if (!st.isFile()) continue; raw = fs.readFileSync(file, 'utf8'); } catch { continue; }
        const split = raw.search(/\r?\n\r?\n/);
        const head = split < 0 ? raw : raw.slice(0, split);
        const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
        const h = parseHeaders(head);
        out.push({
            file, mtime: st.mtimeMs, headers: h,
            rcpt: (h['x-rcpt-args'] || []).map((v) => (/<([^>]*)>/.exec(v) || [])[1]).filter(Boolean),
            from: (/<([^>]*)>/.exec((h['x-mail-args'] || [''])[0]) || [])[1],
            subject: decodeWords((h.subject || [''])[0]),
            text: bodyText(h, body),
        });
    }
    return out.sort((a, b) => a.mtime - b.mtime);
}

// waitMail(to, {timeout, match}) → the first mail whose envelope recipient is `to` (and whose
// subject or text matches `match`, a RegExp, when given).
export function waitMail(to, { timeout = 20000, match } = {}) {
    return waitFor(() => readMails().find((m) => m.rcpt.some((r) => r.toLowerCase() === to.toLowerCase())
        && (!match || match.test(m.subject) || match.test(m.text))),
    { timeout, interval: 250, what: `a mail to ${to} in ${MAIL_DIR}` });
}

// ---- the browser -------------------------------------------------------------------------------

function loadPlaywright() {
    const require = createRequire(import.meta.url);
    const need = !fs.existsSync(CHROMIUM) || !fs.existsSync(path.join(PLAYWRIGHT, 'package.json'));
    if (need) {
        const r = spawnSync(path.join(ROOT, 'tools/browser/install'), [], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900000 });
        if (r.status !== 0) throw new Error(`tools/browser/install failed (exit ${r.status})`);
    }
    return require(PLAYWRIGHT);
}

export async function launchChromium() {
    const { chromium } = loadPlaywright();
    return chromium.launch({
        executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60000,
        // No proxy from the environment: everything is on 127.0.0.1.
        env: { ...process.env, http_proxy: '', https_proxy: '', HTTP_PROXY: '', HTTPS_PROXY: '' },
    });
}

function describeUrl(u) {
    try {
        const x = new URL(u);
        return x.origin === new URL(BASE_URL || 'http://x').origin ? x.pathname + x.search : u;
    } catch { return u; }
}

// A declared failure: {url: string (path, with the query when it has one) | RegExp (tested
// on the path with the query), method?, status?: number | [numbers], times?: number}.
function matches(spec, ev) {
    if (spec.method && spec.method.toUpperCase() !== ev.method) return false;
    if (spec.status !== undefined) {
        const st = Array.isArray(spec.status) ? spec.status : [spec.status];
        if (!st.includes(ev.status)) return false;
    }
    if (spec.url instanceof RegExp) return spec.url.test(ev.path);
    if (typeof spec.url === 'string') {
        return spec.url.includes('?') ? ev.path === spec.url : ev.path.split('?')[0] === spec.url;
    }
    return true;
}

class Journey {
    constructor(name, context, page, opts) {
        this.name = name;
        this.context = context;
        this.page = page;
        this.opts = opts;
        this.dir = path.join(STACK_DIR, 'screenshots', slug(name));
        this.stepNo = 0;
        this.failed = false;
        this.problems = [];     // unexpected things since the last check
        this.allowed = [];      // declared failures
        this.allowedConsole = [];
        this.inflight = new Set();
        this.seen = [];         // every failure seen, expected or not: {kind, method, path, status}
        fs.rmSync(this.dir, { recursive: true, force: true });
        fs.mkdirSync(this.dir, { recursive: true });
        this.watch();
    }

    watch() {
        const p = this.page;
        p.on('request', (r) => this.inflight.add(r));
        p.on('requestfinished', (r) => this.inflight.delete(r));
        p.on('requestfailed', (r) => {
            this.inflight.delete(r);
            const err = r.failure()?.errorText || 'failed';
            // A request cut short because the page moved on (navigation, AbortController)
            // is not a failure of the shop.
            if (/ERR_ABORTED/.test(err)) return;
            this.failure({ kind: 'request failed', method: r.method(), path: describeUrl(r.url()), status: 0, detail: err });
        });
        p.on('response', (res) => {
            if (res.status() >= 400) {
                const r = res.request();
                this.failure({ kind: 'HTTP', method: r.method(), path: describeUrl(res.url()), status: res.status() });
            }
        });
        p.on('console', (m) => {
            if (m.type() !== 'error') return;
            const text = m.text();
            // "Failed to load resource: ..." repeats an answer >= 400 or a failed request,
            // which the network events above judge (with the journey's declarations).
            if (/^Failed to load resource/.test(text)) return;
            if (this.allowedConsole.some((re) => re.test(text))) return;
            const loc = m.location();
            this.problems.push(`console error: ${text}${loc?.url ? ` (${describeUrl(loc.url)}:${loc.lineNumber})` : ''}`);
        });
        p.on('pageerror', (e) => {
            const text = `${e.name || 'Error'}: ${e.message}`;
            if (this.allowedConsole.some((re) => re.test(text))) return;
            this.problems.push(`uncaught exception: ${text}`);
        });
        p.on('crash', () => this.problems.push('the page crashed'));
        p.on('dialog', (d) => { this.problems.push(`unexpected dialog: ${d.type()} ${d.message()}`); d.dismiss().catch(() => {}); });
    }

    failure(ev) {
        this.seen.push(ev);
        const spec = this.allowed.find((s) => (s.times === undefined || s.times > 0) && matches(s, ev));
        if (spec) {
            if (spec.times !== undefined) spec.times--;
            return;
        }
        this.problems.push(`${ev.kind}: ${ev.method} ${ev.path} → ${ev.status || ev.detail}`);
    }

    // allow({url, method, status, times}): this failure is expected (e.g. 401 on a wrong
    // password).  Returns the spec; j.disallow(spec) takes it back.
    allow(spec) { this.allowed.push(spec); return spec; }
    disallow(spec) { this.allowed = this.allowed.filter((s) => s !== spec); }
    allowConsole(re) { this.allowedConsole.push(re); }

    // saw({url, method, status}): how many failures like this happened (expected or not).
    saw(spec) { return this.seen.filter((ev) => matches(spec, ev)).length; }

    url(p = '/') { return BASE_URL + p; }
    // goto(path): loads the page from the gateway (a full page load), waits for the app to
    // draw it.  Returns the document's response.
    async goto(p, o = {}) {
        const { draw, ...opts } = o;
        const res = await this.page.goto(this.url(p), { waitUntil: 'load', ...opts });
        if (draw !== false && res && (res.headers()['content-type'] || '').startsWith('text/html')) {
            // index.html's <main> holds #boot until the router's first page replaces it.
            await this.page.waitForFunction(() => {
                const main = document.querySelector('main#main');
                return !main || (!document.getElementById('boot') && !main.hasAttribute('aria-busy'));
            }, null, { polling: 50 });
        }
        return res;
    }

    // Until no request of the page has been in flight for 150 ms (at most `max` ms).
    async settle(max = 5000) {
        const end = Date.now() + max;
        let quietSince = Date.now();
        while (Date.now() < end) {
            if (this.inflight.size) quietSince = Date.now();
            else if (Date.now() - quietSince >= 150) return;
            await sleep(50);
        }
    }

    async screenshot(title) {
        const file = path.join(this.dir, `${String(this.stepNo).padStart(2, '0')}-${slug(title)}.png`);
        try {
            await withTimeout(this.page.screenshot({ path: file, fullPage: true, timeout: 10000 }), 15000, 'screenshot');
            return file;
        } catch (e) {
            return `(no screenshot: ${e.message.split('\n')[0]})`;
        }
    }

    // step(title, fn, {timeout}): one TAP test (see the top of this file).
    async step(title, fn, o = {}) {
        this.stepNo++;
        const name = `${this.name}: ${title}`;
        if (this.failed) { skip(name, 'an earlier step of this journey failed'); return false; }
        const ms = (o.timeout || STEP_TIMEOUT_S) * 1000;
        let error;
        try {
            await withTimeout(Promise.resolve().then(fn), ms, `step "${title}"`);
        } catch (e) {
            error = e;
        }
        await this.settle();
        const shot = await this.screenshot(title);
        const problems = this.problems.splice(0);
        const good = !error && problems.length === 0;
        if (!good) this.failed = true;
        ok(good, name,
            error ? `error: ${(error.stack || String(error)).split('\n').slice(0, 6).join('\n  ')}` : '',
            problems.length ? `unexpected during this step:\n  ${problems.join('\n  ')}` : '',
            `page: ${this.page.url()}`, `screenshot: ${shot}`);
        return good;
    }

    // check(cond, message): throws (failing the step) unless cond.
    check(cond, message) { if (!cond) throw new Error(message); }

    // Until the storefront has drawn its page: <main> not aria-busy (the router sets it
    // while a page renders).
    async ready() {
        await this.page.waitForSelector('main#main:not([aria-busy])', { state: 'attached' });
    }

    // Marks what <main> shows now, so that drawn() can tell the next page from this one.
    async markPage() {
        await this.page.evaluate(() => {
            const main = document.querySelector('main#main');
            if (!main) return;
            let first = main.firstElementChild;
            if (!first) { first = document.createElement('span'); first.hidden = true; main.appendChild(first); }
            first.setAttribute('data-harness-stale', '');
        });
    }

    // Until the router has replaced the marked page and finished drawing the new one.
    async drawn() {
        await this.page.waitForFunction(() => {
            const main = document.querySelector('main#main');
            return main && !main.querySelector('[data-harness-stale]') && !main.hasAttribute('aria-busy');
        }, null, { polling: 50 });
    }

    // nav(path): goes to path inside the single-page app, as a click on a link does (no page
    // load, so the in-memory session stays), then waits for the new page to be drawn.
    async nav(p) {
        await this.markPage();
        await this.page.evaluate((href) => {
            const a = document.createElement('a');
            a.href = href;
            document.body.appendChild(a);
            a.click();
            a.remove();
        }, p);
        await this.drawn();
    }

    // act(fn): runs fn (a click that makes the app draw another page or draw this one again)
    // and waits for the page to be drawn anew.
    async act(fn) {
        await this.markPage();
        await fn();
        await this.drawn();
    }

    // checkLabels(): throws unless every visible control in <main> has an accessible name
    // (a <label>, aria-label or aria-labelledby; a button or link its text).
    async checkLabels() {
        const bad = await this.page.evaluate(() => {
            const out = [];
            for (const el of document.querySelectorAll('main input, main select, main textarea, main button, main a[href]')) {
                if (el.type === 'hidden' || !(el.offsetWidth || el.offsetHeight || el.getClientRects().length)) continue;
                const named = (el.labels && el.labels.length && [...el.labels].some((l) => l.textContent.trim()))
                    || (el.getAttribute('aria-label') || '').trim()
                    || (el.getAttribute('aria-labelledby') || '').split(' ').some((id) => document.getElementById(id)?.textContent.trim())
                    || ((el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim());
                if (!named) out.push(el.outerHTML.slice(0, 120));
            }
            return out;
        });
        this.check(bad.length === 0, `controls without an accessible name:\n  ${bad.join('\n  ')}`);
    }

    // tabTo(locator, max): presses Tab until the locator's element has the focus (at most
    // max times), then throws unless the focus is visible (an outline or a box shadow).
    async tabTo(locator, max = 60) {
        const handle = await locator.elementHandle();
        for (let i = 0; i < max; i++) {
            await this.page.keyboard.press('Tab');
            if (await handle.evaluate((el) => el === document.activeElement)) {
                const visible = await handle.evaluate((el) => {
                    const cs = getComputedStyle(el);
                    return (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
                });
                this.check(visible, 'the focused control shows no focus outline');
                return;
            }
        }
        throw new Error(`${max} presses of Tab did not reach ${locator}`);
    }

    // signIn(user, next): through the login page (/ingresar?next=...), as a person does.
    async signIn(user, next = '/') {
        await this.goto(`/ingresar?next=${encodeURIComponent(next)}`);
        const form = this.page.locator('main form');
        await form.getByLabel('Correo electrónico').fill(user.email);
        await form.getByLabel('Contraseña').fill(user.password);
        await this.act(() => form.getByRole('button', { name: 'Ingresar' }).click());
        await this.page.getByRole('button', { name: 'Salir' }).waitFor();
        await this.page.waitForURL((u) => u.pathname === next.split('?')[0]);
    }
}

class Harness {
    constructor() { this.browser = null; }

    async browserUp() {
        this.browser ||= await launchChromium();
        return this.browser;
    }

    // journey(name, fn, {viewport: 'desktop' | 'phone'}): a fresh context and page for fn(j).
    async journey(name, fn, opts = {}) {
        let ctx;
        let j;
        try {
            const b = await this.browserUp();
            ctx = await b.newContext({ ...VIEWPORTS[opts.viewport || 'desktop'], locale: 'es-CL', timezoneId: 'America/Santiago' });
            const page = await ctx.newPage();
            page.setDefaultTimeout(10000);
            page.setDefaultNavigationTimeout(20000);
            j = new Journey(name, ctx, page, opts);
        } catch (e) {
            ok(false, `${name}: the browser starts`, e.stack || String(e));
            return false;
        }
        try {
            await fn(j);
            if (!j.failed) {
                await j.settle();
                const problems = j.problems.splice(0);
                ok(problems.length === 0, `${name}: nothing unexpected at the end`,
                    problems.length ? `unexpected:\n  ${problems.join('\n  ')}` : '');
            }
        } catch (e) {
            ok(false, `${name}: the journey ran to its end`, e.stack || String(e));
        } finally {
            await withTimeout(ctx.close(), 10000, 'closing the context').catch(() => {});
        }
        return !j.failed;
    }

    async close() {
        const b = this.browser;
        this.browser = null;
        if (b) await withTimeout(b.close(), 15000, 'closing Chromium').catch(() => {});
    }
}

// run(async (h) => { await h.journey(...) }): the body of a t/browser/*.t file.  Prints the
// plan at the end, exits 0 when every test passed.
export async function run(body) {
    const h = new Harness();
    let finished = false;
    const finish = async (why) => {
        if (finished) return;
        finished = true;
        if (why) ok(false, why);
        await h.close();
        restoreComponents();
        if (testNo === 0) ok(false, 'the file ran at least one test');
        line(`1..${testNo}`);
        process.exitCode = failures ? 1 : 0;
    };
    const watchdog = setTimeout(() => {
        finish(`watchdog: the file ran over ${FILE_TIMEOUT_S} s`).finally(() => process.exit(1));
    }, FILE_TIMEOUT_S * 1000);
    for (const sig of ['SIGINT', 'SIGTERM']) {
        process.on(sig, () => { finish(`interrupted (${sig})`).finally(() => process.exit(1)); });
    }
    try {
        if (!BASE_URL) throw new Error('FLORES_URL is not set (set -a; . <stack>/stack.env; set +a)');
        await body(h);
    } catch (e) {
        ok(false, 'the file ran to its end', e.stack || String(e));
    } finally {
        clearTimeout(watchdog);
        await finish();
    }
}
