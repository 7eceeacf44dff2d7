// Signing in for an app (OpenID Connect): the server sends the browser here with `?oidc=ID`, the id
// of the app's request that it holds while the person signs in. Once someone is signed in, the page
// hands the browser back to `/oauth2/authorize?pending=ID`, which answers the app. The id lives in
// sessionStorage, so it survives the screens of a sign-in (and a reload) but not the tab.

const KEY = "oidc-pending";

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

/** If an app is waiting for this sign-in, goes back to it and says so. */
export function resumeOidc() {
  const id = sessionStorage.getItem(KEY);
  if (!id) return false;
  sessionStorage.removeItem(KEY);
  location.assign(`/oauth2/authorize?pending=${encodeURIComponent(id)}`);
  return true;
}
