// Signing in for an app (OpenID Connect): the server sends the browser here with `?oidc=ID`, the id
// of the app's request that it holds while the person signs in (and, for an app that is not our
// own, consents: `#consent`). Once someone is signed in, the page hands the browser back to
// `/oauth2/authorize?pending=ID`, which answers the app. The id lives in sessionStorage, so it
// survives the screens of a sign-in (and a reload) but not the tab. The consent screen's sentences
// are the catalog's `consent-*` messages.
//
// An app that does not speak OpenID Connect sends the browser to `/?return_to=URL` instead; after
// the sign-in the page goes to `/ui/return?to=URL`, where the server follows the URL only when its
// origin is in `server.allowed_return_origins` (and goes to our own page otherwise).

import { $, show } from "./ui.js";
import { call } from "./api.js";
import { t } from "./i18n.js";


const KEY = "oidc-pending";
const RETURN_KEY = "return-to";

/** Keeps the request id the address carries, and takes it out of the address bar. */
export function rememberOidc() {
  const params = new URLSearchParams(location.search);
  const id = params.get("oidc");
  if (!id) return;
  sessionStorage.setItem(KEY, id);
  params.delete("oidc");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
}

/** Keeps a `return_to` the address carries, and takes it out of the address bar. */
export function rememberReturn() {
  const params = new URLSearchParams(location.search);
  const to = params.get("return_to");
  if (to === null) return;
  if (to) sessionStorage.setItem(RETURN_KEY, to);
  params.delete("return_to");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
}

/** If a `return_to` is waiting for this sign-in, lets the server send the browser there. */
export function resumeReturn() {
  const to = sessionStorage.getItem(RETURN_KEY);
  if (!to) return false;
  sessionStorage.removeItem(RETURN_KEY);
  location.assign(`/ui/return?to=${encodeURIComponent(to)}`);
  return true;
}

/** If an app is waiting for this sign-in, goes back to it and says so. */
export function resumeOidc() {
  const id = sessionStorage.getItem(KEY);
  if (!id) return false;
  sessionStorage.removeItem(KEY);
  location.assign(`/oauth2/authorize?pending=${encodeURIComponent(id)}`);
  return true;
}

/** The consent screen for the held request: the app's name and what it may read. */
export async function openConsent() {
  const id = sessionStorage.getItem(KEY);
  $("consent-title").textContent = t("consent-title");
  $("consent-allow").textContent = t("consent-allow");
  $("consent-deny").textContent = t("consent-deny");
  const list = $("consent-scopes");
  list.replaceChildren();
  let request = null;
  if (id) request = await call("GET", `/oauth2/consent?pending=${encodeURIComponent(id)}`).catch(() => null);
  $("consent-intro").textContent = request ? t("consent-intro", { app: request.client_name }) : t("consent-expired");
  for (const scope of request?.scopes ?? []) {
    const li = document.createElement("li");
    const known = ["openid", "profile", "email", "offline_access"].includes(scope);
    li.textContent = known ? t(`consent-scope-${scope}`) : scope;
    list.append(li);
  }
  $("consent-allow").hidden = !request;
  $("consent-deny").hidden = !request;
  show("consent");
}

async function decide(allow) {
  const id = sessionStorage.getItem(KEY);
  if (!id) return openConsent();
  sessionStorage.removeItem(KEY);
  try {
    const answer = await call("POST", "/oauth2/consent", { pending: id, allow });
    location.assign(answer.redirect);
  } catch {
    $("consent-error").textContent = t("consent-expired");
  }
}

export function bindConsent() {
  $("consent-allow").addEventListener("click", () => decide(true));
  $("consent-deny").addEventListener("click", () => decide(false));
}
