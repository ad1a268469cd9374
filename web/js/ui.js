// ui.js: DOM and display helpers shared by every page.  Never build HTML from data with
// innerHTML: use el() (text goes in as text nodes), so nothing from the API can inject markup.

import { ApiError } from './api.js';

// el('a', { href: '/x', class: 'btn', onclick: fn, dataset: { id: 1 } }, 'texto', child, [more])
// Attributes: class, dataset, on<event> (a function), boolean true/false, anything else as an
// attribute (null/undefined/false: left out).  Children: strings, numbers, nodes, arrays, null.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in node) node.value = v;
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

// Replaces the children of node.
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const clpFormat = new Intl.NumberFormat('es-CL', { style: 'currency', currency: 'CLP' });
// clp(35000) → "$35.000"
export function clp(amount) {
  return clpFormat.format(Number(amount) || 0);
}

const dateFormat = new Intl.DateTimeFormat('es-CL', { dateStyle: 'long' });
const dateTimeFormat = new Intl.DateTimeFormat('es-CL', { dateStyle: 'medium', timeStyle: 'short' });
export function fmtDate(iso) {
  if (!iso) return '';
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(iso) ? `${iso}T12:00:00` : iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFormat.format(d);
}
export function fmtDateTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso || '') : dateTimeFormat.format(d);
}

export const ORDER_STATUS = {
  pending: 'Pendiente',
  confirmed: 'Confirmado',
  preparing: 'En preparación',
  shipped: 'Enviado',
  delivered: 'Entregado',
  cancelled: 'Cancelado',
};
export const PAYMENT_METHOD = {
  transfer: 'Transferencia bancaria',
  cash: 'Efectivo contra entrega',
  webpay: 'Webpay (pago al confirmar)',
};
export function statusBadge(status) {
  return el('span', { class: `badge status-${status}` }, ORDER_STATUS[status] || status);
}

// A label + input + error slot.  opts: { label, name, type, value, required, autocomplete,
// min, max, minlength, maxlength, step, placeholder, hint, options: [[value, text]] (select),
// rows (textarea) }.  The error slot is <p class="field-error" id="err-<form>-<name>">.
let fieldSeq = 0;
export function field(opts) {
  const id = `f-${opts.name}-${++fieldSeq}`;
  const errId = `${id}-err`;
  const hintId = opts.hint ? `${id}-hint` : null;
  const common = {
    id, name: opts.name, required: !!opts.required, autocomplete: opts.autocomplete,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    placeholder: opts.placeholder,
  };
  let input;
  if (opts.options) {
    input = el('select', common, opts.options.map(([v, t]) =>
      el('option', { value: v, selected: String(v) === String(opts.value ?? '') }, t)));
  } else if (opts.type === 'textarea') {
    input = el('textarea', { ...common, rows: opts.rows || 4, minlength: opts.minlength,
      maxlength: opts.maxlength }, opts.value ?? '');
  } else {
    input = el('input', { ...common, type: opts.type || 'text', value: opts.value ?? null,
      min: opts.min, max: opts.max, minlength: opts.minlength, maxlength: opts.maxlength,
      step: opts.step, inputmode: opts.inputmode, checked: opts.checked });
  }
  const isCheck = opts.type === 'checkbox' || opts.type === 'radio';
  return el('div', { class: isCheck ? 'field field-check' : 'field', dataset: { field: opts.name } },
    isCheck ? [input, el('label', { for: id }, opts.label)] : [el('label', { for: id }, opts.label), input],
    hintId ? el('p', { class: 'field-hint', id: hintId }, opts.hint) : null,
    el('p', { class: 'field-error', id: errId, hidden: true }));
}

// The form's own message area: <div class="form-error" role="alert"> first in the form.
export function formError() {
  return el('div', { class: 'form-error', role: 'alert', hidden: true });
}

// Shows msg under the field named name inside root (a form or any element); marks the input
// aria-invalid.  Returns false when the field is not there.
export function fieldError(root, name, msg) {
  const box = root.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (!box) return false;
  const p = box.querySelector('.field-error');
  const input = box.querySelector('input, select, textarea');
  if (p) { p.textContent = msg; p.hidden = false; }
  if (input) input.setAttribute('aria-invalid', 'true');
  return true;
}

export function clearErrors(root) {
  for (const p of root.querySelectorAll('.field-error')) { p.textContent = ''; p.hidden = true; }
  for (const i of root.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  for (const f of root.querySelectorAll('.form-error')) { f.replaceChildren(); f.hidden = true; }
}

// Plain Spanish for an error (ApiError or anything else).
export function errorText(err) {
  if (!(err instanceof ApiError)) return 'Ocurrió un error inesperado. Intenta de nuevo.';
  const wait = err.retryAfter;
  switch (err.status) {
    case 0: return err.message;
    case 429:
      return wait ? `Demasiados intentos. Espera ${waitText(wait)} e intenta de nuevo.`
        : 'Demasiados intentos. Espera un momento e intenta de nuevo.';
    case 502: case 503:
      return `El servicio no está disponible en este momento. Intenta de nuevo${wait ? ` en ${waitText(wait)}` : ' en unos segundos'}.`;
    case 504: return 'El servicio tardó demasiado en responder. Intenta de nuevo.';
    default:
      if (err.status >= 500) return 'Ocurrió un error en la tienda. Intenta de nuevo en un momento.';
      return err.message;
  }
}

export function waitText(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return s === 1 ? '1 segundo' : `${s} segundos`;
  const m = Math.ceil(s / 60);
  return m === 1 ? '1 minuto' : `${m} minutos`;
}

// Shows an API error inside root: each errors[] field next to its input (fieldMap renames
// API fields to form fields: { 'shippingAddress.street': 'street' }), the rest in the
// root's .form-error (or a banner when root has none).  Focuses the first bad input.
export function showError(root, err, fieldMap = {}) {
  if (root) clearErrors(root);
  let shown = 0;
  let rest = [];
  if (err instanceof ApiError && err.fields) {
    for (const [f, msg] of Object.entries(err.fields)) {
      const name = fieldMap[f] || f;
      if (root && fieldError(root, name, msg)) shown++;
      else rest.push(msg);
    }
  }
  const general = shown && !rest.length && err.code === 'VALIDATION_ERROR'
    ? 'Revisa los campos marcados.' : [errorText(err), ...rest].join(' ');
  const box = root && root.querySelector('.form-error');
  if (box) {
    box.replaceChildren(document.createTextNode(general));
    box.hidden = false;
  } else {
    banner(general, 'error');
  }
  if (root) {
    const bad = root.querySelector('[aria-invalid="true"]');
    if (bad) bad.focus();
    else if (box) box.scrollIntoView({ block: 'nearest' });
  }
  return general;
}

// A message at the top of the page (kind: info | success | error), replaced by the next one
// and cleared by the next navigation.
export function banner(msg, kind = 'info') {
  const host = document.getElementById('banner');
  if (!host) return;
  host.replaceChildren();
  if (!msg) return;
  const close = el('button', { type: 'button', class: 'banner-close', 'aria-label': 'Cerrar aviso',
    onclick: () => host.replaceChildren() }, '×');
  host.appendChild(el('div', { class: `banner banner-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('span', {}, msg), close));
}

// A short message in the corner that goes away on its own.
export function toast(msg, kind = 'success', ms = 4000) {
  const host = document.getElementById('toasts');
  if (!host) return;
  const t = el('div', { class: `toast toast-${kind}` }, msg);
  host.appendChild(t);
  while (host.children.length > 2) host.firstElementChild.remove();   // the newest two only
  setTimeout(() => t.remove(), ms);
}

// Disables a button while an async action runs; returns its result.
export async function busy(button, fn) {
  const label = button ? button.textContent : '';
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  try {
    return await fn();
  } finally {
    if (button) { button.disabled = false; button.removeAttribute('aria-busy'); button.textContent = label; }
  }
}

// The named fields of a form as an object of trimmed strings (checkboxes: booleans).
export function formValues(form) {
  const out = {};
  for (const elx of form.elements) {
    if (!elx.name) continue;
    if (elx.type === 'checkbox') out[elx.name] = elx.checked;
    else if (elx.type === 'radio') { if (elx.checked) out[elx.name] = elx.value; }
    else out[elx.name] = typeof elx.value === 'string' ? elx.value.trim() : elx.value;
  }
  return out;
}

// A loading line, an empty state, an error block with a retry button.
export function loading(text = 'Cargando…') {
  return el('p', { class: 'muted loading', role: 'status' }, text);
}
export function errorBlock(err, retry) {
  return el('div', { class: 'banner banner-error', role: 'alert' },
    el('span', {}, errorText(err)),
    retry ? el('button', { type: 'button', class: 'btn btn-small', onclick: retry }, 'Reintentar') : null);
}

// Product image with the local placeholder when it fails (no external host is ever needed).
export const PLACEHOLDER = '/images/placeholder.svg';
export function productImage(src, alt, attrs = {}) {
  const img = el('img', { src: src || PLACEHOLDER, alt: alt || '', loading: 'lazy', decoding: 'async', ...attrs });
  img.addEventListener('error', () => { if (!img.src.endsWith(PLACEHOLDER)) img.src = PLACEHOLDER; }, { once: true });
  return img;
}

// Page links: pagination(2, 7, (n) => `/?pagina=${n}`) → <nav><ul class="pagination">.
export function pagination(page, pages, hrefFor, label = 'Páginas') {
  if (!pages || pages <= 1) return null;
  const items = [];
  const add = (n, text, rel) => items.push(el('li', {}, n === page
    ? el('span', { 'aria-current': 'page' }, text)
    : el('a', { href: hrefFor(n), rel, 'aria-label': rel ? undefined : `Página ${n}` }, text)));
  if (page > 1) add(page - 1, '« Anterior', 'prev');
  const from = Math.max(1, page - 2);
  const to = Math.min(pages, page + 2);
  if (from > 1) { add(1, '1'); if (from > 2) items.push(el('li', {}, el('span', { 'aria-hidden': 'true' }, '…'))); }
  for (let n = from; n <= to; n++) add(n, String(n));
  if (to < pages) { if (to < pages - 1) items.push(el('li', {}, el('span', { 'aria-hidden': 'true' }, '…'))); add(pages, String(pages)); }
  if (page < pages) add(page + 1, 'Siguiente »', 'next');
  return el('nav', { 'aria-label': label }, el('ul', { class: 'pagination' }, items));
}

export function stars(rating) {
  const r = Math.round(Number(rating) || 0);
  return el('span', { class: 'stars', 'aria-label': `${Number(rating || 0).toFixed(1)} de 5 estrellas` },
    '★'.repeat(r) + '☆'.repeat(Math.max(0, 5 - r)));
}
