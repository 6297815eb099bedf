import assert from "node:assert/strict";
import { test } from "node:test";

import { Connection } from "../../static/sandbox/terminal/connection.js";
import { codeNamed } from "../../static/sandbox/terminal/protocol.js";
import { TabList } from "../../static/sandbox/terminal/tabs.js";
import { FakeSocket, FakeTimers, fakeView } from "./fakes.mjs";
import { table } from "./table.mjs";

/** A TabList over an in-memory sessionStorage; ids are predictable. */
function tabList({ max = 4, saved = null, legacy = null } = {}) {
  const store = { tabs: saved, legacy };
  let n = 0;
  const list = new TabList({
    max,
    load: () => store.tabs,
    save: (text) => (store.tabs = text),
    loadLegacy: () => store.legacy,
    saveLegacy: (id) => (store.legacy = id),
    makeId: () => "terminal-id-" + String(++n).padStart(12, "0"),
  });
  return { list, store };
}

test("a first visit gets one tab, numbered 1, saved for the next reload", () => {
  const { list, store } = tabList();
  assert.equal(list.tabs.length, 1);
  assert.equal(list.tabs[0].number, 1);
  assert.equal(list.active, list.tabs[0].id);
  assert.deepEqual(JSON.parse(store.tabs).tabs, list.tabs);
  assert.equal(store.legacy, list.tabs[0].id);
});

test("the one terminal id of a page from before tabs becomes the first tab", () => {
  const legacy = "L".repeat(32);
  const { list } = tabList({ legacy });
  assert.deepEqual(list.tabs, [{ id: legacy, number: 1 }]);
});

test("a reload restores every tab, in order, with the same one active", () => {
  const first = tabList();
  first.list.add();
  const third = first.list.add();
  first.list.select(third.id);

  const again = tabList({ saved: first.store.tabs }).list;

  assert.deepEqual(again.tabs, first.list.tabs);
  assert.equal(again.active, third.id);
});

test("adding stops at the cap", () => {
  const { list } = tabList({ max: 2 });
  assert.ok(list.add());
  assert.equal(list.canAdd(), false);
  assert.equal(list.add(), null);
  assert.equal(list.tabs.length, 2);
});

test("a saved list longer than the cap, with bad or repeated ids, is cut down", () => {
  const good = (c) => c.repeat(32);
  const saved = JSON.stringify({
    tabs: [
      { id: good("a"), number: 1 },
      { id: "<script>", number: 2 },
      { id: good("a"), number: 3 },
      { id: good("b"), number: 1 },
      { id: good("c"), number: 7 },
      { id: good("d"), number: 4 },
    ],
    active: good("d"),
  });
  const { list } = tabList({ max: 3, saved });
  assert.deepEqual(
    list.tabs.map((tab) => tab.id),
    [good("a"), good("b"), good("c")],
  );
  assert.deepEqual(
    list.tabs.map((tab) => tab.number),
    [1, 2, 7],
  );
  assert.equal(list.active, good("a")); // the saved active one was cut
});

test("closing a tab shows its right-hand neighbour and frees its number", () => {
  const { list } = tabList();
  const second = list.add();
  const third = list.add();
  list.select(second.id);

  assert.equal(list.remove(second.id), third.id);
  assert.equal(list.add().number, 2);
});

test("the last tab is never removed", () => {
  const { list } = tabList();
  assert.equal(list.remove(list.tabs[0].id), null);
  assert.equal(list.tabs.length, 1);
});

test("renewing a tab's id keeps its place, number and selection", () => {
  const { list, store } = tabList();
  const tab = list.tabs[0];
  const old = tab.id;
  list.renew(tab);
  assert.notEqual(tab.id, old);
  assert.equal(list.active, tab.id);
  assert.equal(store.legacy, tab.id);
});

test("closing a tab closes its socket with the table's tab_closed code and never reconnects", async () => {
  const timers = new FakeTimers();
  const conn = new Connection({
    table,
    createSocket: (url) => new FakeSocket(url),
    socketUrl: (id) => "ws://test/ws/terminal/?t=" + id,
    ids: { current: () => "terminal-id-0000000000000", renew() {} },
    requestSession: () => Promise.resolve(null),
    t: (key) => key,
    view: fakeView(),
    hooks: { open() {}, size: () => ({ rows: 24, cols: 80 }), ready() {}, control() {}, output() {}, closed() {} },
    timers,
    now: () => timers.now,
    random: () => 0.5,
  });
  await conn.ensureSessionThenConnect();
  const socket = FakeSocket.instances[FakeSocket.instances.length - 1];
  socket.open();
  const code = codeNamed(table, "tab_closed");
  assert.equal(typeof code, "number");

  conn.dispose(code);
  socket.serverClose(code);
  timers.advance(120000);

  assert.equal(socket.closeCode, code);
  assert.equal(FakeSocket.instances[FakeSocket.instances.length - 1], socket); // no new socket
  assert.equal(conn.state, "ended");
});
