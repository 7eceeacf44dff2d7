// Delivered mail, shared by the browser flows: the codes and links come from the .eml files the
// server delivered into AUTH_OUTBOX, never from a back door.

import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";

const OUTBOX = process.env.AUTH_OUTBOX;
if (!OUTBOX) throw new Error("AUTH_OUTBOX is not set: run this through `cargo test -p e2e --test browser`");

/** Header fields of a raw message, unfolded, by lower-case name. */
function headers(raw) {
  const head = raw.split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, " ");
  const fields = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) fields[line.slice(0, i).trim().toLowerCase()] ??= line.slice(i + 1).trim();
  }
  return fields;
}

/** RFC 2047 encoded words (`=?utf-8?q?...?=`), as a mailer may write a subject. */
function decodeWords(s) {
  return s.replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=\s*/g, (_, charset, enc, text) => {
    const bytes =
      enc.toUpperCase() === "B"
        ? Buffer.from(text, "base64")
        : Buffer.from(text.replace(/_/g, " ").replace(/=([0-9A-Fa-f]{2})/g, (__, h) => String.fromCharCode(parseInt(h, 16))), "latin1");
    return new TextDecoder(charset).decode(bytes);
  });
}

const CODE = /\b([A-Z0-9]{4}-[A-Z0-9]{4})\b/;
const readMail = new Set();

/** Waits for the next unread mail to `to` and returns its subject and code. */
export async function nextMail(to, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = (await readdir(OUTBOX).catch(() => [])).filter((n) => n.endsWith(".eml") && !readMail.has(n)).sort();
    const found = [];
    for (const name of names) {
      const file = path.join(OUTBOX, name);
      const raw = await readFile(file, "utf8");
      const h = headers(raw);
      if (!(h.to ?? "").toLowerCase().includes(to.toLowerCase())) continue;
      const subject = decodeWords(h.subject ?? "");
      const body = raw.slice(raw.search(/\r?\n\r?\n/));
      const code = (subject.match(CODE) ?? body.match(CODE))?.[1] ?? null;
      found.push({ name, subject, code, mtime: (await stat(file)).mtimeMs });
    }
    if (found.length > 0) {
      found.sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name));
      readMail.add(found[0].name);
      return found[0];
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} within ${timeoutMs} ms in ${OUTBOX}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The token of the undo link in the next mail to `to` whose subject matches `subject`. The body
 * may be quoted-printable (soft line breaks, `=` written `=3D`) or base64. */
export async function nextRevertToken(to, subject) {
  for (;;) {
    const mail = await nextMail(to);
    if (!subject.test(mail.subject)) continue;
    const raw = await readFile(path.join(OUTBOX, mail.name), "utf8");
    const unfolded = raw.replace(/=\r?\n/g, "");
    const texts = [unfolded, ...(raw.match(/^[A-Za-z0-9+/=\r\n]{200,}$/gm) ?? []).map((b) => Buffer.from(b, "base64").toString("utf8"))];
    for (const text of texts) {
      const found = /#revert=(?:3D)?([A-Za-z0-9_-]{43})/.exec(text);
      if (found) return found[1];
    }
    throw new Error(`no undo link in ${mail.name}`);
  }
}

/** The next mail to `to` that carries a code; notices in between (a passkey was added...) are
 * passed over, since their own steps check them. */
export async function nextCode(to) {
  for (;;) {
    const mail = await nextMail(to);
    if (mail.code) return mail;
  }
}
