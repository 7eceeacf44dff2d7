// The bundled page: passkey sign-in (with autofill), email codes, sign-up, recovery and the
// account. A plain ES module with no build step and no framework. The page's CSP allows no inline
// script or style, so every behaviour is attached here and screens are switched with `hidden`.
//
// Credentials never touch this script: the server keeps the attempt, ceremony, access and refresh
// tokens in HttpOnly `__Host-` cookies, and same-origin `fetch` sends them along with `Origin`.

const $ = (id) => document.getElementById(id);

const VIEWS = ["signin", "signup", "recover", "code", "welcome", "account", "revert"];
const FLOW_KEY = "auth.flow";

/** The signed-in account (`GET /v1/me`), or null. */
let me = null;
/** The pending autofill (conditional) passkey request: { controller, done }. */
let conditional = null;
/** The screen shown now. */
let current = null;
/** The token of an email-change undo link (`/#revert=<token>`), kept out of the address bar. */
let revertToken = null;

const passkeysSupported =
  typeof window.PublicKeyCredential === "function" && typeof navigator.credentials?.get === "function";

// ---------------------------------------------------------------------------------------------
// The API

/** A failed API call, carrying the problem's stable `code`. */
class ApiError extends Error {
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
async function call(method, path, body, { signal } = {}) {
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
async function authed(method, path, body) {
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

function creationOptions(json) {
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

function requestOptions(json) {
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
function credentialJSON(cred) {
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

const isAbort = (e) => e?.name === "AbortError";

// ---------------------------------------------------------------------------------------------
// Messages

/** A sentence for a person, for any failure of an API call or a WebAuthn ceremony. */
function describe(e) {
  if (e instanceof ApiError) {
    switch (e.code) {
      case "code_invalid":
        return "That code is wrong or has expired. Check the newest email, or send a new code.";
      case "invalid_code_format":
        return "That does not look like a code. It has 8 letters and digits, like ABCD-2345.";
      case "revert_invalid":
        return "This link does not work: it was used already, has expired, or is incomplete.";
      case "attempt_invalid":
        return "This sign-in attempt has ended. Start again to get a new code.";
      case "rate_limited":
        return e.retryAfter
          ? `Too many attempts. Try again in ${e.retryAfter} second${e.retryAfter === 1 ? "" : "s"}.`
          : "Too many attempts. Wait a moment and try again.";
      case "invalid_email":
        return "Enter one email address, like name@example.com.";
      case "invalid_display_name":
        return "Enter a name of 1 to 64 characters.";
      case "invalid_passkey_name":
        return "Enter a passkey name of 1 to 64 characters.";
      case "reauth_required":
        return "For your safety, this needs a fresh sign-in. Sign out, sign in again, then retry within 10 minutes.";
      case "passkey_invalid":
        return "The passkey was not accepted. Try again, or get a code by email.";
      case "passkey_exists":
        return "This passkey is already registered to your account.";
      case "unauthorized":
      case "refresh_invalid":
        return "You are not signed in any more. Sign in again.";
      case "unavailable":
        return "The service is briefly unavailable. Try again in a few seconds.";
      case "network":
        return "The server could not be reached. Check your connection and try again.";
      default:
        return e.message || "Something went wrong. Try again.";
    }
  }
  switch (e?.name) {
    case "NotAllowedError":
      return "The passkey request was cancelled or timed out.";
    case "InvalidStateError":
      return "This device already holds a passkey for your account.";
    case "SecurityError":
      return "Passkeys cannot be used on this address.";
    case "NotSupportedError":
      return "This device cannot create a suitable passkey.";
    default:
      return "Something went wrong. Try again.";
  }
}

/** The shared polite live region: progress and success notes. */
function say(text) {
  $("status").textContent = text;
}

function showError(el, e) {
  el.textContent = typeof e === "string" ? e : describe(e);
}

/** Disables `button` while `work` runs, so nothing is sent twice. */
async function busy(button, work) {
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    return await work();
  } finally {
    if (button) {
      if (!button.dataset.coolingDown) button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

/** After a 429, keep `button` off until the wait is over, so the limit is not hit again at once. */
function coolDown(button, seconds) {
  if (!button || !seconds) return;
  button.dataset.coolingDown = "true";
  button.disabled = true;
  setTimeout(() => {
    delete button.dataset.coolingDown;
    button.disabled = false;
  }, seconds * 1000);
}

// ---------------------------------------------------------------------------------------------
// Screens

function show(view) {
  if (view !== "signin") abortConditional();
  current = view;
  $("loading").hidden = true;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  const heading = $(`${view}-title`);
  document.title = `${heading.textContent} · Passwordless sign-in`;
  // Move focus to the new screen's heading, so keyboard and screen-reader users start there.
  heading.focus();
}

/** Navigates to `#view`; the hash keeps the back button and mail links (`/#signup`) working. */
function go(view) {
  if (location.hash === `#${view}`) route();
  else location.hash = view;
}

function route() {
  const view = location.hash.slice(1) || "signin";
  if (view.startsWith("revert=")) {
    // Keep the token in memory only: out of the address bar, the history and bookmarks.
    revertToken = decodeURIComponent(view.slice("revert=".length));
    history.replaceState(null, "", "#revert");
    return openRevert();
  }
  if (view === "revert") return openRevert();
  if (me) {
    if (view === "welcome") return show("welcome");
    if (view !== "account") return go("account");
    return openAccount();
  }
  switch (view) {
    case "signup":
    case "recover":
      return show(view);
    case "code":
      return pendingFlow() ? openCode() : go("signin");
    case "signin":
      show("signin");
      startConditional();
      return;
    default:
      return go("signin");
  }
}

// ---------------------------------------------------------------------------------------------
// Undoing an email change (the link mailed to the old address)

function openRevert() {
  $("revert-error").textContent = "";
  $("revert-result").hidden = true;
  $("revert-intro").hidden = false;
  $("revert-confirm").hidden = !revertToken;
  if (!revertToken) showError($("revert-error"), "Open the link from the email again: this page lost it.");
  show("revert");
}

/** Posts the token; the link works once, so the button goes away whatever the answer. */
async function confirmRevert(event) {
  const button = event.currentTarget;
  $("revert-error").textContent = "";
  try {
    const done = await busy(button, () => call("POST", "/v1/email/revert", { token: revertToken }));
    revertToken = null;
    me = null;
    const passkeys = done.passkeys_removed === 1 ? "1 passkey" : `${done.passkeys_removed} passkeys`;
    const rest = `Every session was signed out and ${passkeys} added around the change ${done.passkeys_removed === 1 ? "was" : "were"} removed.`;
    $("revert-result").textContent = done.restored
      ? `Done: your account has its old email address again. ${rest} Sign in with your old address, then add a passkey.`
      : `Your account could not get its old address back, because another account uses it now. ${rest} Sign in with the address the account has now, or contact us for help.`;
    $("revert-result").hidden = false;
    $("revert-intro").hidden = true;
    button.hidden = true;
    say("The email change was undone.");
  } catch (e) {
    showError($("revert-error"), e);
    if (e instanceof ApiError && e.code === "revert_invalid") {
      revertToken = null;
      button.hidden = true;
    }
  }
}

/** Back to the sign-in screen, e.g. after sign-out or when the session has ended. */
function signedOut(note) {
  me = null;
  say(note);
  go("signin");
}

/** An authenticated call failed with 401 even after a refresh: the session is over. */
function sessionEnded(e) {
  if (e instanceof ApiError && e.status === 401) {
    signedOut("Your session has ended. Sign in again.");
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Passkey sign-in

/** Starts the autofill request: the browser offers passkeys in the email field's suggestions. */
function startConditional() {
  if (!passkeysSupported || conditional || me) return;
  if (typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
  const controller = new AbortController();
  const entry = { controller, done: null };
  conditional = entry;
  entry.done = (async () => {
    let credential = null;
    try {
      credential = await conditionalCredential(controller.signal);
    } catch {
      // Autofill is a convenience offered in the background: if it cannot start, was aborted
      // because the user chose another way, or was dismissed, the email field and the button
      // still work, so there is nothing to tell.
    }
    let failure = null;
    if (credential) {
      try {
        await finishPasskeySignIn(credential);
      } catch (e) {
        failure = e;
      }
    }
    // Cleared only now, so the button waits for a sign-in the autofill already began.
    if (conditional === entry) conditional = null;
    if (failure) {
      // The user picked a passkey; now they need to know why it did not sign them in.
      showError($("signin-error"), failure);
      if (current === "signin") startConditional();
    }
  })();
}

/** The passkey the user picks from the autofill suggestions, or null if autofill is unavailable. */
async function conditionalCredential(signal) {
  if (!(await PublicKeyCredential.isConditionalMediationAvailable()) || signal.aborted) return null;
  const start = await call("POST", "/v1/passkeys/login/options", undefined, { signal });
  if (signal.aborted) return null;
  return navigator.credentials.get({ publicKey: requestOptions(start.options.publicKey), mediation: "conditional", signal });
}

function abortConditional() {
  conditional?.controller.abort();
}

/** Settles the autofill request before another ceremony starts: one WebAuthn request at a time,
 * and one ceremony cookie, which the last options call sets. */
async function stopConditional() {
  const pending = conditional;
  if (!pending) return;
  pending.controller.abort();
  await pending.done;
}

async function finishPasskeySignIn(credential) {
  // No ceremony id in the body: it is in the ceremony cookie, so the session comes back as cookies.
  const signed = await call("POST", "/v1/passkeys/login/finish", { credential: credentialJSON(credential) });
  me = signed.user;
  say("");
  go("account");
}

async function passkeyButton() {
  const error = $("signin-error");
  error.textContent = "";
  say("");
  await busy($("signin-passkey"), async () => {
    await stopConditional();
    if (me) return; // the autofill request won the race
    try {
      const start = await call("POST", "/v1/passkeys/login/options");
      const credential = await navigator.credentials.get({ publicKey: requestOptions(start.options.publicKey) });
      await finishPasskeySignIn(credential);
    } catch (e) {
      showError(error, e);
    }
  });
  if (!me && current === "signin") startConditional();
}

// ---------------------------------------------------------------------------------------------
// Email codes

/** The flow waiting for a code: survives a reload of the tab (the attempt cookie does too). */
function pendingFlow() {
  try {
    return JSON.parse(sessionStorage.getItem(FLOW_KEY) ?? "null");
  } catch {
    return null;
  }
}

function setFlow(flow) {
  if (flow) sessionStorage.setItem(FLOW_KEY, JSON.stringify(flow));
  else sessionStorage.removeItem(FLOW_KEY);
}

const SENT = {
  // Enumeration safety: the page must not claim an account exists; the mail tells the truth.
  signup: (email) => `We sent a code to ${email}. Enter it to confirm your address.`,
  login: (email) => `If ${email} has an account, we sent it a sign-in code. If not, the email explains how to sign up.`,
  recovery: (email) => `If ${email} has an account, we sent it a recovery code.`,
};

function openCode() {
  const flow = pendingFlow();
  $("code-sent").textContent = (SENT[flow.purpose] ?? SENT.login)(flow.email);
  $("code-error").textContent = "";
  show("code");
  $("code-input").focus();
}

/** Starts an email-code flow; the answer is the same whether or not the address has an account. */
async function startCodeFlow(form, errorEl, purpose, path, body) {
  errorEl.textContent = "";
  say("");
  await busy(form.querySelector("button[type=submit]"), async () => {
    try {
      await stopConditional();
      await call("POST", path, body);
      setFlow({ purpose, email: body.email });
      $("code-input").value = "";
      go("code");
    } catch (e) {
      showError(errorEl, e);
      if (e.code === "rate_limited") coolDown(form.querySelector("button[type=submit]"), e.retryAfter);
    }
  });
}

async function verifyCode(event) {
  event.preventDefault();
  const error = $("code-error");
  const input = $("code-input");
  error.textContent = "";
  // Sent as typed: the server ignores case, spaces and dashes, and knows the code's length.
  const code = input.value;
  if (!code.trim()) {
    error.textContent = "Enter the code from the email.";
    input.focus();
    return;
  }
  const button = event.submitter ?? $("code-form").querySelector("button[type=submit]");
  await busy(button, async () => {
    try {
      // No attempt token in the body: the attempt cookie carries it, so the session comes back as cookies.
      const signed = await call("POST", "/v1/codes/verify", { code });
      const flow = pendingFlow();
      setFlow(null);
      me = signed.user;
      await afterCodeSignIn(flow?.purpose, signed.created);
    } catch (e) {
      showError(error, e);
      if (e.code === "rate_limited") coolDown(button, e.retryAfter);
      if (e.code === "attempt_invalid") setFlow(null);
      input.focus();
      input.select();
    }
  });
}

/** After a code: new accounts and recoveries are offered a passkey, and so is anyone without one. */
async function afterCodeSignIn(purpose, created) {
  if (!passkeysSupported) return go("account");
  let offer = purpose === "recovery" || created;
  if (!offer) {
    const list = await authed("GET", "/v1/me/passkeys").catch(() => null);
    offer = list !== null && list.passkeys.length === 0;
  }
  if (!offer) return go("account");
  $("welcome-title").textContent = created ? "Your account is ready" : "You are signed in";
  $("welcome-text").textContent =
    purpose === "recovery"
      ? "Add a new passkey now, so you can sign in without email next time. You can remove the lost one under Passkeys."
      : "Next time, sign in with a passkey: your fingerprint, face or screen lock instead of a code.";
  $("welcome-error").textContent = "";
  go("welcome");
}

async function resendCode() {
  const error = $("code-error");
  const button = $("code-resend");
  error.textContent = "";
  say("");
  await busy(button, async () => {
    try {
      await call("POST", "/v1/codes/resend", {});
      say("A new code is on its way. The previous one no longer works.");
    } catch (e) {
      showError(error, e);
      if (e.code === "rate_limited") coolDown(button, e.retryAfter);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Passkey registration

async function createPasskey() {
  const start = await authed("POST", "/v1/passkeys/register/options");
  const credential = await navigator.credentials.create({ publicKey: creationOptions(start.options.publicKey) });
  // The server names it after the browser and system; the user can rename it.
  return authed("POST", "/v1/passkeys/register/finish", { ceremony_id: start.ceremony_id, credential: credentialJSON(credential) });
}

async function welcomeCreate() {
  const error = $("welcome-error");
  error.textContent = "";
  await busy($("welcome-create"), async () => {
    try {
      const passkey = await createPasskey();
      say(`Passkey “${passkey.name}” added. Next time, sign in with it.`);
      go("account");
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Account

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const when = (s) => (s ? dateFormat.format(new Date(s)) : "never");

/** "Chrome on Linux" from a user agent, like the server's passkey names. */
function deviceName(ua) {
  if (!ua) return "Unknown device";
  const os = [["iPhone", "iPhone"], ["iPad", "iPad"], ["Android", "Android"], ["CrOS", "ChromeOS"], ["Mac OS X", "Mac"],
    ["Windows", "Windows"], ["Linux", "Linux"]].find(([n]) => ua.includes(n))?.[1];
  const browser = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"]]
    .find(([n]) => ua.includes(n))?.[1];
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? ua.slice(0, 40);
}

const METHODS = { passkey: "passkey", email_code: "email code", recovery: "recovery code" };

async function openAccount() {
  show("account");
  $("account-error").textContent = "";
  renderProfile();
  try {
    // `me` may be stale after a reload or a change elsewhere; the lists are always fresh.
    me = await authed("GET", "/v1/me");
    renderProfile();
    await Promise.all([loadPasskeys(), loadSessions(), loadActivity()]);
  } catch (e) {
    if (!sessionEnded(e)) showError($("account-error"), e);
  }
}

function renderProfile() {
  if (!me) return;
  $("profile-email").textContent = me.email;
  $("profile-name").value = me.display_name;
  $("profile-public").checked = me.public;
}

async function saveProfile(patch, button) {
  const error = $("account-error");
  error.textContent = "";
  say("");
  await busy(button, async () => {
    try {
      me = await authed("PATCH", "/v1/me", patch);
      renderProfile();
      say("Profile saved.");
      loadActivity();
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
      renderProfile();
    }
  });
}

let rowIds = 0;

async function loadPasskeys() {
  const { passkeys } = await authed("GET", "/v1/me/passkeys");
  const list = $("passkey-list");
  list.replaceChildren(...passkeys.map(passkeyRow));
  $("passkeys-empty").hidden = passkeys.length > 0;
}

function passkeyRow(pk) {
  const li = $("tpl-passkey").content.firstElementChild.cloneNode(true);
  li.dataset.id = pk.id;
  li.querySelector(".pk-name").textContent = pk.name;
  const synced = pk.backed_up ? "synced" : pk.backup_eligible ? "can sync" : "this device only";
  li.querySelector(".pk-meta").textContent = `Added ${when(pk.created_at)} · last used ${when(pk.last_used_at)} · ${synced}`;

  const renameButton = li.querySelector(".pk-rename");
  const deleteButton = li.querySelector(".pk-delete");
  const form = li.querySelector(".pk-rename-form");
  const input = li.querySelector(".pk-rename-input");
  const confirm = li.querySelector(".pk-confirm");
  // Unique ids tie each label to its field, so every row's field has an accessible name.
  const inputId = `pk-rename-${++rowIds}`;
  input.id = inputId;
  li.querySelector(".pk-rename-label").htmlFor = inputId;
  li.querySelector(".pk-rename-label").textContent = `New name for “${pk.name}”`;
  renameButton.setAttribute("aria-label", `Rename “${pk.name}”`);
  deleteButton.setAttribute("aria-label", `Delete “${pk.name}”`);

  renameButton.addEventListener("click", () => {
    confirm.hidden = true;
    form.hidden = false;
    input.value = pk.name;
    input.focus();
    input.select();
  });
  li.querySelector(".pk-rename-cancel").addEventListener("click", () => {
    form.hidden = true;
    renameButton.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("account-error");
    error.textContent = "";
    say("");
    await busy(event.submitter, async () => {
      try {
        await authed("PATCH", `/v1/me/passkeys/${encodeURIComponent(pk.id)}`, { name: input.value });
        const name = input.value.trim();
        await loadPasskeys();
        say(`Passkey renamed to “${name}”.`);
        $("passkey-list").querySelector(`[data-id="${CSS.escape(pk.id)}"] .pk-rename`)?.focus();
        loadActivity();
      } catch (e) {
        if (!sessionEnded(e)) showError(error, e);
      }
    });
  });

  deleteButton.addEventListener("click", () => {
    form.hidden = true;
    confirm.hidden = false;
    li.querySelector(".pk-confirm-text").textContent = `Delete “${pk.name}”? You will no longer be able to sign in with it.`;
    li.querySelector(".pk-confirm-no").focus();
  });
  li.querySelector(".pk-confirm-no").addEventListener("click", () => {
    confirm.hidden = true;
    deleteButton.focus();
  });
  li.querySelector(".pk-confirm-yes").addEventListener("click", async (event) => {
    const error = $("account-error");
    error.textContent = "";
    say("");
    await busy(event.currentTarget, async () => {
      try {
        await authed("DELETE", `/v1/me/passkeys/${encodeURIComponent(pk.id)}`);
        await loadPasskeys();
        say(`Passkey “${pk.name}” deleted.`);
        $("passkeys-title").setAttribute("tabindex", "-1");
        $("passkeys-title").focus();
        loadActivity();
      } catch (e) {
        if (e instanceof ApiError && e.code === "reauth_required") {
          showError(error, "Deleting a passkey needs a recent sign-in. Sign out, sign in again, then delete it within 10 minutes.");
          confirm.hidden = true;
          error.scrollIntoView({ block: "nearest" });
        } else if (!sessionEnded(e)) {
          showError(error, e);
        }
      }
    });
  });
  return li;
}

async function addPasskey() {
  const error = $("account-error");
  error.textContent = "";
  say("");
  await busy($("passkey-add"), async () => {
    try {
      const passkey = await createPasskey();
      await loadPasskeys();
      say(`Passkey “${passkey.name}” added.`);
      loadActivity();
    } catch (e) {
      if (e instanceof ApiError && e.code === "reauth_required") {
        showError(error, "Adding a passkey needs a recent sign-in. Sign out, sign in again, then add it within 10 minutes.");
        error.scrollIntoView({ block: "nearest" });
      } else if (!sessionEnded(e)) {
        showError(error, e);
      }
    }
  });
}

async function loadSessions() {
  const { sessions } = await authed("GET", "/v1/me/sessions");
  $("session-list").replaceChildren(...sessions.map(sessionRow));
}

function sessionRow(s) {
  const li = $("tpl-session").content.firstElementChild.cloneNode(true);
  li.dataset.id = s.id;
  const name = deviceName(s.user_agent);
  const label = li.querySelector(".s-name");
  label.textContent = name;
  if (s.current) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "this device";
    label.append(badge);
    li.classList.add("current");
  }
  const via = METHODS[s.method] ?? s.method;
  const from = s.ip ? ` · from ${s.ip}` : "";
  li.querySelector(".s-meta").textContent = `Signed in ${when(s.created_at)} with ${via} · active ${when(s.last_seen_at)}${from}`;
  const button = li.querySelector(".s-revoke");
  button.setAttribute("aria-label", s.current ? "Sign out on this device" : `Sign out ${name}, signed in ${when(s.created_at)}`);
  button.addEventListener("click", () => (s.current ? signOut(button) : revokeSession(s, button)));
  return li;
}

async function revokeSession(s, button) {
  const error = $("account-error");
  error.textContent = "";
  say("");
  await busy(button, async () => {
    try {
      await authed("DELETE", `/v1/me/sessions/${encodeURIComponent(s.id)}`);
      await loadSessions();
      say(`Signed out ${deviceName(s.user_agent)}.`);
      $("sessions-title").setAttribute("tabindex", "-1");
      $("sessions-title").focus();
      loadActivity();
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
    }
  });
}

async function revokeAll() {
  const error = $("account-error");
  error.textContent = "";
  await busy($("sessions-revoke-all"), async () => {
    try {
      const { revoked } = await authed("DELETE", "/v1/me/sessions");
      signedOut(`Signed out everywhere (${revoked} session${revoked === 1 ? "" : "s"}).`);
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
    }
  });
}

const ACTIVITY = {
  signed_up: "Account created",
  signed_in: "Signed in",
  signed_out: "Signed out",
  session_revoked: "Signed out a session",
  sessions_revoked: "Signed out everywhere",
  profile_updated: "Profile changed",
  email_change_requested: "Email change requested",
  email_changed: "Email address changed",
  code_rejected: "A wrong code was entered",
  passkey_added: "Passkey added",
  passkey_renamed: "Passkey renamed",
  passkey_removed: "Passkey deleted",
  passkey_clone_suspected: "A copied passkey was refused",
  refresh_token_reused: "A stolen sign-in was blocked",
  email_change_reverted: "An email change was undone",
};

async function loadActivity() {
  try {
    const { events } = await authed("GET", "/v1/me/activity?limit=20");
    $("activity-list").replaceChildren(
      ...events.map((ev) => {
        const li = document.createElement("li");
        li.className = "item";
        const what = ACTIVITY[ev.kind] ?? ev.kind.replace(/_/g, " ");
        const detail = ev.detail ? ` (${ev.detail.replace(/_/g, " ")})` : "";
        const from = ev.ip ? ` · ${ev.ip}` : "";
        li.textContent = `${what}${detail} · ${when(ev.at)}${from}`;
        return li;
      }),
    );
  } catch (e) {
    if (!sessionEnded(e)) showError($("account-error"), e);
  }
}

async function signOut(button) {
  await busy(button, async () => {
    try {
      await authed("POST", "/v1/logout");
    } catch (e) {
      // Already signed out is what the user asked for; anything else is worth saying.
      if (!(e instanceof ApiError && e.status === 401)) {
        showError($("account-error"), e);
        return;
      }
    }
    signedOut("You are signed out.");
  });
}

// ---------------------------------------------------------------------------------------------
// Start

function bind() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const email = $("signin-email").value.trim();
    if (!email) {
      $("signin-error").textContent = "Enter your email address to get a code.";
      $("signin-email").focus();
      return;
    }
    startCodeFlow(event.currentTarget, $("signin-error"), "login", "/v1/login/email", { email });
  });
  $("signin-passkey").addEventListener("click", passkeyButton);
  $("signup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { display_name: $("signup-name").value.trim(), email: $("signup-email").value.trim() };
    if (!body.display_name || !body.email) {
      $("signup-error").textContent = "Enter your name and your email address.";
      (body.display_name ? $("signup-email") : $("signup-name")).focus();
      return;
    }
    startCodeFlow(event.currentTarget, $("signup-error"), "signup", "/v1/signup", body);
  });
  $("recover-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const email = $("recover-email").value.trim();
    if (!email) {
      $("recover-error").textContent = "Enter the email address of your account.";
      $("recover-email").focus();
      return;
    }
    startCodeFlow(event.currentTarget, $("recover-error"), "recovery", "/v1/recovery", { email });
  });
  $("code-form").addEventListener("submit", verifyCode);
  $("code-resend").addEventListener("click", resendCode);
  $("code-back").addEventListener("click", () => setFlow(null));
  $("welcome-create").addEventListener("click", welcomeCreate);
  $("revert-confirm").addEventListener("click", confirmRevert);
  $("profile-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveProfile({ display_name: $("profile-name").value }, event.submitter);
  });
  $("profile-public").addEventListener("change", (event) => saveProfile({ public: event.currentTarget.checked }, null));
  $("passkey-add").addEventListener("click", addPasskey);
  $("sessions-revoke-all").addEventListener("click", revokeAll);
  $("signout").addEventListener("click", (event) => signOut(event.currentTarget));
  window.addEventListener("hashchange", route);
}

async function start() {
  if (!passkeysSupported) {
    for (const el of document.querySelectorAll(".passkey-only")) el.hidden = true;
    for (const el of document.querySelectorAll(".no-passkeys")) el.hidden = false;
  }
  bind();
  // Signed in already? The cookies are HttpOnly, so only the server can tell.
  me = await authed("GET", "/v1/me").catch(() => null);
  route();
}

start();
