#!/usr/bin/env node
// 51-admin-products.t: an administrator creates a product from the staff pages (missing
// fields and the API's own validation shown next to the field; a taken code refused),
// edits it, changes its stock, and the shop's catalogue shows it with the new price; once
// deactivated it leaves the catalogue and can be activated again.
'use strict';

import('./lib/harness.mjs').then(({ run, api, createAdmin, randomHex }) => run(async (h) => {
    const admin = await createAdmin();
    const tag = randomHex(3).toUpperCase();
    const id = `T51${tag}`;
    const name = `Ramo Prueba ${tag}`;
    const search = `Prueba ${tag}`;

    await h.journey('admin-productos', async (j) => {
        const main = j.page.locator('main');
        const field = (label) => main.getByLabel(label, { exact: true });

        await j.step('the administrator opens "Nuevo producto" from the product list (keyboard, labels)', async () => {
            await j.signIn(admin, '/admin/productos');
            await main.getByRole('heading', { name: 'Productos', level: 1 }).waitFor();
            await j.checkLabels();
            await j.tabTo(main.getByRole('link', { name: 'Nuevo producto' }));
            await j.act(() => j.page.keyboard.press('Enter'));
            await main.getByRole('heading', { name: 'Nuevo producto', level: 1 }).waitFor();
            await j.checkLabels();
        });

        await j.step('an empty form says which fields are missing, next to each', async () => {
            await main.getByRole('button', { name: 'Crear producto' }).click();
            await main.locator('.form-error').getByText('Revisa los campos marcados.').waitFor();
            for (const label of ['Código', 'Nombre', 'Descripción', 'Precio (CLP)', 'Categoría']) {
                const input = field(label);
                j.check(await input.getAttribute('aria-invalid') === 'true', `${label} is not marked invalid`);
                const described = (await input.getAttribute('aria-describedby')).split(' ').pop();
                const text = await j.page.locator(`#${described}`).textContent();
                j.check(/obligatorio/.test(text), `${label}: its error says "${text}"`);
            }
            j.check(await j.page.evaluate(() => document.activeElement && document.activeElement.name) === 'id',
                'the focus is not on the first missing field');
        });

        await j.step("the API's refusal (old price below the price) is shown next to the field", async () => {
            j.allow({ method: 'POST', url: '/api/products', status: 400, times: 1 });
            await field('Código').fill(id.toLowerCase());
            await field('Nombre').fill(name);
            await field('Descripción').fill('Un ramo hecho para probar la administración de la tienda.');
            await field('Precio (CLP)').fill('19990');
            await field('Precio anterior (CLP, opcional)').fill('100');
            await field('Stock inicial').fill('3');
            await field('Categoría').fill('cumpleanos');
            await field('Flores').fill('Rosas, Lirios');
            await field('Colores').fill('rojo, blanco');
            await field('Ocasiones').fill('cumpleanos');
            await field('Imágenes').fill('/images/productos/passion-eterna-1.webp');
            await main.getByRole('button', { name: 'Crear producto' }).click();
            const input = field('Precio anterior (CLP, opcional)');
            await j.page.waitForFunction((el) => el.getAttribute('aria-invalid') === 'true', await input.elementHandle());
            const described = (await input.getAttribute('aria-describedby')).split(' ').pop();
            const text = await j.page.locator(`#${described}`).textContent();
            j.check(text.trim().length > 0, 'no message under "Precio anterior"');
            j.check(j.saw({ method: 'POST', url: '/api/products', status: 400 }) === 1, 'the API was not asked');
        });

        await j.step('the corrected product is created and its page opens', async () => {
            await field('Precio anterior (CLP, opcional)').fill('24990');
            await j.act(() => main.getByRole('button', { name: 'Crear producto' }).click());
            await j.page.waitForURL((u) => u.pathname === `/admin/productos/${id}`);
            await main.getByRole('heading', { name: 'Editar producto' }).waitFor();
            await j.page.getByText(`Producto ${name} creado.`).waitFor();
            await j.checkLabels();
            j.check(await field('Nombre').inputValue() === name, 'the form does not show the name');
            const r = await api('GET', `/api/products/${id}`);
            j.check(r.status === 200 && r.json.data.product.price === 19990 && r.json.data.product.stock === 3
                && r.json.data.product.original_price === 24990, `the API has ${r.text.slice(0, 300)}`);
        });

        await j.step('the price is changed and saved', async () => {
            await field('Precio (CLP)').fill('17990');
            await j.act(() => main.getByRole('button', { name: 'Guardar cambios' }).click());
            await j.page.getByText(`Cambios de ${name} guardados.`).waitFor();
            await main.getByText('$17.990').first().waitFor();
        });

        await j.step('the stock is raised by 5 units', async () => {
            await field('O sumar / restar unidades').fill('5');
            await main.getByRole('button', { name: 'Actualizar stock' }).click();
            await j.page.getByText(`Stock de ${name}: 8 unidades.`).waitFor();
            await main.getByText('Stock actual: 8 unidades.').waitFor();
        });

        await j.step('taking more units than there are is refused in plain words', async () => {
            j.allow({ method: 'PATCH', url: `/api/products/${id}/stock`, status: 409, times: 1 });
            await field('O sumar / restar unidades').fill('-50');
            await main.getByRole('button', { name: 'Actualizar stock' }).click();
            await main.getByText('No hay tantas unidades para restar.').waitFor();
            await main.getByText('Stock actual: 8 unidades.').waitFor();
        });

        await j.step('the product list finds it, and its stock is set there to 12 (keyboard only)', async () => {
            await j.nav('/admin/productos');
            const box = main.getByLabel('Buscar por nombre o descripción');
            await box.focus();
            await j.page.keyboard.type(search);
            await j.act(() => j.page.keyboard.press('Enter'));
            const row = main.locator(`tr[data-id="${id}"]`);
            await row.waitFor();
            const stock = row.getByLabel(`Stock de ${name}`, { exact: true });
            await stock.focus();
            await j.page.keyboard.press('Control+A');
            await j.page.keyboard.type('12');
            await j.page.keyboard.press('Enter');
            await j.page.getByText(`Stock de ${name}: 12 unidades.`).waitFor();
            const r = await api('GET', `/api/products/${id}`);
            j.check(r.json?.data?.product?.stock === 12, `the API says stock ${r.json?.data?.product?.stock}`);
        });

        await j.step('the shop shows the product with its new price', async () => {
            await j.nav(`/producto/${id}`);
            await main.getByRole('heading', { name, level: 1 }).waitFor();
            await main.getByText('$17.990').first().waitFor();
        });

        await j.step('the catalogue search finds it', async () => {
            await j.nav(`/catalogo?q=${encodeURIComponent(search)}`);
            await main.getByRole('link', { name }).first().waitFor();
        });

        await j.step('deactivating asks for a confirmation, then the product is inactive', async () => {
            await j.nav(`/admin/productos?q=${encodeURIComponent(search)}`);
            const row = main.locator(`tr[data-id="${id}"]`);
            await row.getByRole('button', { name: `Desactivar ${name}` }).focus();
            await j.page.keyboard.press('Enter');
            await row.getByRole('button', { name: `Confirmar desactivación: ${name}` }).waitFor();
            j.check((await api('GET', `/api/products/${id}`)).status === 200, 'deactivated at the first press');
            await j.act(() => j.page.keyboard.press('Enter'));
            await main.locator(`tr[data-id="${id}"]`).getByText('Inactivo').waitFor();
            await main.locator(`tr[data-id="${id}"]`).getByRole('button', { name: `Activar ${name}` }).waitFor();
        });

        await j.step('the catalogue no longer shows it', async () => {
            const r = await api('GET', `/api/products?search=${encodeURIComponent(search)}`);
            j.check(r.status === 200 && r.json.data.products.length === 0, `the API still lists it: ${r.text.slice(0, 200)}`);
            await j.nav(`/catalogo?q=${encodeURIComponent(search)}`);
            j.check(await main.getByRole('link', { name }).count() === 0, 'the catalogue still links to it');
        });

        await j.step('a second product with the same code is refused next to the code', async () => {
            j.allow({ method: 'POST', url: '/api/products', status: 409, times: 1 });
            await j.nav('/admin/productos/nuevo');
            await field('Código').fill(id);
            await field('Nombre').fill(`${name} bis`);
            await field('Descripción').fill('Otro ramo con el mismo código, que la tienda debe rechazar.');
            await field('Precio (CLP)').fill('1000');
            await field('Categoría').fill('cumpleanos');
            await main.getByRole('button', { name: 'Crear producto' }).click();
            await main.getByText('Ya existe un producto con este código.').waitFor();
            j.check(new URL(j.page.url()).pathname === '/admin/productos/nuevo', 'left the form');
        });

        await j.step('activated again, it is back in the catalogue', async () => {
            await j.nav(`/admin/productos?q=${encodeURIComponent(search)}`);
            await j.act(() => main.locator(`tr[data-id="${id}"]`).getByRole('button', { name: `Activar ${name}` }).click());
            await main.locator(`tr[data-id="${id}"]`).getByText('Activo', { exact: true }).waitFor();
            const r = await api('GET', `/api/products?search=${encodeURIComponent(search)}`);
            j.check(r.json?.data?.products?.length === 1, `the API lists ${r.json?.data?.products?.length}`);
        });
    });
}));
