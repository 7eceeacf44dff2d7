// Getting in: passkey sign-in (button and autofill), email codes for sign-up, sign-in and recovery,
// the passkey offer after a code, and undoing an email change from the mailed link.

import { t } from "./i18n.js";
import { ApiError, authed, call, creationOptions, credentialJSON, requestOptions } from "./api.js";
import {
  $, busy, clearFieldError, coolDown, fieldError, go, passkeysSupported, say, sayNext, sessionEnded, show, showError, state,
} from "./ui.js";

const FLOW_KEY = "auth.flow";

/** The pending autofill (conditional) passkey request: { controller, done }. */
let conditional = null;
/** The token of an email-change undo link (`/#revert=<token>`), kept out of the address bar. */
let revertToken = null;

export function setRevertToken(token) {
  revertToken = token;
}

// ---------------------------------------------------------------------------------------------
// Undoing an email change (the link mailed to the old address)

export function openRevert() {
  $("revert-result").hidden = true;
  $("revert-intro").hidden = false;
  $("revert-confirm").hidden = !revertToken;
  show("revert");
  if (!revertToken) showError($("revert-error"), t("revert-lost"));
}

/** Posts the token; the link works once, so the button goes away whatever the answer. */
export async function confirmRevert(event) {
  const button = event.currentTarget;
  $("revert-error").textContent = "";
  try {
    const done = await busy(button, () => call("POST", "/v1/email/revert", { token: revertToken }), t("busy-undoing"));
    revertToken = null;
    state.me = null;
    const rest = t(done.passkeys_removed === 1 ? "revert-rest-one" : "revert-rest-other", { n: done.passkeys_removed });
    $("revert-result").textContent = done.restored
      ? t("revert-done", { rest })
      : t("revert-taken", { rest });
    $("revert-result").hidden = false;
    $("revert-intro").hidden = true;
    button.hidden = true;
    say(t("revert-said"));
    $("revert-signin").focus();
  } catch (e) {
    showError($("revert-error"), e);
    if (e instanceof ApiError && e.code === "revert_invalid") {
      revertToken = null;
      button.hidden = true;
      $("revert-error").focus();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Passkey sign-in

/** Starts the autofill request: the browser offers passkeys in the email field's suggestions. */
export function startConditional() {
  if (!passkeysSupported || conditional || state.me) return;
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
      showError($("signin-error"), failure, "signin");
      if (state.current === "signin") startConditional();
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

export function abortConditional() {
  conditional?.controller.abort();
}

/** Settles the autofill request before another ceremony starts: one WebAuthn request at a time,
 * and one ceremony cookie, which the last options call sets. */
export async function stopConditional() {
  const pending = conditional;
  if (!pending) return;
  pending.controller.abort();
  await pending.done;
}

async function finishPasskeySignIn(credential) {
  // No ceremony id in the body: it is in the ceremony cookie, so the session comes back as cookies.
  const signed = await call("POST", "/v1/passkeys/login/finish", { credential: credentialJSON(credential) });
  state.me = signed.user;
  go("account");
}

/** A modal passkey request (the button, or a fresh sign-in before a sensitive change). */
export async function passkeyAssertion() {
  const start = await call("POST", "/v1/passkeys/login/options");
  const credential = await navigator.credentials.get({ publicKey: requestOptions(start.options.publicKey) });
  return call("POST", "/v1/passkeys/login/finish", { credential: credentialJSON(credential) });
}

export async function passkeyButton() {
  const error = $("signin-error");
  error.textContent = "";
  say("");
  await busy($("signin-passkey"), async () => {
    await stopConditional();
    if (state.me) return; // the autofill request won the race
    try {
      const signed = await passkeyAssertion();
      state.me = signed.user;
      go("account");
    } catch (e) {
      showError(error, e, "signin");
    }
  }, t("busy-passkey"));
  if (!state.me && state.current === "signin") startConditional();
}

// ---------------------------------------------------------------------------------------------
// Email codes

/** The flow waiting for a code: survives a reload of the tab (the attempt cookie does too). */
export function pendingFlow() {
  try {
    return JSON.parse(sessionStorage.getItem(FLOW_KEY) ?? "null");
  } catch {
    return null;
  }
}

export function setFlow(flow) {
  if (flow) sessionStorage.setItem(FLOW_KEY, JSON.stringify(flow));
  else sessionStorage.removeItem(FLOW_KEY);
}

const SENT = {
  // Enumeration safety: the page must not claim an account exists; the mail tells the truth.
  signup: (email) => t("sent-signup", { email }),
  login: (email) => t("sent-login", { email }),
  recovery: (email) => t("sent-recovery", { email }),
};

/** What waits after a rate limit, by flow: "You can … in 20 seconds." */
const WAITING = {
  signup: "wait-sign-up-code",
  login: "wait-sign-in-code",
  recovery: "wait-recovery-code",
};

export function openCode() {
  const flow = pendingFlow();
  show("code");
  $("code-sent").textContent = (SENT[flow.purpose] ?? SENT.login)(flow.email);
  $("code-input").focus();
}

/** Starts an email-code flow; the answer is the same whether or not the address has an account. */
export async function startCodeFlow(form, input, errorEl, purpose, path, body) {
  clearFieldError(input, errorEl);
  say("");
  const button = form.querySelector("button[type=submit]");
  await busy(button, async () => {
    try {
      await stopConditional();
      await call("POST", path, body);
      setFlow({ purpose, email: body.email });
      $("code-input").value = "";
      go("code");
    } catch (e) {
      if (e.code === "rate_limited") coolDown(button, e, t(WAITING[purpose]));
      else if (e.code === "invalid_email") fieldError(input, errorEl, e);
      else showError(errorEl, e);
    }
  }, t("busy-sending"));
}

export async function verifyCode(event) {
  event.preventDefault();
  const error = $("code-error");
  const input = $("code-input");
  clearFieldError(input, error);
  // Sent as typed: the server ignores case, spaces and dashes, and knows the code's length.
  const code = input.value;
  if (!code.trim()) {
    fieldError(input, error, t("enter-code"));
    return;
  }
  const button = event.submitter ?? $("code-form").querySelector("button[type=submit]");
  await busy(button, async () => {
    try {
      // No attempt token in the body: the attempt cookie carries it, so the session comes back as cookies.
      const signed = await call("POST", "/v1/codes/verify", { code });
      const flow = pendingFlow();
      setFlow(null);
      state.me = signed.user;
      await afterCodeSignIn(flow?.purpose, signed.created);
    } catch (e) {
      if (e.code === "rate_limited") {
        coolDown(button, e, t("wait-try-code"));
        return;
      }
      if (e.code === "attempt_invalid") setFlow(null);
      fieldError(input, error, e);
      input.select();
    }
  }, t("busy-checking"));
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
  $("welcome-title").textContent = t(created ? "welcome-created" : "welcome-signed-in");
  $("welcome-text").textContent =
    purpose === "recovery"
      ? t("welcome-recovered")
      : t("welcome-next-time");
  go("welcome");
}

export async function resendCode() {
  const error = $("code-error");
  const button = $("code-resend");
  clearFieldError($("code-input"), error);
  say("");
  await busy(button, async () => {
    try {
      await call("POST", "/v1/codes/resend", {});
      say(t("code-resent"));
    } catch (e) {
      if (e.code === "rate_limited") coolDown(button, e, t("wait-new-code"));
      else showError(error, e);
    }
  }, t("busy-sending"));
}

// ---------------------------------------------------------------------------------------------
// Passkey registration

export async function createPasskey() {
  const start = await authed("POST", "/v1/passkeys/register/options");
  const credential = await navigator.credentials.create({ publicKey: creationOptions(start.options.publicKey) });
  // The server names it after the browser and system; the user can rename it.
  return authed("POST", "/v1/passkeys/register/finish", { ceremony_id: start.ceremony_id, credential: credentialJSON(credential) });
}

export async function welcomeCreate() {
  const error = $("welcome-error");
  error.textContent = "";
  await busy($("welcome-create"), async () => {
    try {
      const passkey = await createPasskey();
      sayNext(t("pk-added-next", { name: passkey.name }));
      go("account");
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
    }
  }, t("busy-creating"));
}
