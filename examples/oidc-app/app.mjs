// A tiny web app (a "relying party") that signs its users in through the auth server with OpenID
// Connect: discovery, the authorization code flow with PKCE, state and nonce, the ID token checked
// by `openid-client`, userinfo, and RP-initiated logout. Node's `http` only, no framework.
//
// Settings, from the environment:
//   OIDC_ISSUER         the auth server's public URL, e.g. https://auth.example.com
//   OIDC_CLIENT_ID      the app's `id` in the server's `[[oidc.clients]]`
//   OIDC_CLIENT_SECRET  the content of its `secret_file` (leave unset for a public client)
//   APP_URL             where this app is reached, e.g. http://localhost:3000 (it listens on its port)
//
// The server must list `${APP_URL}/callback` in the client's `redirect_uris` and `${APP_URL}/` in
// its `post_logout_redirect_uris`.

import http from "node:http";
import { randomBytes } from "node:crypto";
import * as oidc from "openid-client";

const need = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (see README.md)`);
    process.exit(2);
  }
  return value;
};
const ISSUER = new URL(need("OIDC_ISSUER"));
const CLIENT_ID = need("OIDC_CLIENT_ID");
const CLIENT_SECRET = process.env.OIDC_CLIENT_SECRET || undefined;
const APP_URL = new URL(need("APP_URL"));
const REDIRECT_URI = new URL("/callback", APP_URL).href;
const HOME = new URL("/", APP_URL).href;
const SCOPE = "openid profile email";

// Plain HTTP is only for trying things out on localhost; openid-client refuses it otherwise.
const local = ["localhost", "127.0.0.1", "[::1]"].includes(ISSUER.hostname);
const options = ISSUER.protocol === "http:" && local ? { execute: [oidc.allowInsecureRequests] } : undefined;
const config = await oidc.discovery(
  ISSUER,
  CLIENT_ID,
  CLIENT_SECRET,
  CLIENT_SECRET ? oidc.ClientSecretBasic(CLIENT_SECRET) : oidc.None(),
  options,
);

/** Sessions of this app, in memory: id -> { login?: {verifier, state, nonce}, user?, idToken? }. */
const sessions = new Map();
const COOKIE = "app_session";

function session(req, res) {
  const id = /(?:^|;\s*)app_session=([A-Za-z0-9_-]{43})/.exec(req.headers.cookie ?? "")?.[1];
  if (id && sessions.has(id)) return sessions.get(id);
  const fresh = randomBytes(32).toString("base64url");
  const value = {};
  sessions.set(fresh, value);
  // Lax: the browser comes back to /callback from the auth server in a top-level navigation.
  res.setHeader("set-cookie", `${COOKIE}=${fresh}; HttpOnly; SameSite=Lax; Path=/`);
  return value;
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": "default-src 'none'",
    "cache-control": "no-store",
  });
  res.end(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${escape(title)}</title>
<body><h1>${escape(title)}</h1>${body}</body></html>`);
}

function redirect(res, location) {
  res.writeHead(303, { location: String(location), "cache-control": "no-store" });
  res.end();
}

async function handle(req, res) {
  const url = new URL(req.url, APP_URL);
  const s = session(req, res);
  switch (url.pathname) {
    case "/": {
      if (!s.user) return page(res, 200, "Example app", `<p id="status">Not signed in.</p><p><a id="signin" href="/login">Sign in</a></p>`);
      const who = s.user.name ? `${s.user.name} (${s.user.email})` : s.user.email ?? s.user.sub;
      return page(res, 200, "Example app",
        `<p id="status">Signed in as ${escape(who)}</p><p id="amr">Signed in with: ${escape((s.amr ?? []).join(" "))}</p>` +
        `<p><a id="signout" href="/logout">Sign out</a></p>`);
    }
    case "/login": {
      // PKCE, state and nonce: fresh for every sign-in, kept in this app's session.
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      s.login = { verifier, state, nonce };
      return redirect(res, oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: SCOPE,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        nonce,
      }));
    }
    case "/callback": {
      const login = s.login;
      delete s.login;
      if (!login) return page(res, 400, "No sign-in in progress", `<p><a href="/">Back</a></p>`);
      // Checks the answer's state and issuer, exchanges the code with the verifier, and validates
      // the ID token (signature, iss, aud, exp, iat, nonce).
      const tokens = await oidc.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      s.user = info;
      s.amr = claims.amr;
      s.idToken = tokens.id_token;
      return redirect(res, HOME);
    }
    case "/logout": {
      const idToken = s.idToken;
      delete s.user;
      delete s.idToken;
      if (!idToken || !config.serverMetadata().end_session_endpoint) return redirect(res, HOME);
      // RP-initiated logout: the auth server asks the user and ends its own session too.
      return redirect(res, oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: HOME }));
    }
    default:
      return page(res, 404, "Not found", "");
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    // An error of the sign-in (a denied consent, a failed check) is shown, never its tokens.
    const what = e?.error ? `${e.error}${e.error_description ? `: ${e.error_description}` : ""}` : e?.message ?? "error";
    console.error(`sign-in failed: ${e?.code ?? ""} ${what}`);
    if (!res.headersSent) page(res, 400, "Sign-in failed", `<p id="error">${escape(what)}</p><p><a href="/">Back</a></p>`);
  });
});
server.listen(Number(APP_URL.port || 80), APP_URL.hostname === "localhost" ? "127.0.0.1" : undefined, () => {
  console.log(`example app listening on ${APP_URL.origin}`);
});
