// What every screen shares: the page's state, messages for people, busy buttons with progress
// text, per-action waits after a rate limit, field errors, and switching screens so that each one
// starts clean.

import { ApiError } from "./api.js";
import { t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export const VIEWS = ["signin", "signup", "recover", "code", "welcome", "account", "revert", "email", "delete", "reauth", "consent"];

/** What the screens share. */
export const state = {
  /** The signed-in account (`GET /v1/me`), or null. */
  me: null,
  /** The screen shown now. */
  current: null,
};

export const passkeysSupported =
  typeof window.PublicKeyCredential === "function" && typeof navigator.credentials?.get === "function";

const seconds = (n) => t(n === 1 ? "seconds-one" : "seconds-other", { n });

/** A sentence for a person, for any failure of an API call or a WebAuthn ceremony. `context`
 * says what was attempted, where the same failure means different things ("signin" for a
 * passkey sign-in). */
export function describe(e, context) {
  if (e instanceof ApiError) {
    switch (e.code) {
      case "code_invalid":
        return t("error-code-invalid");
      case "invalid_code_format":
        return t("error-invalid-code-format");
      case "revert_invalid":
        return t("error-revert-invalid");
      case "attempt_invalid":
        return t("error-attempt-invalid");
      case "rate_limited":
        return e.retryAfter ? t("error-rate-limited", { seconds: seconds(e.retryAfter) }) : t("error-rate-limited-moment");
      case "invalid_email":
        return t("error-invalid-email");
      case "invalid_display_name":
        return t("error-invalid-display-name");
      case "invalid_passkey_name":
        return t("error-invalid-passkey-name");
      case "reauth_required":
        return t("error-reauth-required");
      case "passkey_invalid":
        return t("error-passkey-invalid");
      case "passkey_exists":
        return t("error-passkey-exists");
      case "same_email":
        return t("error-same-email");
      case "email_taken":
        return t("error-email-taken");
      case "unauthorized":
      case "refresh_invalid":
        return t("error-unauthorized");
      case "unavailable":
        return t("error-unavailable");
      case "network":
        return t("error-network");
      default:
        return t("error-other");
    }
  }
  switch (e?.name) {
    case "NotAllowedError":
      // WebAuthn says the same whether the user cancelled or the device holds no passkey for us.
      return context === "signin"
        ? t("passkey-none-used")
        : t("passkey-cancelled");
    case "InvalidStateError":
      return t("passkey-on-device");
    case "SecurityError":
      return t("passkey-bad-address");
    case "NotSupportedError":
      return t("passkey-unsupported");
    default:
      return t("error-other");
  }
}

/** The shared polite live region: progress and success notes. */
export function say(text) {
  $("status").textContent = text;
}

/** A note for the next screen (show() clears the region otherwise), e.g. "You are signed out." */
let nextNote = "";
export function sayNext(text) {
  nextNote = text;
}

export function showError(el, e, context) {
  el.textContent = typeof e === "string" ? e : describe(e, context);
}

/** Marks `input` as wrong, ties `errorEl` to it, and moves focus there. */
export function fieldError(input, errorEl, e) {
  showError(errorEl, e);
  input.setAttribute("aria-invalid", "true");
  const described = (input.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean);
  if (!described.includes(errorEl.id)) input.setAttribute("aria-describedby", [...described, errorEl.id].join(" "));
  input.focus();
}

/** Clears the error of one field (on the next try, or when the user edits it). */
export function clearFieldError(input, errorEl) {
  input.removeAttribute("aria-invalid");
  if (errorEl) errorEl.textContent = "";
}

/** Disables `button` while `work` runs, so nothing is sent twice, and says on it what is going on
 * ("Sending…"). Afterwards focus goes back to the button, or to its wait note while a rate limit
 * keeps it off, unless the work moved focus somewhere on purpose. */
export async function busy(button, work, progress = t("busy-working")) {
  const label = button?.textContent;
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.dataset.label = label;
    button.textContent = progress;
  }
  try {
    return await work();
  } finally {
    if (button) {
      button.textContent = label;
      delete button.dataset.label;
      button.removeAttribute("aria-busy");
      if (!waits.has(button)) button.disabled = false;
      const lost = !document.activeElement || document.activeElement === document.body;
      if (lost && button.isConnected && !button.closest("[hidden]")) {
        if (waits.has(button)) waits.get(button).note.focus();
        else button.focus();
      }
    }
  }
}

/** Rate-limit waits, by button: { note, timer }. */
const waits = new Map();
let buttonIds = 0;

/**
 * After a 429, keeps `button` off until the wait is over and says beside it which action waits and
 * for how long, counting down. `what` finishes "You can … in 20 seconds", e.g. "send a new code".
 */
export function coolDown(button, e, what) {
  const secs = e?.retryAfter ?? 5;
  endWait(button);
  button.id ||= `button-${++buttonIds}`;
  let note = $(`${button.id}-wait`);
  if (!note) {
    note = document.createElement("p");
    note.id = `${button.id}-wait`;
    note.className = "wait";
    note.tabIndex = -1;
    button.after(note);
  }
  const until = Date.now() + secs * 1000;
  const render = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    note.textContent = t("wait-note", { what, seconds: seconds(left) });
    return left;
  };
  render();
  // The live region says it once; the note counts down silently, so a screen reader is not
  // interrupted every second.
  say(t("wait-said", { what, seconds: seconds(secs) }));
  button.disabled = true;
  button.setAttribute("aria-describedby", note.id);
  const timer = setInterval(() => {
    if (render() === 0) endWait(button);
  }, 1000);
  waits.set(button, { note, timer });
}

function endWait(button) {
  const wait = waits.get(button);
  if (!wait) return;
  clearInterval(wait.timer);
  wait.note.remove();
  button.removeAttribute("aria-describedby");
  waits.delete(button);
  if (!button.dataset.label) button.disabled = false;
}

/** Shows `view` clean: no old errors, field marks, waits or values from an earlier visit. */
export function show(view) {
  state.current = view;
  $("loading").hidden = true;
  for (const button of [...waits.keys()]) endWait(button);
  const section = $(`view-${view}`);
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const el of document.querySelectorAll("main .error")) el.textContent = "";
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const form of section.querySelectorAll("form[data-fresh]")) form.reset();
  for (const el of section.querySelectorAll("[data-fresh-hidden]")) el.hidden = true;
  say(nextNote);
  nextNote = "";
  const heading = $(`${view}-title`);
  document.title = `${heading.textContent} · Passwordless sign-in`;
  // Move focus to the new screen's heading, so keyboard and screen-reader users start there.
  heading.focus();
}

let router = () => {};
/** Resolves the promise of the last go() once its screen is shown. */
let arrived = null;

/** Routes with `fn`, now and on every change of the hash. */
export function setRouter(fn) {
  router = () => {
    fn();
    const done = arrived;
    arrived = null;
    done?.();
  };
  window.addEventListener("hashchange", router);
  router();
}

/** Navigates to `#view`; the hash keeps the back button and mail links (`/#signup`) working. The
 * promise resolves once the screen is shown (its data may still be loading). */
export function go(view) {
  return new Promise((resolve) => {
    arrived = resolve;
    if (location.hash === `#${view}`) router();
    else location.hash = view;
  });
}

/** Back to the sign-in screen, e.g. after sign-out or when the session has ended. */
export function signedOut(note) {
  state.me = null;
  sayNext(note);
  go("signin");
}

/** An authenticated call failed with 401 even after a refresh: the session is over. */
export function sessionEnded(e) {
  if (e instanceof ApiError && e.status === 401) {
    signedOut(t("session-ended"));
    return true;
  }
  return false;
}
