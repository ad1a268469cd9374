#!/usr/bin/env node
// 12-contact.t: the contact form.  A message that is too short is refused by the API and the
// reason is shown next to the field; a service that is unavailable (503 with Retry-After) is
// explained with its wait; a good message gives a ticket, and the shop's mail (Reply-To the
// sender) and the acknowledgement to the sender arrive in the SMTP sink with that ticket.
'use strict';

import('./lib/harness.mjs').then(({ run, waitMail, uniqueEmail }) => run(async (h) => {
    const SHOP = 'contacto@floresvictoria.cl';   // FLORES_SHOP_EMAIL (conf/services/contact.env)

    await h.journey('contacto', async (j) => {
        const main = j.page.locator('main');
        const email = uniqueEmail('contacto');
        let ticket;

        await j.step('the form opens from the header', async () => {
            await j.goto('/');
            await j.act(() => j.page.getByRole('navigation', { name: 'Principal' }).getByRole('link', { name: 'Contacto' }).click());
            await main.getByRole('heading', { name: 'Contacto', level: 1 }).waitFor();
        });

        await j.step("the API's refusal is shown next to the field", async () => {
            await main.getByLabel('Nombre').fill('Rosa Fuentes');
            await main.getByLabel('Correo electrónico').fill(email);
            await main.getByLabel('Asunto').selectOption('evento');
            await main.getByLabel('Mensaje').fill('Hola');
            j.allow({ method: 'POST', url: '/api/contact', status: 400, times: 1 });
            await main.getByRole('button', { name: 'Enviar mensaje' }).click();
            const box = main.locator('[data-field="message"] .field-error');
            await box.waitFor();
            j.check((await box.textContent()).trim().length > 0, 'a message under the field');
            j.check(await main.getByLabel('Mensaje').getAttribute('aria-invalid') === 'true', 'the field is marked');
            j.check(await main.getByLabel('Mensaje').evaluate((e) => e === document.activeElement), 'focus on it');
        });

        await j.step('a service outage is explained with its wait', async () => {
            await j.page.route('**/api/contact', (route) => route.fulfill({
                status: 503, contentType: 'application/json', headers: { 'Retry-After': '30' },
                body: JSON.stringify({ status: 'error', code: 'SERVICE_UNAVAILABLE', message: 'Servicio no disponible temporalmente', requestId: 'x' }),
            }), { times: 1 });
            j.allow({ method: 'POST', url: '/api/contact', status: 503, times: 1 });
            await main.getByLabel('Mensaje').fill('Quisiera cotizar flores para un matrimonio de 80 personas en marzo.');
            await main.getByRole('button', { name: 'Enviar mensaje' }).click();
            await main.getByRole('alert').filter({ hasText: 'no está disponible en este momento. Intenta de nuevo en 30 segundos' }).waitFor();
        });

        await j.step('a good message gives a ticket', async () => {
            await j.act(() => main.getByRole('button', { name: 'Enviar mensaje' }).click());
            await main.getByRole('heading', { name: 'Mensaje enviado' }).waitFor();
            const text = await main.getByRole('status').filter({ hasText: 'seguimiento' }).textContent();
            ticket = (/CT-\d{8}-[0-9A-Z]{6}/.exec(text) || [])[0];
            j.check(ticket, `no ticket in: ${text}`);
        });

        await j.step('the shop and the sender get their mails', async () => {
            const ack = await waitMail(email, { match: new RegExp(ticket) });
            j.check(ack, `no acknowledgement to ${email}`);
            const shop = await waitMail(SHOP, { match: new RegExp(ticket) });
            j.check(shop, 'no mail to the shop');
            j.check(new RegExp(email).test(shop.headers['reply-to'] || JSON.stringify(shop.headers)), 'Reply-To the sender');
        }, { timeout: 45 });
    });
}));
