// An app signs its users in through us, in a real headless Chromium: the example app of
// `examples/oidc-app` (openid-client, which validates strictly) sends the browser to our page, the
// user signs in with a passkey (virtual authenticator) and consents, and lands back on the app
// signed in; then the same with an email code read from the delivered mail, where the remembered
// consent is not asked again; then the app's sign-out ends our session too. Last, `return_to`:
// the page sends the browser back to the app's origin after a sign-in, and nowhere else.
//
// Run by `tests/tests/browser.rs`, which starts the server and the example app and passes:
//   AUTH_BASE_URL   the server's public origin, http://localhost:PORT
//   AUTH_APP_URL    the example app, http://localhost:OTHER_PORT
//   AUTH_OUTBOX     the directory the server delivers mail into, as .eml files
//   AUTH_ARTIFACTS  where screenshots go
//   AUTH_CHROMIUM   the Chromium executable

import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { nextCode, nextMail } from "./mail.mjs";

const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through \`cargo test -p e2e --test browser\``);
  return value;
};
const BASE = env("AUTH_BASE_URL");
const APP = env("AUTH_APP_URL");
const ARTIFACTS = env("AUTH_ARTIFACTS");
const CHROMIUM = env("AUTH_CHROMIUM");

const EMAIL = `app-user-${Date.now()}@example.test`;
const NAME = "Ada App";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser;
/** The browser the user signs up in and keeps: its context, page, debugging session, authenticator. */
let b;
const problems = [];
let step = "start";

/** 4xx answers of our API that the page handles by design (401 before a sign-in...). */
function expectedApiAnswer(text, url) {
  const status = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text)?.[1];
  return ["400", "401", "403", "409", "422", "429"].includes(status) && new URL(url ?? "", BASE).pathname.startsWith("/v1/");
}

/** A fresh browser context with a virtual authenticator of its own, watched for problems. */
async function openBrowser() {
  const context = await browser.newContext({ viewport: DESKTOP, reducedMotion: "reduce" });
  // Observe which WebAuthn requests the page makes (autofill or the button's), and CSP violations.
  await context.addInitScript(() => {
    const calls = [];
    Object.defineProperty(window, "__webauthn", { value: calls });
    const original = navigator.credentials.get.bind(navigator.credentials);
    navigator.credentials.get = (options) => {
      const entry = { mediation: options?.mediation ?? "optional", state: "pending" };
      calls.push(entry);
      const p = original(options);
      p.then(() => { entry.state = "resolved"; }, (e) => { entry.state = e.name; });
      return p;
    };
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("console", (m) => {
    if (m.type() !== "error" && m.type() !== "warning") return;
    if (expectedApiAnswer(m.text(), m.location().url)) return;
    problems.push(`${step}: console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`${step}: uncaught ${e.name}: ${e.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: false,
    },
  });
  const presence = (enabled) => cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled });
  return { context, page, cdp, authenticatorId, presence };
}

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  b = await openBrowser();
});

after(async () => {
  await browser?.close();
});

afterEach(async (t) => {
  if (!t || !b?.page || t.passed !== false) return;
  await b.page.screenshot({ path: path.join(ARTIFACTS, `failed-app-${step.replace(/\W+/g, "-")}.png`), fullPage: true }).catch(() => {});
});

/** The visible screen of our page at both sizes in both themes: screenshots and axe-core. */
async function shot(page, name) {
  for (const colorScheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme });
    if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
    const { violations } = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }),
    );
    assert.deepEqual(violations.map((v) => `${name} (${colorScheme}): ${v.id}: ${v.help}`), [], "axe-core found WCAG violations");
    for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      await page.setViewportSize(viewport);
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${size}-${colorScheme}.png`), fullPage: true });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(DESKTOP);
}

/** Waits until our sign-in screen has its autofill request pending, so that the authenticator may
 * answer the button's request (answering earlier would let autofill sign in first). */
async function autofillPending(page) {
  await page.waitForFunction(() => window.__webauthn.some((c) => c.mediation === "conditional" && c.state === "pending"));
}

test("signs up on our page and adds a passkey", async () => {
  step = "sign-up";
  const { page, presence } = b;
  await page.goto(`${BASE}/#signup`);
  await page.locator("#view-signup").waitFor({ state: "visible" });
  await page.getByLabel("Your name").fill(NAME);
  await page.locator("#signup-email").fill(EMAIL);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator("#view-code").waitFor({ state: "visible" });
  await page.locator("#code-input").fill((await nextCode(EMAIL)).code);
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator("#view-welcome").waitFor({ state: "visible" });
  await presence(true);
  await page.getByRole("button", { name: "Create a passkey now" }).click();
  await page.locator("#view-account").waitFor({ state: "visible" });
  await page.locator("#passkey-list li").first().waitFor();
  assert.match((await nextMail(EMAIL)).subject, /A passkey was added/);
  // Signed out again, the authenticator holding back like a user who has not touched it yet.
  await presence(false);
  await page.locator("#signout").click();
  await page.locator("#view-signin").waitFor({ state: "visible" });
});

test("the app signs the user in with a passkey after the consent screen", async () => {
  step = "app passkey";
  const { page, presence } = b;
  await page.goto(`${APP}/`);
  assert.equal(await page.locator("#status").textContent(), "Not signed in.");
  await page.locator("#signin").click();
  // The app sent the browser to us: our page, its sign-in screen.
  await page.waitForURL((u) => u.origin === BASE);
  await page.locator("#view-signin").waitFor({ state: "visible" });
  await autofillPending(page);
  await presence(true);
  await page.locator("#signin-passkey").click();

  step = "app consent";
  await page.locator("#view-consent").waitFor({ state: "visible" });
  assert.equal(await page.locator("#consent-intro").textContent(), "Example App wants to sign you in and read:");
  assert.deepEqual(await page.locator("#consent-scopes li").allTextContents(),
    ["your account id", "your display name", "your email address"]);
  await shot(page, "oidc-consent");
  // The same screen in German: the held request stays in the tab while the language changes.
  await page.goto(`${BASE}/?lang=de#consent`);
  await page.locator("#view-consent").waitFor({ state: "visible" });
  await page.waitForFunction(() => document.documentElement.lang === "de");
  assert.equal(await page.locator("#consent-intro").textContent(), "Example App möchte Sie anmelden und Folgendes lesen:");
  await shot(page, "de-oidc-consent");
  await page.goto(`${BASE}/?lang=en#consent`);
  await page.locator("#view-consent").waitFor({ state: "visible" });
  await page.waitForFunction(() => document.documentElement.lang === "en");
  await page.getByRole("button", { name: "Allow", exact: true }).click();

  step = "app signed in (passkey)";
  await page.waitForURL(`${APP}/`);
  assert.equal(await page.locator("#status").textContent(), `Signed in as ${NAME} (${EMAIL})`);
  assert.equal(await page.locator("#amr").textContent(), "Signed in with: hwk user");
});

test("the app signs the user in with an email code, and the consent is remembered", async () => {
  step = "app email code";
  // Another browser: no session of ours, no passkey.
  const other = await openBrowser();
  const page = other.page;
  try {
    await page.goto(`${APP}/`);
    await page.locator("#signin").click();
    await page.waitForURL((u) => u.origin === BASE);
    await page.locator("#view-signin").waitFor({ state: "visible" });
    await page.locator("#signin-email").fill(EMAIL);
    await page.getByRole("button", { name: "Email me a code" }).click();
    await page.locator("#view-code").waitFor({ state: "visible" });
    await page.locator("#code-input").fill((await nextCode(EMAIL)).code);
    await page.getByRole("button", { name: "Verify" }).click();
    // No consent screen this time: the decision is remembered for the account and the app.
    await page.waitForURL(`${APP}/`);
    assert.equal(await page.locator("#status").textContent(), `Signed in as ${NAME} (${EMAIL})`);
    assert.equal(await page.locator("#amr").textContent(), "Signed in with: otp");
  } finally {
    await other.context.close();
  }
});

test("the account page lists the app and takes its access back", async () => {
  step = "remove app";
  const { page } = b;
  await page.goto(`${BASE}/#account`);
  await page.locator("#view-account").waitFor({ state: "visible" });
  const row = page.locator("#app-list li", { hasText: "Example App" });
  await row.waitFor();
  assert.match(await row.locator(".s-meta").textContent(), /reads your account id, your display name, your email address/);
  await page.locator("#activity-list li", { hasText: "Signed in to an app (Example App, passkey)" }).first().waitFor();
  // The app's sessions are listed with our own, named after the app.
  const appSessions = page.locator("#session-list li .s-meta", { hasText: "· for Example App" });
  await appSessions.first().waitFor();
  const before = await appSessions.count();
  assert.ok(before >= 1, "the app's session is listed");
  await page.locator("#activity-list li", { hasText: "Allowed an app to sign you in (Example App)" }).first().waitFor();
  await page.getByRole("button", { name: "Remove the access of Example App" }).click();
  await page.locator("#status", { hasText: "Example App can no longer sign you in" }).waitFor();
  assert.equal(await page.locator("#app-list li").count(), 0);
  assert.ok(await page.locator("#apps-empty").isVisible());
  await page.locator("#activity-list li", { hasText: "Removed an app's access (Example App)" }).first().waitFor();
  assert.equal(await appSessions.count(), 0, "removing the access ended the app's sessions");
  // The app's own page still remembers its user: its refresh would fail now. Back to the app.
  await page.goto(`${APP}/`);
});

test("the app's sign-out ends our session too and returns to the app", async () => {
  step = "app sign-out";
  const { page } = b;
  await page.locator("#signout").click();
  await page.waitForURL((u) => u.origin === BASE && u.pathname === "/oauth2/logout");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${APP}/`);
  assert.equal(await page.locator("#status").textContent(), "Not signed in.");
  // Our own page no longer knows the browser either (the authenticator holds back, or the
  // sign-in screen's autofill would sign in again at once).
  await b.presence(false);
  await page.goto(`${BASE}/#account`);
  await page.locator("#view-signin").waitFor({ state: "visible" });
});

test("return_to: after a sign-in the page goes back to an allowed origin, and ignores any other", async () => {
  step = "return_to";
  const { page, presence } = b;
  await page.goto(`${BASE}/?return_to=${encodeURIComponent(`${APP}/?from=auth`)}`);
  await page.locator("#view-signin").waitFor({ state: "visible" });
  assert.ok(!page.url().includes("return_to"), "the return address leaves the address bar");
  await autofillPending(page);
  await presence(true);
  await page.locator("#signin-passkey").click();
  await page.waitForURL(`${APP}/?from=auth`);
  // Signed in already, an address of another origin is ignored: the page shows the account.
  await page.goto(`${BASE}/?return_to=${encodeURIComponent("https://evil.example/")}`);
  await page.waitForURL((u) => u.origin === BASE && u.pathname === "/");
  await page.locator("#view-account").waitFor({ state: "visible" });
});

test("reported no console errors, uncaught exceptions or CSP violations", () => {
  assert.deepEqual(problems, []);
});
