// admin-users.js: /admin/usuarios — the shop's accounts, newest first, searchable by name or
// email; each account's role (cliente / administrador) is changed in place.  An
// administrator cannot demote or deactivate themselves (the API answers 409).
//   ?q=<text>      search (name or email containing it)
//   ?pagina=<n>    page (20 a page)

import { el, mount, loading, errorBlock, errorText, fmtDate, field, formValues, toast, busy } from '../ui.js';
import { adminHeader, pager, pageParam, hrefWith, ROLE, inlineMessage } from './admin-common.js';

const LIMIT = 20;

function roleCell(ctx, u) {
  const msg = inlineMessage();
  const select = el('select', { name: 'role', 'aria-label': `Rol de ${u.name}` },
    Object.entries(ROLE).map(([v, t]) => el('option', { value: v, selected: v === u.role }, t)));
  const save = el('button', { type: 'submit', class: 'btn btn-small' }, 'Cambiar rol');
  const form = el('form', { class: 'role-form', novalidate: true }, select, ' ', save, msg.node);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    if (select.value === u.role) { msg.show('Ese ya es su rol.'); return; }
    await busy(save, async () => {
      try {
        const data = await ctx.api.patch(`/users/${u.id}`, { role: select.value });
        u.role = data.user.role;
        toast(`${u.name} ahora es ${ROLE[u.role].toLowerCase()}.`);
      } catch (e) {
        select.value = u.role;
        msg.show(e.code === 'CANNOT_CHANGE_SELF' ? 'No puedes quitarte a ti mismo el rol de administrador.' : errorText(e));
      }
    });
  });
  return form;
}

export default {
  title: 'Usuarios (administración)',
  async render(ctx) {
    const q = (ctx.query.get('q') || '').trim();
    const page = pageParam(ctx);
    const search = el('form', { role: 'search', novalidate: true },
      field({ label: 'Buscar por nombre o correo', name: 'q', type: 'search', value: q }),
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn' }, 'Buscar'),
        q ? el('a', { href: '/admin/usuarios' }, 'Quitar búsqueda') : null));
    search.addEventListener('submit', (ev) => {
      ev.preventDefault();
      ctx.navigate(hrefWith('/admin/usuarios', { q: formValues(search).q }));
    });
    const header = () => adminHeader('Usuarios', '/admin/usuarios');
    mount(ctx.main, header(), search, loading());
    let data;
    try {
      data = await ctx.api.get('/users', { search: q || null, page, limit: LIMIT });
    } catch (e) {
      if (ctx.isCurrent()) mount(ctx.main, header(), search, errorBlock(e, ctx.refresh));
      return;
    }
    if (!ctx.isCurrent()) return;
    const users = data.users || [];
    const total = data.pagination ? data.pagination.total : users.length;
    mount(ctx.main, header(), search,
      el('p', { class: 'muted', role: 'status' }, `${total} ${total === 1 ? 'cuenta' : 'cuentas'}${q ? ` con «${q}»` : ''}.`),
      users.length
        ? el('div', { class: 'table-wrap' },
          el('table', { class: 'table table-stack' },
            el('caption', { class: 'visually-hidden' }, 'Usuarios'),
            el('thead', {}, el('tr', {}, ['Nombre', 'Correo', 'Creada', 'Estado', 'Rol']
              .map((h) => el('th', { scope: 'col' }, h)))),
            el('tbody', {}, users.map((u) => el('tr', { dataset: { id: u.id, email: u.email } },
              el('td', { 'data-label': 'Nombre' }, el('a', { href: `/admin/usuarios/${u.id}` }, u.name || `Cuenta ${u.id}`)),
              el('td', { 'data-label': 'Correo' }, u.email),
              el('td', { 'data-label': 'Creada' }, fmtDate(u.createdAt)),
              el('td', { 'data-label': 'Estado' }, u.active === false
                ? el('span', { class: 'badge status-cancelled' }, 'Desactivada')
                : el('span', { class: 'badge status-delivered' }, 'Activa')),
              el('td', { 'data-label': 'Rol' }, roleCell(ctx, u)))))))
        : el('p', {}, 'No hay cuentas que mostrar.'),
      pager(data.pagination, (n) => hrefWith('/admin/usuarios', { q, pagina: n })));
  },
};
