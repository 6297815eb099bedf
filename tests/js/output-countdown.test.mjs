import assert from "node:assert/strict";
import { test } from "node:test";

import { countdownAt, formatDuration } from "../../static/sandbox/terminal/countdown.js";
import { OutputPump } from "../../static/sandbox/terminal/output.js";

function fakeTerm() {
  return {
    log: [],
    callbacks: [],
    write(bytes, done) {
      this.log.push(bytes.length);
      this.callbacks.push(done);
    },
    reset() {
      this.log.push("reset");
    },
    parseOne() {
      this.callbacks.shift()();
    },
  };
}

test("output past the high-water mark waits until xterm has parsed what it holds", () => {
  const term = fakeTerm();
  const pump = new OutputPump(term, 10);
  pump.push(new Uint8Array(6));
  pump.push(new Uint8Array(6));
  pump.push(new Uint8Array(6));
  assert.deepEqual(term.log, [6, 6], "the third chunk waits");
  term.parseOne();
  assert.deepEqual(term.log, [6, 6, 6]);
});

test("after ready the screen resets only once what came before is on screen", () => {
  const term = fakeTerm();
  const pump = new OutputPump(term, 100);
  pump.push(new Uint8Array(5));
  pump.restart();
  pump.push(new Uint8Array(3));
  assert.deepEqual(term.log, [5]);
  term.parseOne();
  assert.deepEqual(term.log, [5, "reset", 3]);
});

test("the countdown shows whichever end comes first and turns urgent near it", () => {
  const now = 1_000_000;
  const idle = countdownAt(now, { expiresAt: now + 3_600_000, idleTimeout: 600, lastInputAt: now });
  assert.deepEqual(idle, { reason: "idle", time: "10:00", urgent: false });
  const life = countdownAt(now, { expiresAt: now + 90_000, idleTimeout: 600, lastInputAt: now });
  assert.deepEqual(life, { reason: "lifetime", time: "1:30", urgent: true });
  assert.equal(countdownAt(now, { expiresAt: null, idleTimeout: null, lastInputAt: now }), null);
  assert.equal(formatDuration(3_725), "1:02:05");
  assert.equal(formatDuration(-4), "0:00");
});
