import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { BACKOFF_FIRST, BACKOFF_MAX, backoffDelay } from "../../static/sandbox/terminal/backoff.js";
import { Connection, PING_EVERY, PONG_DEADLINE } from "../../static/sandbox/terminal/connection.js";
import { FakeSocket, FakeTimers, fakeView } from "./fakes.mjs";
import { table } from "./table.mjs";

let timers;
let view;
let ids;

function connection() {
  let n = 0;
  ids = {
    id: "terminal-id-0000000000000",
    current() {
      return this.id;
    },
    renew() {
      n += 1;
      this.id = "terminal-id-renewed-" + n + "0000000";
    },
  };
  return new Connection({
    table,
    createSocket: (url) => new FakeSocket(url),
    socketUrl: (id) => "ws://test/ws/terminal/?t=" + id,
    ids,
    requestSession: () => Promise.resolve(null),
    t: (key, values) => key + (values ? JSON.stringify(values) : ""),
    view,
    hooks: {
      open() {},
      size: () => ({ rows: 24, cols: 80 }),
      ready() {},
      control() {},
      output() {},
      closed() {},
    },
    timers,
    now: () => timers.now,
    random: () => 0.5, // no jitter: the middle of ±20 %
  });
}

/** A connection past the session request, with its socket open and `ready`. */
async function readyConnection() {
  const conn = connection();
  await conn.ensureSessionThenConnect();
  const socket = lastSocket();
  socket.open();
  socket.receive('{"type": "ready", "expires_at": null}');
  return conn;
}

function lastSocket() {
  return FakeSocket.instances[FakeSocket.instances.length - 1];
}

beforeEach(() => {
  FakeSocket.instances = [];
  timers = new FakeTimers();
  view = fakeView();
});

test("the backoff doubles from 1 s and stops growing at 30 s", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffDelay(attempt, () => 0.5));
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(backoffDelay(1, () => 0), BACKOFF_FIRST * 0.8);
  assert.equal(backoffDelay(9, () => 0.999999) <= BACKOFF_MAX * 1.2, true);
});

test("a lost connection reconnects by itself with growing waits, then resets on ready", async () => {
  const conn = await readyConnection();
  const waits = [];
  for (let i = 0; i < 4; i++) {
    lastSocket().serverClose(1006);
    assert.equal(conn.state, "reconnecting");
    waits.push(timers.delays()[0]);
    timers.advance(timers.delays()[0]);
  }
  assert.deepEqual(waits, [1000, 2000, 4000, 8000]);
  assert.equal(FakeSocket.instances.length, 5);
  assert.deepEqual(view.notices.at(-1), ['lostConnection{"attempt":4}', "warning"]);

  lastSocket().open();
  lastSocket().receive('{"type": "ready"}');
  assert.equal(conn.state, "ready");
  assert.equal(conn.attempts, 0);
  lastSocket().serverClose(1012);
  assert.deepEqual(timers.delays(), [1000], "the count starts again after a ready");
});

test("reconnecting keeps the terminal id, so the shell is found again within the grace period", async () => {
  await readyConnection();
  const first = lastSocket().url;
  lastSocket().serverClose(1001);
  timers.advance(timers.delays()[0]);
  assert.equal(lastSocket().url, first);
  assert.notEqual(lastSocket(), FakeSocket.instances[0]);
});

test("4009 (taken over in another tab) ends without reconnecting and offers to take it back", async () => {
  const conn = await readyConnection();
  lastSocket().receive('{"type": "notice", "level": "error", "message": "Abierta en otra pestaña"}');
  lastSocket().serverClose(4009);
  assert.equal(conn.state, "ended");
  assert.deepEqual(timers.delays(), [], "no reconnect is scheduled");
  timers.advance(BACKOFF_MAX * 10);
  assert.equal(FakeSocket.instances.length, 1);
  assert.equal(view.offers.at(-1), "takeBack");
  assert.deepEqual(view.notices.at(-1), ["Abierta en otra pestaña", "error"], "the server's notice stays");
});

test("a final close code gives up: ended, no timer, the table's button and message", async () => {
  for (const [code, action] of [
    [1000, "reconnect"],
    [4000, "fresh"],
    [4003, "retry"],
    [4403, "reload"],
  ]) {
    FakeSocket.instances = [];
    timers = new FakeTimers();
    view = fakeView();
    const conn = await readyConnection();
    lastSocket().serverClose(code);
    assert.equal(conn.state, "ended", String(code));
    assert.deepEqual(timers.delays(), [], String(code));
    assert.equal(view.offers.at(-1), action, String(code));
    assert.equal(view.notices.at(-1)[0], table.codes[String(code)].message, String(code));
  }
});

test("an unknown close code shows the code and offers to reconnect", async () => {
  const conn = await readyConnection();
  lastSocket().serverClose(4777);
  assert.equal(conn.state, "ended");
  assert.deepEqual(view.notices.at(-1), ['closedWithCode{"code":4777}', "error"]);
  assert.equal(view.offers.at(-1), "reconnect");
});

test("a policy close (1008) makes the page forget its terminal id", async () => {
  const conn = await readyConnection();
  const before = ids.current();
  lastSocket().serverClose(1008);
  assert.notEqual(ids.current(), before);
  conn.ensureConnected();
  assert.match(lastSocket().url, /renewed/);
});

test("no reconnect while the page is being left", async () => {
  const conn = await readyConnection();
  conn.pageHidden();
  lastSocket().serverClose(1001);
  assert.deepEqual(timers.delays(), []);
});

test("keystrokes typed before ready wait and go out after it, in order", async () => {
  const conn = connection();
  await conn.ensureSessionThenConnect();
  lastSocket().open();
  conn.sendBytes(new Uint8Array([1]));
  conn.sendBytes(new Uint8Array([2, 3]));
  assert.equal(lastSocket().sent.length, 0);
  lastSocket().receive('{"type": "ready"}');
  const binary = lastSocket().sent.filter((frame) => typeof frame !== "string");
  assert.deepEqual(binary.map((frame) => [...frame]), [[1], [2, 3]]);
});

test("a silent connection is pinged, and an unanswered ping reconnects", async () => {
  const conn = await readyConnection();
  const socket = lastSocket();
  timers.now += PING_EVERY;
  conn.keepAlive();
  assert.equal(JSON.parse(socket.sent.at(-1)).type, "ping");
  timers.now += PONG_DEADLINE + 1;
  conn.keepAlive();
  assert.equal(socket.closed, true);
  assert.equal(conn.state, "reconnecting");
  assert.deepEqual(timers.delays(), [1000]);
});

test("a refused session (429) ends with the server's text and a retry", async () => {
  const conn = connection();
  conn.requestSession = () => Promise.resolve("Demasiadas sesiones nuevas");
  await conn.ensureSessionThenConnect();
  assert.equal(conn.state, "ended");
  assert.equal(FakeSocket.instances.length, 0);
  assert.deepEqual(view.notices.at(-1), ["Demasiadas sesiones nuevas", "error"]);
  assert.equal(view.offers.at(-1), "retry");
});
