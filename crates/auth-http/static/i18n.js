// The page's messages, in the language the server chose for the document (`<html lang>`): read
// once from `/ui/messages.json` before the page starts. No string the page shows lives in a script.

let messages = {};

/** Loads the messages of the document's language. */
export async function loadMessages() {
  const lang = encodeURIComponent(document.documentElement.lang || "en");
  try {
    const res = await fetch(`/ui/messages.json?lang=${lang}`, { credentials: "same-origin" });
    if (res.ok) messages = await res.json();
  } catch {
    // Without messages the page shows message ids, which still name what happened.
  }
}

/** Message `key`, its `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const pattern = messages[key] ?? key;
  return pattern.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
