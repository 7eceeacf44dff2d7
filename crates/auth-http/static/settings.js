// Changing the account's email address (a code to the new address) and deleting the account; both
// need a recent sign-in, which the reauth screen provides before carrying on.

import { t } from "./i18n.js";
import { ApiError, authed } from "./api.js";
import {
  $, busy, clearFieldError, coolDown, fieldError, go, say, sayNext, sessionEnded, show, showError, signedOut, state,
} from "./ui.js";
import { needsReauth } from "./reauth.js";

export function openEmail() {
  show("email");
  $("email-current").textContent = state.me?.email ?? "";
  $("email-new").focus();
}

/** Sends a code to the new address (and again after a fresh sign-in). */
async function sendEmailChange(button) {
  const input = $("email-new");
  const error = $("email-new-error");
  clearFieldError(input, error);
  $("email-error").textContent = "";
  const email = input.value.trim();
  if (!email) {
    fieldError(input, error, t("enter-new-email"));
    return;
  }
  await busy(button, async () => {
    try {
      await authed("POST", "/v1/me/email", { email });
      $("email-code-form").hidden = false;
      $("email-code-sent").textContent = t("email-code-sent", { email });
      $("email-code").value = "";
      $("email-code").focus();
    } catch (e) {
      if (sessionEnded(e)) return;
      if (needsReauth(e, t("reauth-what-email"), () => resumeEmailChange(email), "email")) return;
      if (e.code === "rate_limited") coolDown(button, e, t("wait-new-address-code"));
      else if (e instanceof ApiError && ["invalid_email", "email_taken", "same_email"].includes(e.code)) fieldError(input, error, e);
      else showError($("email-error"), e);
    }
  }, t("busy-sending"));
}

/** After the fresh sign-in: back on the email screen with the address the user typed, code sent. */
async function resumeEmailChange(email) {
  await go("email");
  $("email-new").value = email;
  await sendEmailChange($("email-send"));
}

export function submitEmail(event) {
  event.preventDefault();
  sendEmailChange(event.submitter ?? $("email-send"));
}

export async function verifyEmailChange(event) {
  event.preventDefault();
  const input = $("email-code");
  const error = $("email-code-error");
  clearFieldError(input, error);
  if (!input.value.trim()) {
    fieldError(input, error, t("enter-code"));
    return;
  }
  const button = event.submitter ?? $("email-code-form").querySelector("button[type=submit]");
  const old = state.me?.email;
  const email = $("email-new").value.trim();
  await busy(button, async () => {
    try {
      state.me = await authed("POST", "/v1/me/email/verify", { code: input.value });
      sayNext(t("email-changed", { email: state.me.email, old }));
      await go("account");
    } catch (e) {
      if (sessionEnded(e)) return;
      // The code's attempt dies with a fresh sign-in, so the change starts again with a new code.
      if (needsReauth(e, t("reauth-what-email"), () => resumeEmailChange(email), "email")) return;
      if (e.code === "rate_limited") coolDown(button, e, t("wait-try-code"));
      else fieldError(input, error, e);
    }
  }, t("busy-checking"));
}

export function openDelete() {
  show("delete");
  $("delete-email").textContent = state.me?.email ?? t("your-address");
}

async function deleteAccount() {
  await authed("DELETE", "/v1/me");
  signedOut(t("account-deleted"));
}

export async function confirmDelete(event) {
  $("delete-error").textContent = "";
  say("");
  await busy(event.currentTarget, async () => {
    try {
      await deleteAccount();
    } catch (e) {
      if (sessionEnded(e)) return;
      if (needsReauth(e, t("reauth-what-delete-account"), deleteAccount, "delete")) return;
      showError($("delete-error"), e);
    }
  }, t("busy-deleting"));
}
