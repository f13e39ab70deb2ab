// The console's one way to call the API: the staff session (kept for this tab only), a refresh
// of the access token shortly before it ends or when the API says it has, and problems
// (`application/problem+json`) as errors carrying their stable `code`.

import { lang } from './i18n.js';

const STORED = 'citizen.console.session';

/** An answer that is not a success, with the problem's `code` and `detail` when it had one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || null;
  }
}

let session = JSON.parse(sessionStorage.getItem(STORED) || 'null');
let refreshing = null;
const expiryListeners = [];

export function signedIn() {
  return session !== null;
}

/** Called when the session cannot be renewed: the console goes back to sign-in. */
export function onSessionExpired(listener) {
  expiryListeners.push(listener);
}

function keep(tokens) {
  session = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    // Renewed 30 s early, so that a request never leaves with a token about to end.
    renew_at: Date.now() + Math.max(tokens.expires_in - 30, 5) * 1000,
  };
  sessionStorage.setItem(STORED, JSON.stringify(session));
}

function forget() {
  session = null;
  sessionStorage.removeItem(STORED);
}

function expired() {
  forget();
  for (const listener of expiryListeners) listener();
}

/** Signs a staff member in; a `totp_required` ApiError asks for the code. */
export async function signIn(username, password, totpCode) {
  const body = { username, password };
  if (totpCode) body.totp_code = totpCode;
  const response = await fetch('/v1/auth/staff/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Accept-Language': lang },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await problem(response));
  keep(await response.json());
}

export async function signOut() {
  if (session) {
    try {
      await call('POST', '/v1/auth/logout');
    } catch {
      // Signed out here whatever the server says: the refresh token is forgotten.
    }
  }
  forget();
}

/**
 * One refresh at a time: concurrent calls wait for the same one. Answers whether the session
 * lives on; a refresh that failed for another reason than the token (a busy or unreachable
 * server) throws and keeps the session, so a blip does not sign the officer out.
 */
function renew() {
  if (!refreshing) {
    const token = session?.refresh_token;
    refreshing = (async () => {
      if (!token) return false;
      const response = await fetch('/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (response.status === 400 || response.status === 401) return false;
      if (!response.ok) throw new ApiError(response.status, await problem(response));
      keep(await response.json());
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Renews the session now: its new access token carries what changed (TOTP turned on). */
export async function refreshSession() {
  if (!(await renew())) {
    expired();
    throw new ApiError(401, null);
  }
}

async function send(method, path, { json, form, body, contentType, etag, key }) {
  const headers = { Authorization: `Bearer ${session.access_token}`, 'Accept-Language': lang };
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  } else if (body !== undefined) {
    headers['Content-Type'] = contentType;
  }
  if (etag) headers['If-None-Match'] = etag;
  if (method === 'POST' && json !== undefined) headers['Idempotency-Key'] = key;
  return fetch(path, { method, headers, body });
}

/**
 * Calls the API as the signed-in staff member. `json`, `form` or `body` (of `contentType`) is
 * the body; a JSON POST carries
 * `key` as its `Idempotency-Key` (a new one unless the caller keeps one across retries); with
 * `etag`, a 304 answers `{ notModified: true }`. Answers the JSON (with its `etag`), or a Blob
 * with `blob`.
 */
export async function call(
  method,
  path,
  { json, form, body, contentType, etag, blob, key = crypto.randomUUID() } = {},
) {
  const request = { json, form, body, contentType, etag, key };
  if (!session) {
    expired();
    throw new ApiError(401, null);
  }
  if (Date.now() > session.renew_at && !(await renew())) {
    expired();
    throw new ApiError(401, null);
  }
  let response = await send(method, path, request);
  if (response.status === 401) {
    if (!(await renew())) {
      expired();
      throw new ApiError(401, await problem(response));
    }
    response = await send(method, path, request);
  }
  if (response.status === 304) return { notModified: true };
  if (!response.ok) throw new ApiError(response.status, await problem(response));
  if (blob) return response.blob();
  if (response.status === 204) return null;
  const value = await response.json();
  return { value, etag: response.headers.get('ETag') };
}

async function problem(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}
