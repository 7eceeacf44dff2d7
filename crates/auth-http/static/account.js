// The account screen: the profile form, passkeys (rename, delete, add), sessions (one, or all
// after an in-page confirmation), recent activity, and signing out.

import { t } from "./i18n.js";
import { ApiError, authed } from "./api.js";
import {
  $, busy, clearFieldError, fieldError, go, say, sessionEnded, show, showError, signedOut, state,
} from "./ui.js";
import { createPasskey } from "./signin.js";
import { needsReauth } from "./reauth.js";

const dateFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "short" });
const when = (s) => (s ? dateFormat.format(new Date(s)) : "never");

/** "Chrome on Linux" from a user agent, like the server's passkey names. */
function deviceName(ua) {
  if (!ua) return t("device-unknown");
  const os = [["iPhone", "iPhone"], ["iPad", "iPad"], ["Android", "Android"], ["CrOS", "ChromeOS"], ["Mac OS X", "Mac"],
    ["Windows", "Windows"], ["Linux", "Linux"]].find(([n]) => ua.includes(n))?.[1];
  const browser = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"]]
    .find(([n]) => ua.includes(n))?.[1];
  if (browser && os) return t("device-browser-on-os", { browser, os });
  return browser ?? os ?? ua.slice(0, 40);
}

const METHODS = { passkey: "method-passkey", email_code: "method-email-code", recovery: "method-recovery" };

/** How many passkeys the account has, for the warning before deleting the last one. */
let passkeyCount = 0;

export async function openAccount() {
  show("account");
  $("revoke-all-confirm").hidden = true;
  delete $("profile-form").dataset.dirty;
  renderProfile();
  try {
    // `me` may be stale after a reload or a change elsewhere; the lists are always fresh.
    state.me = await authed("GET", "/v1/me");
    renderProfile();
    await Promise.all([loadPasskeys(), loadSessions(), loadApps(), loadActivity()]);
  } catch (e) {
    if (!sessionEnded(e)) showError($("account-error"), e);
  }
}

function renderProfile() {
  if (!state.me) return;
  $("profile-email").textContent = state.me.email;
  // A name being edited is the user's; only a fresh screen or a save fills the form.
  if ($("profile-form").dataset.dirty) return;
  $("profile-name").value = state.me.display_name;
  $("profile-public").checked = state.me.public;
}

/** One form, one save: the name and the directory choice go together. */
export async function saveProfile(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const input = $("profile-name");
  const error = $("profile-name-error");
  clearFieldError(input, error);
  say("");
  const display_name = input.value.trim();
  if (!display_name) {
    fieldError(input, error, t("error-invalid-display-name"));
    return;
  }
  await busy(event.submitter ?? form.querySelector("button[type=submit]"), async () => {
    try {
      state.me = await authed("PATCH", "/v1/me", { display_name, public: $("profile-public").checked });
      delete form.dataset.dirty;
      renderProfile();
      say(t("profile-saved"));
      loadActivity();
    } catch (e) {
      if (sessionEnded(e)) return;
      if (e instanceof ApiError && e.code === "invalid_display_name") fieldError(input, error, e);
      else showError($("profile-error"), e);
    }
  }, t("busy-saving"));
}

export function profileEdited() {
  $("profile-form").dataset.dirty = "true";
}

let rowIds = 0;

async function loadPasskeys() {
  const { passkeys } = await authed("GET", "/v1/me/passkeys");
  passkeyCount = passkeys.length;
  $("passkey-list").replaceChildren(...passkeys.map(passkeyRow));
  $("passkeys-empty").hidden = passkeys.length > 0;
}

function passkeyRow(pk) {
  const li = $("tpl-passkey").content.firstElementChild.cloneNode(true);
  li.dataset.id = pk.id;
  li.querySelector(".pk-name").textContent = pk.name;
  const synced = t(pk.backed_up ? "pk-synced" : pk.backup_eligible ? "pk-can-sync" : "pk-device-only");
  li.querySelector(".pk-meta").textContent = t("pk-meta", { added: when(pk.created_at), used: when(pk.last_used_at), synced });

  const renameButton = li.querySelector(".pk-rename");
  const deleteButton = li.querySelector(".pk-delete");
  const form = li.querySelector(".pk-rename-form");
  const input = li.querySelector(".pk-rename-input");
  const confirm = li.querySelector(".pk-confirm");
  // Unique ids tie each label to its field, so every row's field has an accessible name.
  const inputId = `pk-rename-${++rowIds}`;
  input.id = inputId;
  const renameError = li.querySelector(".pk-rename-error");
  renameError.id = `${inputId}-error`;
  li.querySelector(".pk-rename-label").htmlFor = inputId;
  li.querySelector(".pk-rename-label").textContent = t("pk-rename-label", { name: pk.name });
  renameButton.setAttribute("aria-label", t("pk-rename", { name: pk.name }));
  deleteButton.setAttribute("aria-label", t("pk-delete", { name: pk.name }));

  renameButton.addEventListener("click", () => {
    confirm.hidden = true;
    form.hidden = false;
    input.value = pk.name;
    input.focus();
    input.select();
  });
  li.querySelector(".pk-rename-cancel").addEventListener("click", () => {
    form.hidden = true;
    clearFieldError(input, renameError);
    renameButton.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldError(input, renameError);
    say("");
    if (!input.value.trim()) {
      fieldError(input, renameError, t("error-invalid-passkey-name"));
      return;
    }
    await busy(event.submitter, async () => {
      try {
        await authed("PATCH", `/v1/me/passkeys/${encodeURIComponent(pk.id)}`, { name: input.value });
        const name = input.value.trim();
        await loadPasskeys();
        say(t("pk-renamed", { name }));
        $("passkey-list").querySelector(`[data-id="${CSS.escape(pk.id)}"] .pk-rename`)?.focus();
        loadActivity();
      } catch (e) {
        if (!sessionEnded(e)) fieldError(input, renameError, e);
      }
    }, t("busy-saving"));
  });

  deleteButton.addEventListener("click", () => {
    form.hidden = true;
    confirm.hidden = false;
    // The last passkey: say plainly what is left afterwards.
    li.querySelector(".pk-confirm-text").textContent = passkeyCount === 1
      ? t("pk-delete-last", { name: pk.name, email: state.me?.email ?? t("your-email") })
      : t("pk-delete-confirm", { name: pk.name });
    li.classList.toggle("last", passkeyCount === 1);
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
    await busy(event.currentTarget, () => deletePasskey(pk), t("busy-deleting"));
  });
  return li;
}

async function deletePasskey(pk) {
  try {
    await authed("DELETE", `/v1/me/passkeys/${encodeURIComponent(pk.id)}`);
    await afterPasskeyDeleted(pk);
  } catch (e) {
    if (needsReauth(e, t("reauth-what-delete-passkey", { name: pk.name }), async () => {
      await authed("DELETE", `/v1/me/passkeys/${encodeURIComponent(pk.id)}`);
      await go("account");
      await afterPasskeyDeleted(pk);
    })) return;
    if (!sessionEnded(e)) showError($("account-error"), e);
  }
}

async function afterPasskeyDeleted(pk) {
  await loadPasskeys();
  say(t("pk-deleted", { name: pk.name }));
  $("passkeys-title").focus();
  loadActivity();
}

export async function addPasskey() {
  const error = $("account-error");
  error.textContent = "";
  say("");
  const add = async () => {
    const passkey = await createPasskey();
    if (state.current !== "account") await go("account");
    await loadPasskeys();
    say(t("pk-added", { name: passkey.name }));
    loadActivity();
  };
  await busy($("passkey-add"), async () => {
    try {
      await add();
    } catch (e) {
      if (needsReauth(e, t("reauth-what-add-passkey"), add)) return;
      if (!sessionEnded(e)) showError(error, e);
    }
  }, t("busy-device"));
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
    badge.textContent = t("session-this-device");
    label.append(badge);
    li.classList.add("current");
  }
  const via = METHODS[s.method] ? t(METHODS[s.method]) : s.method;
  const from = s.ip ? t("session-from", { ip: s.ip }) : "";
  const app = s.app ? t("session-app", { app: s.app_name ?? s.app }) : "";
  li.querySelector(".s-meta").textContent = t("session-meta", { since: when(s.created_at), via, active: when(s.last_seen_at) }) + from + app;
  const button = li.querySelector(".s-revoke");
  button.setAttribute("aria-label", s.current ? t("session-sign-out-here") : t("session-sign-out", { name, since: when(s.created_at) }));
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
      say(t("session-signed-out", { device: deviceName(s.user_agent) }));
      $("sessions-title").focus();
      loadActivity();
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
    }
  }, t("busy-signing-out"));
}

/** The apps that sign the account in through us (its consents), each with "remove access". */
async function loadApps() {
  const { apps } = await authed("GET", "/v1/me/apps");
  $("app-list").replaceChildren(...apps.map(appRow));
  $("apps-empty").hidden = apps.length > 0;
}

const SCOPES = ["openid", "profile", "email", "offline_access"];

function appRow(a) {
  const li = $("tpl-session").content.firstElementChild.cloneNode(true);
  li.dataset.client = a.client_id;
  li.querySelector(".s-name").textContent = a.name;
  const reads = a.scopes.map((s) => (SCOPES.includes(s) ? t(`consent-scope-${s}`) : s)).join(", ");
  li.querySelector(".s-meta").textContent = t("app-meta", { since: when(a.granted_at), reads });
  const button = li.querySelector(".s-revoke");
  button.textContent = t("app-remove");
  button.setAttribute("aria-label", t("app-remove-label", { app: a.name }));
  button.addEventListener("click", () => removeApp(a, button));
  return li;
}

async function removeApp(a, button) {
  const error = $("account-error");
  error.textContent = "";
  say("");
  await busy(button, async () => {
    try {
      await authed("DELETE", `/v1/me/apps/${encodeURIComponent(a.client_id)}`);
      await Promise.all([loadApps(), loadSessions()]);
      say(t("app-removed", { app: a.name }));
      $("apps-title").focus();
      loadActivity();
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
    }
  }, t("busy-saving"));
}

/** "Sign out everywhere" asks first, in the page. */
export function askRevokeAll() {
  $("revoke-all-confirm").hidden = false;
  $("revoke-all-no").focus();
}

export function cancelRevokeAll() {
  $("revoke-all-confirm").hidden = true;
  $("sessions-revoke-all").focus();
}

export async function revokeAll(event) {
  const error = $("account-error");
  error.textContent = "";
  await busy(event.currentTarget, async () => {
    try {
      const { revoked } = await authed("DELETE", "/v1/me/sessions");
      signedOut(t(revoked === 1 ? "signed-out-everywhere-one" : "signed-out-everywhere-other", { n: revoked }));
    } catch (e) {
      if (!sessionEnded(e)) showError(error, e);
    }
  }, t("busy-signing-out"));
}

const ACTIVITY = {
  signed_up: "activity-signed-up",
  signed_in: "activity-signed-in",
  signed_out: "activity-signed-out",
  session_revoked: "activity-session-revoked",
  sessions_revoked: "activity-sessions-revoked",
  profile_updated: "activity-profile-updated",
  email_change_requested: "activity-email-change-requested",
  email_changed: "activity-email-changed",
  code_rejected: "activity-code-rejected",
  passkey_added: "activity-passkey-added",
  passkey_renamed: "activity-passkey-renamed",
  passkey_removed: "activity-passkey-removed",
  passkey_clone_suspected: "activity-passkey-clone-suspected",
  refresh_token_reused: "activity-refresh-token-reused",
  email_change_reverted: "activity-email-change-reverted",
  app_signed_in: "activity-app-signed-in",
  app_consented: "activity-app-consented",
  app_consent_revoked: "activity-app-consent-revoked",
};

async function loadActivity() {
  try {
    const { events } = await authed("GET", "/v1/me/activity?limit=20");
    $("activity-list").replaceChildren(
      ...events.map((ev) => {
        const li = document.createElement("li");
        li.className = "item";
        const what = ACTIVITY[ev.kind] ? t(ACTIVITY[ev.kind]) : ev.kind.replace(/_/g, " ");
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

export async function signOut(button) {
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
    signedOut(t("signed-out"));
  }, t("busy-signing-out"));
}
