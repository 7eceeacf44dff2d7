// The bundled page's entry point: passkey sign-in (with autofill), email codes, sign-up, recovery,
// the account, email change and deletion. Plain ES modules with no build step and no framework.
// The page's CSP allows no inline script or style, so every behaviour is attached here and screens
// are switched with `hidden`.
//
// api.js      the API and WebAuthn's JSON
// ui.js       state, messages, busy buttons, rate-limit waits, field errors, screens
// signin.js   passkey sign-in, email codes, the passkey offer, undoing an email change
// account.js  profile, passkeys, sessions, activity, sign-out
// settings.js email change and account deletion
// reauth.js   the fresh sign-in that sensitive changes need
// oidc.js     going back to an app that asked us to sign someone in (OpenID Connect or return_to)

import { loadMessages, t } from "./i18n.js";
import { $, clearFieldError, fieldError, go, passkeysSupported, setRouter, show, state } from "./ui.js";
import { authed } from "./api.js";
import {
  abortConditional, confirmRevert, openCode, openRevert, passkeyButton, pendingFlow, resendCode, setFlow, setRevertToken,
  startCodeFlow, startConditional, verifyCode, welcomeCreate,
} from "./signin.js";
import {
  addPasskey, askRevokeAll, cancelRevokeAll, openAccount, profileEdited, revokeAll, saveProfile, signOut,
} from "./account.js";
import { confirmDelete, openDelete, openEmail, submitEmail, verifyEmailChange } from "./settings.js";
import { cancelReauth, openReauth, reauthEmail, reauthPasskey, reauthVerify } from "./reauth.js";
import { bindConsent, openConsent, rememberOidc, rememberReturn, resumeOidc, resumeReturn } from "./oidc.js";

/** Screens for a signed-in user, and how to open each. */
const SIGNED_IN = {
  account: openAccount,
  welcome: () => show("welcome"),
  email: openEmail,
  delete: openDelete,
  reauth: openReauth,
};

function route() {
  const view = location.hash.slice(1) || "signin";
  if (view !== "signin") abortConditional();
  if (view !== "reauth") cancelReauth();
  if (view.startsWith("revert=")) {
    // Keep the token in memory only: out of the address bar, the history and bookmarks.
    setRevertToken(decodeURIComponent(view.slice("revert=".length)));
    history.replaceState(null, "", "#revert");
    return openRevert();
  }
  if (view === "revert") return openRevert();
  if (state.me && view === "consent") return openConsent();
  if (state.me && (resumeOidc() || resumeReturn())) return;
  if (state.me) {
    const open = SIGNED_IN[view];
    return open ? open() : go("account");
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

/** A form's submit handler that checks for an empty email first. */
function emailForm(id, purpose, path, empty, withName = false) {
  $(`${id}-form`).addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $(`${id}-email`);
    const error = $(`${id}-error`);
    const body = { email: input.value.trim() };
    if (withName) {
      const name = $("signup-name");
      body.display_name = name.value.trim();
      if (!body.display_name) {
        fieldError(name, $("signup-name-error"), t("enter-name"));
        return;
      }
      clearFieldError(name, $("signup-name-error"));
    }
    if (!body.email) {
      fieldError(input, error, empty);
      return;
    }
    startCodeFlow(event.currentTarget, input, error, purpose, path, body);
  });
}

function bind() {
  emailForm("signin", "login", "/v1/login/email", t("enter-email-for-code"));
  emailForm("signup", "signup", "/v1/signup", t("enter-email"), true);
  emailForm("recover", "recovery", "/v1/recovery", t("enter-account-email"));
  $("signin-passkey").addEventListener("click", passkeyButton);
  $("code-form").addEventListener("submit", verifyCode);
  $("code-resend").addEventListener("click", resendCode);
  $("code-back").addEventListener("click", () => setFlow(null));
  $("welcome-create").addEventListener("click", welcomeCreate);
  $("revert-confirm").addEventListener("click", confirmRevert);
  $("profile-form").addEventListener("submit", saveProfile);
  $("profile-form").addEventListener("input", profileEdited);
  $("passkey-add").addEventListener("click", addPasskey);
  $("sessions-revoke-all").addEventListener("click", askRevokeAll);
  $("revoke-all-yes").addEventListener("click", revokeAll);
  $("revoke-all-no").addEventListener("click", cancelRevokeAll);
  $("signout").addEventListener("click", (event) => signOut(event.currentTarget));
  $("email-form").addEventListener("submit", submitEmail);
  $("email-code-form").addEventListener("submit", verifyEmailChange);
  $("delete-confirm").addEventListener("click", confirmDelete);
  $("reauth-passkey").addEventListener("click", reauthPasskey);
  $("reauth-email").addEventListener("click", reauthEmail);
  $("reauth-code-form").addEventListener("submit", reauthVerify);
  // Switching the language stays on the same screen.
  for (const a of document.querySelectorAll(".languages a")) {
    a.addEventListener("click", () => { a.href = `?lang=${a.hreflang}${location.hash}`; });
  }
  bindConsent();
}

async function start() {
  if (!passkeysSupported) {
    for (const el of document.querySelectorAll(".passkey-only")) el.hidden = true;
    for (const el of document.querySelectorAll(".no-passkeys")) el.hidden = false;
  }
  await loadMessages();
  bind();
  rememberOidc();
  rememberReturn();
  // Signed in already? The cookies are HttpOnly, so only the server can tell.
  state.me = await authed("GET", "/v1/me").catch(() => null);
  // A language picked in the chooser (`?lang=`, which the server also keeps in a cookie) is kept
  // by a signed-in account too, so that its mail speaks it.
  const lang = document.documentElement.lang;
  if (state.me && new URLSearchParams(location.search).has("lang") && state.me.language !== lang) {
    state.me = await authed("PATCH", "/v1/me", { language: lang }).catch(() => state.me);
  }
  setRouter(route);
}

start();
