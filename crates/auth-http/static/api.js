// The API and WebAuthn's JSON: same-origin calls that turn problems into `ApiError`, one token
// refresh at a time, and the base64url conversions for browsers without the JSON helpers.
//
// Credentials never touch this script: the server keeps the attempt, ceremony, access and refresh
// tokens in HttpOnly `__Host-` cookies, and same-origin `fetch` sends them along with `Origin`.

// ---------------------------------------------------------------------------------------------
// The API

/** A failed API call, carrying the problem's stable `code`. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem?.detail || `request failed (${status})`);
    this.status = status;
    this.code = problem?.code || (status === 0 ? "network" : "unknown");
    // The header and the body say the same; either may be stripped by a proxy.
    const secs = Number(retryAfter ?? problem?.retry_after);
    this.retryAfter = Number.isFinite(secs) && secs > 0 ? Math.ceil(secs) : null;
  }
}

/**
 * One refresh at a time, in this tab and across tabs: the refresh token rotates, and presenting a
 * spent one ends the session. Tabs take turns through a Web Lock, so the next one sends the
 * cookie the previous one received; where Web Locks are missing, the server's short grace for a
 * just-rotated token keeps two tabs that refresh at once signed in.
 */
let refreshing = null;

function refreshTokens() {
  const refresh = () => call("POST", "/v1/token/refresh", {}).then(() => true, () => false);
  refreshing ??= (navigator.locks ? navigator.locks.request("auth-refresh", refresh) : refresh())
    .finally(() => { refreshing = null; });
  return refreshing;
}

/** A request to our API. `body` is sent as JSON when given. */
export async function call(method, path, body, { signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e?.name === "AbortError") throw e;
    throw new ApiError(0, null, null);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get("retry-after"));
  return data;
}

/** An authenticated call: on 401 the access token may just have expired, so refresh once and retry. */
export async function authed(method, path, body) {
  try {
    return await call(method, path, body);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    if (!(await refreshTokens())) throw e;
    return call(method, path, body);
  }
}

// ---------------------------------------------------------------------------------------------
// WebAuthn JSON: the server speaks base64url JSON, the browser API speaks ArrayBuffers.

function fromB64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
}

function toB64url(buf) {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** JSON `null` means "absent" to the server but "invalid" to the WebIDL parsers, so drop it. */
function withoutNulls(v) {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  }
  return v;
}

export function creationOptions(json) {
  const o = withoutNulls(json);
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(o);
  }
  return {
    ...o,
    challenge: fromB64url(o.challenge),
    user: { ...o.user, id: fromB64url(o.user.id) },
    excludeCredentials: (o.excludeCredentials ?? []).map((c) => ({ ...c, id: fromB64url(c.id) })),
  };
}

export function requestOptions(json) {
  const o = withoutNulls(json);
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(o);
  }
  return {
    ...o,
    challenge: fromB64url(o.challenge),
    allowCredentials: (o.allowCredentials ?? []).map((c) => ({ ...c, id: fromB64url(c.id) })),
  };
}

/** The credential as the JSON the server reads (the shape of `PublicKeyCredential.toJSON()`). */
export function credentialJSON(cred) {
  if (typeof cred.toJSON === "function") return cred.toJSON();
  const r = cred.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    if (r.userHandle) response.userHandle = toB64url(r.userHandle);
  }
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    response,
    authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    clientExtensionResults: typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
  };
}

export const isAbort = (e) => e?.name === "AbortError";
