// api.js: the one way pages talk to the API (same origin, /api/...).
//
//   import { api, ApiError } from '../api.js';
//   const data = await api.get('/products', { page: 1, category: 'rosas' });   // → envelope.data
//   await api.post('/cart/items', { productId, quantity });
//   await api.put(path, body); await api.patch(path, body); await api.del(path);
//   const res = await api.request('POST', '/orders', { body, headers: { 'Idempotency-Key': k } });
//       // → { status, data, message, headers }
//
// Paths are relative to /api.  A signed-in session's access token is sent as a Bearer
// token; a 401 on such a call refreshes the session once (HttpOnly cookie) and retries.
// Every failure is thrown as an ApiError:
//   status      HTTP status (0: the network failed, the server was not reached)
//   code        the API's stable code (VALIDATION_ERROR, EMAIL_TAKEN, RATE_LIMITED,
//               SERVICE_UNAVAILABLE, ...; NETWORK_ERROR, BAD_RESPONSE made here)
//   message     Spanish text for the person (the API's own, or ours)
//   fields      { fieldName: 'mensaje', ... } from the envelope's errors[]
//   retryAfter  seconds from Retry-After (429, 503), or null
//   requestId   the X-Request-ID, to quote to support

const BASE = '/api';

export class ApiError extends Error {
  constructor({ status = 0, code = 'ERROR', message = 'Ocurrió un error inesperado',
    fields = {}, retryAfter = null, requestId = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
  }
}

// Set by session.js: () => Promise<string|null> (a valid access token or null), and
// () => Promise<boolean> (refresh now; true when a new access token was obtained).
let tokenProvider = async () => null;
let refresher = async () => false;
export function setAuthHooks(getToken, refresh) {
  tokenProvider = getToken;
  refresher = refresh;
}

function queryString(query) {
  if (!query) return '';
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `?${s}` : '';
}

function parseRetryAfter(value) {
  if (!value) return null;
  const n = Number.parseInt(value, 10);
  if (Number.isFinite(n) && n >= 0) return n;
  const at = Date.parse(value);
  if (Number.isFinite(at)) return Math.max(0, Math.ceil((at - Date.now()) / 1000));
  return null;
}

const DEFAULT_MESSAGES = {
  400: 'La solicitud no es válida.',
  401: 'Tu sesión expiró; inicia sesión de nuevo.',
  403: 'No tienes permiso para hacer esto.',
  404: 'No encontramos lo que buscas.',
  409: 'La operación entra en conflicto con el estado actual.',
  413: 'Los datos enviados son demasiado grandes.',
  429: 'Demasiadas solicitudes.',
  500: 'Error interno del servidor.',
  502: 'El servicio no está disponible en este momento.',
  503: 'El servicio no está disponible en este momento.',
  504: 'El servicio tardó demasiado en responder.',
};

async function send(method, path, { body, query, headers = {}, auth = true, credentials } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (auth) {
    const token = await tokenProvider();
    if (token) h.Authorization = `Bearer ${token}`;
  }
  let res;
  try {
    res = await fetch(BASE + path + queryString(query), {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: credentials || 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError({ status: 0, code: 'NETWORK_ERROR',
      message: 'No pudimos conectarnos con la tienda. Revisa tu conexión e intenta de nuevo.' });
  }
  let json = null;
  if (res.status !== 204) {
    const text = await res.text();
    if (text) {
      try { json = JSON.parse(text); } catch (e) { json = null; }
    }
  }
  return { res, json };
}

export async function request(method, path, opts = {}) {
  let { res, json } = await send(method, path, opts);
  if (res.status === 401 && opts.auth !== false && opts.retry !== false) {
    if (await refresher()) {
      ({ res, json } = await send(method, path, opts));
    }
  }
  if (res.ok) {
    if (res.status !== 204 && (!json || json.status !== 'success')) {
      throw new ApiError({ status: res.status, code: 'BAD_RESPONSE',
        message: 'La respuesta del servidor no se pudo leer.',
        requestId: res.headers.get('X-Request-ID') });
    }
    return { status: res.status, data: json ? json.data : null,
      message: json ? json.message : null, headers: res.headers };
  }
  const fields = {};
  if (json && Array.isArray(json.errors)) {
    for (const e of json.errors) {
      if (e && e.field && !(e.field in fields)) fields[e.field] = e.message || 'Valor no válido';
    }
  }
  throw new ApiError({
    status: res.status,
    code: (json && json.code) || `HTTP_${res.status}`,
    message: (json && json.message) || DEFAULT_MESSAGES[res.status] || `Error ${res.status}`,
    fields,
    retryAfter: parseRetryAfter(res.headers.get('Retry-After')),
    requestId: (json && json.requestId) || res.headers.get('X-Request-ID'),
  });
}

async function dataOf(method, path, opts) {
  return (await request(method, path, opts)).data;
}

export const api = {
  request,
  get: (path, query, opts = {}) => dataOf('GET', path, { ...opts, query }),
  post: (path, body, opts = {}) => dataOf('POST', path, { ...opts, body: body === undefined ? {} : body }),
  put: (path, body, opts = {}) => dataOf('PUT', path, { ...opts, body }),
  patch: (path, body, opts = {}) => dataOf('PATCH', path, { ...opts, body }),
  del: (path, opts = {}) => dataOf('DELETE', path, opts),
};
