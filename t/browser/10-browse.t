#!/usr/bin/env node
// 10-browse.t: a visitor browses the catalogue: the first page and its pages, a category and a
// price range, a search, a sort, a product's page with its images, details and reviews, and a
// product that does not exist; then the same catalogue on a phone.  The counts shown are the
// API's.  Also the serving: security headers, the versioned assets' caching, compression.
'use strict';

import('./lib/harness.mjs').then(({ run, api }) => run(async (h) => {
    const total = async (q) => (await api('GET', `/api/products?limit=1&${q}`)).json.data.pagination.total;

    await h.journey('visitante-navega', async (j) => {
        const main = j.page.locator('main');
        const status = main.getByRole('status').filter({ hasText: /productos?|No encontramos/ });

        await j.step('the catalogue opens with its first page of products', async () => {
            const res = await j.goto('/');
            const hd = res.headers();
            j.check(/default-src 'self'/.test(hd['content-security-policy'] || ''), `CSP: ${hd['content-security-policy']}`);
            j.check(/frame-ancestors 'none'/.test(hd['content-security-policy'] || ''), 'CSP frame-ancestors');
            j.check(hd['x-content-type-options'] === 'nosniff', 'nosniff');
            j.check(!!hd['referrer-policy'], 'Referrer-Policy');
            j.check(/no-cache/.test(hd['cache-control'] || ''), `index.html cache-control: ${hd['cache-control']}`);
            await main.getByRole('heading', { name: 'Catálogo', level: 1 }).waitFor();
            const n = await total('');
            await status.filter({ hasText: `${n} productos` }).waitFor();
            j.check(await main.locator('.product-card').count() === 12, 'twelve products on the first page');
            const prices = await main.locator('.product-card .price').evaluateAll((els) => els.map((e) => e.firstChild.textContent));
            j.check(prices.length === 12 && prices.every((p) => /^\$\d{1,3}(\.\d{3})+$/.test(p)), `prices in CLP ($35.000): ${prices}`);
        });

        await j.step('assets are versioned, cached for a year and compressed', async () => {
            const src = await j.page.locator('script[type=module]').getAttribute('src');
            j.check(/^\/a\/[0-9a-f]{12}\/js\/app\.js$/.test(src), `script src ${src}`);
            const r = await api('GET', src, undefined, { headers: { 'Accept-Encoding': 'gzip' } });
            j.check(/immutable/.test(r.headers['cache-control'] || '') && /max-age=31536000/.test(r.headers['cache-control']), `asset cache-control ${r.headers['cache-control']}`);
            j.check(r.headers['content-encoding'] === 'gzip', 'gzip');
            j.check(/^text\/javascript/.test(r.headers['content-type']), `type ${r.headers['content-type']}`);
        });

        await j.step('the next page', async () => {
            await j.act(() => main.getByRole('navigation', { name: 'Páginas' }).getByRole('link', { name: 'Siguiente »' }).click());
            j.check(new URL(j.page.url()).searchParams.get('pagina') === '2', `address ${j.page.url()}`);
            await main.getByRole('navigation', { name: 'Páginas' }).locator('[aria-current=page]').filter({ hasText: '2' }).waitFor();
        });

        await j.step('a category and a price range', async () => {
            await main.getByLabel('Categoría').selectOption('cumpleanos');
            await main.getByLabel('Precio mínimo').fill('20000');
            await main.getByLabel('Precio máximo').fill('60000');
            await j.act(() => main.getByRole('button', { name: 'Aplicar' }).click());
            const u = new URL(j.page.url());
            j.check(u.searchParams.get('categoria') === 'cumpleanos' && u.searchParams.get('min') === '20000', `address ${u}`);
            const n = await total('category=cumpleanos&minPrice=20000&maxPrice=60000');
            await status.filter({ hasText: n ? new RegExp(`^${n} productos?`) : /No encontramos/ }).waitFor();
        });

        await j.step('a one-letter search is refused next to the field', async () => {
            await j.goto('/');
            await main.getByLabel('Buscar').fill('r');
            await main.getByRole('button', { name: 'Aplicar' }).click();
            await main.getByText('Escribe al menos 2 letras para buscar.').waitFor();
            j.check(await main.getByLabel('Buscar').getAttribute('aria-invalid') === 'true', 'the field is marked');
        });

        await j.step('a search, sorted by price', async () => {
            await main.getByLabel('Buscar').fill('rosas');
            await main.getByLabel('Ordenar por').selectOption('price');   // submits
            await j.drawn();
            await main.getByRole('heading', { name: 'Resultados para «rosas»' }).waitFor();
            const n = await total('search=rosas');
            await status.filter({ hasText: new RegExp(`^${n} productos?`) }).waitFor();
            const prices = await main.locator('.product-card .price').evaluateAll((els) =>
                els.map((e) => Number(e.firstChild.textContent.replace(/\D/g, ''))));
            j.check(prices.length > 1 && prices.every((p, i) => i === 0 || prices[i - 1] <= p), `sorted: ${prices}`);
        });

        await j.step("a product's page: images, details, reviews", async () => {
            await j.act(() => main.locator('.product-card h3 a').first().click());
            j.check(/^\/producto\//.test(new URL(j.page.url()).pathname), j.page.url());
            await main.getByRole('heading', { level: 1 }).waitFor();
            await main.getByRole('heading', { name: 'Opiniones' }).waitFor();
            // A product of the seed catalogue, with every detail.
            await j.nav('/producto/AML001');
            await main.getByRole('heading', { level: 1 }).filter({ hasText: 'Pasión Eterna' }).waitFor();
            const apiPrice = (await api('GET', '/api/products/AML001')).json.data.product.price;
            const shown = await main.locator('p.price').first().evaluate((e) => e.firstChild.textContent);
            j.check(shown === new Intl.NumberFormat('es-CL', { style: 'currency', currency: 'CLP' }).format(apiPrice),
                `price shown ${shown}, API ${apiPrice}`);
            await main.getByRole('button', { name: 'Agregar al carrito' }).waitFor();
            j.check(await main.locator('img.gallery-main').evaluate((i) => i.complete && i.naturalWidth > 0), 'the image is drawn');
            const thumbs = main.getByRole('group', { name: 'Imágenes' }).getByRole('button');
            if (await thumbs.count() > 1) {
                await thumbs.nth(1).click();
                j.check(await thumbs.nth(1).getAttribute('aria-pressed') === 'true', 'second image chosen');
            }
            await main.getByText('Tiempo de entrega').waitFor();
        });

        await j.step('a visitor who adds to the cart is asked to sign in', async () => {
            await j.act(() => main.getByRole('button', { name: 'Agregar al carrito' }).click());
            j.check(new URL(j.page.url()).pathname === '/ingresar', j.page.url());
            await main.getByRole('heading', { name: 'Ingresar' }).waitFor();
        });

        await j.step('a product that does not exist', async () => {
            j.allow({ method: 'GET', url: '/api/products/NO-EXISTE', status: 404 });
            await j.goto('/producto/NO-EXISTE');
            await main.getByRole('heading', { name: 'Producto no encontrado' }).waitFor();
        });

        await j.step('an unknown address shows the not-found page', async () => {
            await j.goto('/no/existe');
            await main.getByRole('heading', { name: 'Página no encontrada' }).waitFor();
        });
    });

    await h.journey('visitante-telefono', async (j) => {
        const main = j.page.locator('main');
        await j.step('the catalogue fits a phone', async () => {
            await j.goto('/?ocasion=cumpleanos');
            await main.locator('.product-card').first().waitFor();
            const w = await j.page.evaluate(() => document.documentElement.scrollWidth);
            j.check(w <= 400, `no horizontal scroll (page ${w}px wide)`);
        });
        await j.step('keyboard: the first product link is reachable with Tab and shows focus', async () => {
            await j.page.keyboard.press('Tab');   // skip link
            const skip = await j.page.evaluate(() => document.activeElement.textContent);
            j.check(/Saltar al contenido/.test(skip), `first Tab: ${skip}`);
            const link = main.locator('.product-card h3 a').first();
            await link.focus();
            const outline = await link.evaluate((a) => getComputedStyle(a).outlineStyle);
            j.check(outline !== 'none', `focus outline: ${outline}`);
            await j.act(() => j.page.keyboard.press('Enter'));
            j.check(/^\/producto\//.test(new URL(j.page.url()).pathname), j.page.url());
        });
    }, { viewport: 'phone' });
}));
