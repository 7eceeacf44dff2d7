// The recent-sign-in step: when a sensitive change answers 403 `reauth_required`, the user signs in
// again on this screen (a passkey or an email code), the session that was too old is signed out,
// and the change carries on where the user was.

import { t } from "./i18n.js";
import { ApiError, authed, call } from "./api.js";
import {
  $, busy, clearFieldError, coolDown, fieldError, go, passkeysSupported, say, sessionEnded, show, showError, state,
} from "./ui.js";
import { passkeyAssertion } from "./signin.js";

/** The change waiting for a fresh sign-in: { what, resume, back }. */
let pending = null;

/**
 * If `e` is `reauth_required`, opens the fresh-sign-in screen for the change described by `what`
 * ("delete your account") and returns true; `resume` runs after the sign-in. `back` is the screen
 * that Cancel returns to.
 */
export function needsReauth(e, what, resume, back = "account") {
  if (!(e instanceof ApiError && e.code === "reauth_required")) return false;
  pending = { what, resume, back };
  go("reauth");
  return true;
}

export function openReauth() {
  if (!pending) return go("account");
  show("reauth");
  $("reauth-why").textContent = t("reauth-why", { what: pending.what });
  $("reauth-passkey").hidden = !passkeysSupported;
  $("reauth-code-form").hidden = true;
  $("reauth-cancel").href = `#${pending.back}`;
}

export function cancelReauth() {
  pending = null;
}

/** The session that is too old, to sign it out once the new one exists. */
async function currentSessionId() {
  const { sessions } = await authed("GET", "/v1/me/sessions").catch(() => ({ sessions: [] }));
  return sessions.find((s) => s.current)?.id ?? null;
}

async function finish(signed, old) {
  const change = pending;
  pending = null;
  if (signed.user.id !== state.me?.id) {
    // Another account's passkey: that account is signed in now, and the change is not made.
    state.me = signed.user;
    say(t("reauth-other-account", { email: signed.user.email }));
    return go("account");
  }
  state.me = signed.user;
  if (old) await authed("DELETE", `/v1/me/sessions/${encodeURIComponent(old)}`).catch(() => null);
  try {
    await change.resume();
  } catch (e) {
    if (sessionEnded(e)) return;
    await go(change.back);
    showError($(`${change.back}-error`), e);
  }
}

export async function reauthPasskey(event) {
  const error = $("reauth-error");
  error.textContent = "";
  await busy(event.currentTarget, async () => {
    try {
      const old = await currentSessionId();
      const signed = await passkeyAssertion();
      await finish(signed, old);
    } catch (e) {
      showError(error, e);
    }
  }, t("busy-passkey"));
}

export async function reauthEmail(event) {
  const button = event.currentTarget;
  const error = $("reauth-error");
  error.textContent = "";
  await busy(button, async () => {
    try {
      await call("POST", "/v1/login/email", { email: state.me.email });
      $("reauth-code-form").hidden = false;
      $("reauth-code-sent").textContent = t("reauth-code-sent", { email: state.me.email });
      $("reauth-code").value = "";
      $("reauth-code").focus();
    } catch (e) {
      if (e.code === "rate_limited") coolDown(button, e, t("wait-sign-in-code"));
      else if (!sessionEnded(e)) showError(error, e);
    }
  }, t("busy-sending"));
}

export async function reauthVerify(event) {
  event.preventDefault();
  const input = $("reauth-code");
  const error = $("reauth-code-error");
  clearFieldError(input, error);
  if (!input.value.trim()) {
    fieldError(input, error, t("enter-code"));
    return;
  }
  const button = event.submitter ?? $("reauth-code-form").querySelector("button[type=submit]");
  await busy(button, async () => {
    try {
      const old = await currentSessionId();
      const signed = await call("POST", "/v1/codes/verify", { code: input.value });
      await finish(signed, old);
    } catch (e) {
      if (e.code === "rate_limited") coolDown(button, e, t("wait-try-code"));
      else fieldError(input, error, e);
    }
  }, t("busy-checking"));
}
