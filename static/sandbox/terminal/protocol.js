/*
 * The terminal websocket's messages (docs/terminal-protocol.md), as pure functions.
 * Close codes and their meaning come from the server's table (sandbox/terminal_protocol.py),
 * rendered into the page as JSON: no number is written here.
 */

export const TERMINAL_ID = /^[A-Za-z0-9_-]{22,64}$/;

/** The close-code table from the page's `<script type="application/json" id="terminal-protocol">`. */
export function readTable(doc) {
  const el = doc.getElementById("terminal-protocol");
  try {
    const table = JSON.parse(el ? el.textContent : "");
    if (table && typeof table.codes === "object") return table;
  } catch (e) {
    /* a page without the table still works: every close offers the default */
  }
  return { codes: {}, defaultAction: "reconnect" };
}

/** What the page does after a close: "auto" (reconnect by itself) or the button it offers. */
export function closeAction(table, code) {
  const entry = table.codes[String(code)];
  return entry ? entry.action : table.defaultAction;
}

/** The number the table gives a close code's name (e.g. "tab_closed"), or null. */
export function codeNamed(table, name) {
  for (const [code, entry] of Object.entries(table.codes)) {
    if (entry && entry.name === name) return Number(code);
  }
  return null;
}

/** The Spanish explanation of a close, or "" for a code the table does not know. */
export function closeMessage(table, code) {
  const entry = table.codes[String(code)];
  return entry ? entry.message : "";
}

const CONTROL_TYPES = new Set(["queued", "ready", "expiry", "notice", "exit", "pong"]);

/** A control message from the server, or null when it is not JSON or not a known type. */
export function parseControl(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch (e) {
    return null;
  }
  if (!message || typeof message !== "object" || Array.isArray(message)) return null;
  return CONTROL_TYPES.has(message.type) ? message : null;
}

export function resizeMessage(rows, cols) {
  return JSON.stringify({ type: "resize", rows: rows, cols: cols });
}

export function pingMessage(stamp) {
  return JSON.stringify({ type: "ping", t: stamp });
}

/** 24 random bytes as base64url (32 characters). */
export function newTerminalId(getRandomValues) {
  const bytes = getRandomValues(new Uint8Array(24));
  let binary = "";
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** One or more command lines as typed keys: each line ends with Enter (\r). */
export function commandKeys(command) {
  const lines = String(command).replace(/\r\n?/g, "\n").replace(/\n+$/, "");
  return lines.split("\n").join("\r") + "\r";
}

/** Split bytes into frames of at most `size` bytes (the server caps a frame). */
export function chunks(bytes, size) {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}
