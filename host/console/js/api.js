// The JSON API as the console calls it: same origin, the session cookie, and the
// session's CSRF token on every change. Errors come back as ApiError with the server's
// own message, which is written for a person.

let csrfToken = null;

/** Remembers the CSRF token of the signed-in session (from /api/login or /api/me). */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** An answer other than 2xx, with the API's `code` and `message`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; resolves to the parsed JSON body (null for an empty one). */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!response.ok) {
    const message = json && typeof json.message === 'string'
      ? json.message
      : `The server answered ${response.status}.`;
    throw new ApiError(response.status, json && json.code ? json.code : 'http', message);
  }
  return json;
}

/** A query string from an object, leaving out empty values; '' when there are none. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The path of a company's API routes. */
export function companyPath(company, rest = '') {
  return `/api/companies/${encodeURIComponent(company)}${rest}`;
}
