import assert from "node:assert/strict";
import { test } from "node:test";

import {
  chunks,
  closeAction,
  closeMessage,
  commandKeys,
  newTerminalId,
  parseControl,
  pingMessage,
  resizeMessage,
  TERMINAL_ID,
} from "../../static/sandbox/terminal/protocol.js";
import { table } from "./table.mjs";

test("known control messages are parsed", () => {
  const message = parseControl('{"type": "ready", "expires_at": "2026-01-01T00:00:00Z"}');
  assert.equal(message.type, "ready");
  assert.equal(message.expires_at, "2026-01-01T00:00:00Z");
  assert.equal(parseControl('{"type": "queued", "position": 3}').position, 3);
});

test("anything else is not a control message", () => {
  for (const text of ["", "not json", "null", "42", '"ready"', "[1]", '{"type": "shell"}', "{}"]) {
    assert.equal(parseControl(text), null, text);
  }
});

test("close codes mean what the server's table says", () => {
  assert.equal(closeAction(table, 1006), "auto");
  assert.equal(closeAction(table, 1012), "auto");
  assert.equal(closeAction(table, 4009), "takeBack");
  assert.equal(closeAction(table, 4403), "reload");
  assert.equal(closeAction(table, 4000), "fresh");
  assert.equal(closeAction(table, 4500), "retry");
  assert.match(closeMessage(table, 4009), /otra pestaña/);
});

test("a code the table does not know gets the default action and no message", () => {
  assert.equal(closeAction(table, 4999), "reconnect");
  assert.equal(closeMessage(table, 4999), "");
});

test("outgoing control messages are the two shapes the server accepts", () => {
  assert.deepEqual(JSON.parse(resizeMessage(24, 80)), { type: "resize", rows: 24, cols: 80 });
  assert.deepEqual(JSON.parse(pingMessage(12)), { type: "ping", t: 12 });
});

test("a new terminal id is 32 base64url characters the server accepts", () => {
  const id = newTerminalId((bytes) => bytes.fill(0xfb));
  assert.equal(id.length, 32);
  assert.match(id, TERMINAL_ID);
  assert.doesNotMatch(id, /[+/=]/);
});

test("commands become typed lines, each ending with Enter", () => {
  assert.equal(commandKeys("ls"), "ls\r");
  assert.equal(commandKeys("a\r\nb\n\n"), "a\rb\r");
});

test("input is split into frames no bigger than the limit", () => {
  const parts = chunks(new Uint8Array(40), 16);
  assert.deepEqual(
    parts.map((part) => part.length),
    [16, 16, 8],
  );
});
