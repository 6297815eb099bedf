/*
 * Muelle's practice terminals: xterm.js <-> the sandbox websocket (docs/terminal-protocol.md).
 *
 * Up to N terminals per page, as tabs (tabs.js), each its own shell in the same sandbox and its
 * own websocket, with the same reconnect logic (connection.js) per tab. The panel lives outside
 * the region htmx swaps, so this module runs once per full page load and keeps its connections
 * across lessons. This file only wires the page to the parts (protocol, connection, output,
 * countdown, accessibility, tabs); the public API for other scripts is window.muelleTerminal,
 * which always speaks to the active tab (end of this file).
 */

import { announcer, keyHandler, screenReaderWanted, setScreenReaderWanted } from "./accessibility.js";
import { Connection } from "./connection.js";
import { Countdown } from "./countdown.js";
import { OutputPump } from "./output.js";
import { codeNamed, commandKeys, newTerminalId, readTable } from "./protocol.js";
import { storageGet, storageSet } from "./storage.js";
import { format, readStrings } from "./strings.js";
import { TabList } from "./tabs.js";

const TABS_KEY = "muelle.terminal.tabs"; // sessionStorage: a reload reattaches every tab
const ID_KEY = "muelle.terminal.id"; // sessionStorage: the first tab's id (what pages kept before tabs)
const KEEP_ALIVE_EVERY = 5000;

function debounce(fn, ms) {
  let timer = null;
  return function () {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

function requestSession(panel) {
  let refused = null;
  return fetch(panel.dataset.sessionUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": panel.dataset.csrfToken },
  })
    .then((response) => {
      // 429: too many new sessions from this network. The server's Spanish text says so and
      // how long to wait; a socket opened now would only be refused for lack of one.
      if (response.status === 429) return response.text().then((text) => (refused = text));
      return null;
    })
    .catch(() => {
      /* the websocket itself will say what is wrong */
    })
    .then(() => refused);
}

const TERM_OPTIONS = {
  cursorBlink: true,
  fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, ui-monospace, monospace',
  fontSize: 15,
  scrollback: 5000,
  theme: {
    background: "#0e1116",
    foreground: "#e6edf3",
    cursor: "#e6edf3",
    cursorAccent: "#0e1116",
    selectionBackground: "#3d5a80",
  },
};

function start(panel) {
  const strings = readStrings(panel);
  const t = (key, values) => format(strings, key, values);
  const statusEl = panel.querySelector("[data-terminal-status]");
  const noticeEl = panel.querySelector("[data-terminal-notice]");
  const screensEl = panel.querySelector("[data-terminal-screen]");
  const tablist = panel.querySelector("[data-terminal-tablist]");
  const buttons = {};
  panel.querySelectorAll("[data-terminal-action]").forEach((button) => {
    buttons[button.dataset.terminalAction] = button;
  });

  // xterm's own texts for assistive technology (the input's label, the "too much output" line).
  const xtermStrings = window.Terminal.strings;
  xtermStrings.promptLabel = t("promptLabel") || xtermStrings.promptLabel;
  xtermStrings.tooMuchOutput = t("tooMuchOutput") || xtermStrings.tooMuchOutput;

  const table = readTable(document);
  const tabClosedCode = codeNamed(table, "tab_closed");
  const list = new TabList({
    max: table.maxTerminals || 1,
    load: () => storageGet("sessionStorage", TABS_KEY),
    save: (text) => storageSet("sessionStorage", TABS_KEY, text),
    loadLegacy: () => storageGet("sessionStorage", ID_KEY),
    saveLegacy: (id) => storageSet("sessionStorage", ID_KEY, id),
    makeId: () => newTerminalId((bytes) => crypto.getRandomValues(bytes)),
  });

  const timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (id) => clearInterval(id),
  };
  // The sandbox's countdown is one for every tab (they share it); it follows the active tab.
  const countdown = new Countdown(panel.querySelector("[data-terminal-countdown]"), t, Date.now, timers);
  const encoder = new TextEncoder();
  const announce = announcer(panel.querySelector("[data-terminal-announcer]"));
  // One session request for every tab: tabs opening at once must not each make a session (the
  // last cookie would win and the others' sockets would land in another sandbox).
  let session = null;
  function sharedSession() {
    if (!session) {
      session = requestSession(panel).then((refused) => {
        if (refused !== null) session = null; // a 429: the retry button asks again
        return refused;
      });
    }
    return session;
  }
  const records = []; // one per tab, in list order
  let active = null;
  let panelNotice = null; // a message about the tabs themselves (the cap), until the next switch

  // The "reconnect" button (same terminal id) and its label for each offer.
  const RECONNECT_LABELS = { reconnect: "reconnect", retry: "retry", takeBack: "takeBack", now: "reconnectNow" };

  function render() {
    if (!active) return;
    statusEl.dataset.state = active.status.state;
    panel.dataset.state = active.status.state;
    statusEl.textContent = active.status.text;
    const shown = panelNotice || active.notice;
    noticeEl.textContent = shown.message || "";
    noticeEl.dataset.level = shown.level || "info";
    const label = RECONNECT_LABELS[active.offer];
    buttons.reconnect.hidden = !label;
    if (label) buttons.reconnect.textContent = t(label);
    buttons.fresh.hidden = active.offer !== "fresh";
    buttons.reload.hidden = active.offer !== "reload";
    buttons["send-now"].hidden = active.held === null;
    buttons["drop-held"].hidden = active.held === null;
    const atCap = !list.canAdd();
    buttons["new-tab"].setAttribute("aria-disabled", String(atCap));
    buttons["close-tab"].setAttribute("aria-disabled", String(records.length < 2));
  }

  function fitRecord(record) {
    let dims;
    try {
      dims = record.fitAddon.proposeDimensions();
    } catch (e) {
      return; // not laid out yet (hidden panel): the next resize will fit
    }
    if (!dims || !isFinite(dims.cols) || !isFinite(dims.rows)) return;
    if (dims.cols !== record.term.cols || dims.rows !== record.term.rows) record.fitAddon.fit();
  }
  // The screens share one grid cell, so every tab has the size of the visible one.
  const fitAll = debounce(() => records.forEach(fitRecord), 80);
  if (window.ResizeObserver) new ResizeObserver(fitAll).observe(screensEl);
  window.addEventListener("resize", fitAll);

  function noteInput(record) {
    // Typing keeps the sandbox open: an idle warning no longer holds.
    if (countdown.input() && record.notice.level === "warning") {
      record.notice = { message: "", level: "info" };
      if (record === active) render();
    }
  }

  function createRecord(tab) {
    const screen = document.createElement("div");
    screen.className = "terminal-screen-tab";
    screen.setAttribute("role", "tabpanel");
    screen.dataset.terminalScreenOf = String(tab.number);
    screensEl.append(screen);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "terminal-tab";
    button.setAttribute("role", "tab");
    button.dataset.terminalTab = String(tab.number);
    button.setAttribute("aria-keyshortcuts", "Delete");
    const label = document.createElement("span");
    label.textContent = t("tabLabel", { n: tab.number });
    const dot = document.createElement("span");
    dot.className = "terminal-tab-dot";
    dot.setAttribute("aria-hidden", "true");
    // A mouse-only close mark: keyboard users have Supr on the tab and «Cerrar esta terminal».
    const close = document.createElement("span");
    close.className = "terminal-tab-close";
    close.dataset.terminalTabClose = "";
    close.setAttribute("aria-hidden", "true");
    close.title = t("closeTabNamed", { n: tab.number });
    close.textContent = "×";
    button.append(dot, label, close);
    tablist.append(button);
    button.id = "terminal-tab-" + tab.number;
    screen.id = "terminal-tabpanel-" + tab.number;
    button.setAttribute("aria-controls", screen.id);
    screen.setAttribute("aria-labelledby", button.id);

    const term = new window.Terminal({ ...TERM_OPTIONS, screenReaderMode: screenReaderWanted() });
    const fitAddon = new window.FitAddon.FitAddon();
    term.loadAddon(fitAddon);
    term.open(screen);
    const record = {
      tab,
      term,
      fitAddon,
      screen,
      button,
      status: { state: "idle", text: t("idle") },
      notice: { message: "", level: "info" },
      offer: null,
      lastReady: null,
      everReady: false, // a later `ready` (reattach, new shell after a restart) is announced
      marks: false, // this shell prints the prompt marks (an older image may not)
      busy: false, // a command, not the shell's prompt, has this terminal
      pending: false, // a command was typed and no mark has come back yet
      held: null, // the lesson command «Ejecutar» did not type, until sent or dropped
    };
    fitRecord(record);
    // The sandbox's bash marks each prompt (OSC 133;A) and each command it starts (OSC 133;C):
    // sandbox/images/sandbox/muelle-bashrc.sh. Between the two a command has the terminal: a
    // container's shell (`docker exec -it`), `docker logs -f`, a slow pull. A replay after a
    // reload brings the marks back with the screen, starting with the last one it no longer
    // holds (sandbox/terminal_buffers.py). Marks only set state:
    // nothing is ever typed because of one (a replayed or redrawn prompt is no prompt to type at).
    term.parser.registerOscHandler(133, (data) => {
      const mark = data.charAt(0);
      if (mark !== "A" && mark !== "C") return true;
      record.marks = true;
      record.busy = mark === "C";
      record.pending = false;
      if (mark === "A" && record.held !== null) {
        // The prompt is back: «Ejecutar» types again; the student clicks it (nothing is sent
        // by itself, so a held command never lands in a later program by surprise).
        record.held = null;
        record.notice = { message: t("free"), level: "info" };
        if (record === active) render();
      }
      return true;
    });
    const output = new OutputPump(term);
    let sendResize = () => {};
    const view = {
      setStatus(state, text) {
        record.status = { state, text };
        button.dataset.state = state;
        if (record === active) render();
      },
      showNotice(message, level) {
        record.notice = { message: message || "", level: level || "info" };
        if (record === active) render();
      },
      offer(action) {
        record.offer = action;
        if (record === active) render();
      },
    };
    const connection = new Connection({
      table,
      createSocket: (url) => new WebSocket(url),
      socketUrl(terminalId) {
        fitRecord(record);
        const scheme = location.protocol === "https:" ? "wss:" : "ws:";
        const params = new URLSearchParams({ t: terminalId, rows: term.rows, cols: term.cols });
        return scheme + "//" + location.host + panel.dataset.wsPath + "?" + params.toString();
      },
      ids: { current: () => tab.id, renew: () => list.renew(tab) },
      requestSession: sharedSession,
      t,
      view,
      timers,
      now: Date.now,
      random: Math.random,
      hooks: {
        open: () => sendResize(), // the engine has no initial console size: say it at once
        size: () => ({ rows: term.rows, cols: term.cols }),
        output: (bytes) => output.push(bytes),
        closed() {
          record.lastReady = null;
          // No shell now: «Ejecutar» reconnects as it always did (Connection.ensureConnected).
          record.busy = record.pending = false;
          record.held = null;
          if (record === active) countdown.stop();
        },
        ready(message) {
          output.restart();
          // A new screen: the replay that follows marks it again.
          record.busy = record.pending = false;
          record.held = null;
          const said = record.everReady || message.reattached || message.fresh ? message.message : "";
          view.showNotice(said, "info");
          record.everReady = true;
          record.lastReady = message;
          if (record === active) countdown.start(message);
        },
        control(message) {
          if (message.type !== "expiry") return;
          view.showNotice(message.message, "warning");
          if (record === active) countdown.expiry(message);
        },
      },
    });
    record.connection = connection;
    sendResize = debounce(() => connection.sendResize(), 0);
    term.onResize(sendResize);
    term.onData((data) => {
      noteInput(record);
      connection.sendBytes(encoder.encode(data));
    });
    term.onBinary((data) => {
      // Some mouse reports are not UTF-8: one byte per character.
      noteInput(record);
      const bytes = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
      connection.sendBytes(bytes);
    });
    term.attachCustomKeyEventHandler(keyHandler(term, (text) => window.muelleCopy(text), announce, t));
    records.push(record);
    return record;
  }

  function select(record, { focus = false } = {}) {
    if (!record) return;
    const changed = active !== record;
    active = record;
    list.select(record.tab.id);
    if (changed) panelNotice = null;
    for (const other of records) {
      const shown = other === record;
      other.button.setAttribute("aria-selected", String(shown));
      other.button.tabIndex = shown ? 0 : -1;
      // Invisible, not display:none: every tab keeps the size (and xterm its fit) meanwhile.
      other.screen.toggleAttribute("data-inactive", !shown);
      other.screen.inert = !shown;
    }
    // A lazy panel (terminal_lazy) connects on first use: a restored tab shown after another
    // one is already in use connects too, instead of waiting for a keystroke.
    if (record.connection.state === "idle" && records.some((r) => r.connection.state !== "idle")) {
      record.connection.connect();
    }
    if (record.lastReady && record.connection.state === "ready") countdown.start(record.lastReady);
    else countdown.stop();
    fitRecord(record);
    render();
    if (focus) record.term.focus();
  }

  function openTab({ focus = true } = {}) {
    const tab = list.add();
    if (!tab) {
      // The server would refuse it too (too_many): say so here, without a round trip.
      panelNotice = { message: t("tooManyTabs", { max: list.max }), level: "warning" };
      render();
      announce(panelNotice.message);
      return null;
    }
    const record = createRecord(tab);
    select(record, { focus });
    record.connection.connect();
    return record;
  }

  function closeTab(record) {
    if (!record || records.length < 2) {
      panelNotice = { message: t("lastTab"), level: "info" };
      render();
      announce(panelNotice.message);
      return;
    }
    const index = records.indexOf(record);
    const next = list.remove(record.tab.id);
    // The server ends this shell at once (not after the reconnect grace): its place is free.
    record.connection.dispose(tabClosedCode);
    record.term.dispose();
    record.button.remove();
    record.screen.remove();
    records.splice(index, 1);
    const following = records.find((r) => r.tab.id === next) || records[Math.min(index, records.length - 1)];
    select(following, { focus: true });
    following.button.focus();
    announce(t("tabClosed", { n: record.tab.number }));
  }

  list.tabs.forEach(createRecord);
  select(records.find((r) => r.tab.id === list.active) || records[0]);
  setInterval(() => records.forEach((r) => r.connection.keepAlive()), KEEP_ALIVE_EVERY);

  // --- Tabs: mouse and keyboard (ARIA tabs pattern: one tab stop, arrows, Home/End) ------------
  const recordOf = (el) => records.find((r) => r.button === el.closest("[data-terminal-tab]")) || null;
  tablist.addEventListener("click", (event) => {
    const record = recordOf(event.target);
    if (!record) return;
    if (event.target.closest("[data-terminal-tab-close]")) closeTab(record);
    else select(record, { focus: true });
  });
  tablist.addEventListener("auxclick", (event) => {
    // Middle click closes, as in a browser's own tabs.
    const record = event.button === 1 ? recordOf(event.target) : null;
    if (record) closeTab(record);
  });
  tablist.addEventListener("keydown", (event) => {
    const index = records.indexOf(active);
    let next = null;
    if (event.key === "ArrowRight") next = (index + 1) % records.length;
    else if (event.key === "ArrowLeft") next = (index - 1 + records.length) % records.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = records.length - 1;
    else if (event.key === "Delete") {
      event.preventDefault();
      closeTab(active);
      return;
    }
    if (next === null) return;
    event.preventDefault();
    select(records[next]);
    records[next].button.focus();
  });
  // Alt+Shift+N: a new terminal; Alt+Shift+1…9: that terminal. Capture phase: they work while
  // xterm (which would eat them) has the focus.
  document.addEventListener(
    "keydown",
    (event) => {
      if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) return;
      const code = event.code || "";
      let record = null;
      if (code === "KeyN") {
        event.preventDefault();
        event.stopPropagation();
        if (window.muelleWorkspace) window.muelleWorkspace.show("terminal");
        openTab();
        return;
      }
      const digit = /^Digit([1-9])$/.exec(code);
      if (digit) record = records[Number(digit[1]) - 1];
      if (!record) return;
      event.preventDefault();
      event.stopPropagation();
      if (window.muelleWorkspace) window.muelleWorkspace.show("terminal");
      select(record, { focus: true });
    },
    true,
  );
  buttons["new-tab"].addEventListener("click", () => openTab());
  buttons["close-tab"].addEventListener("click", () => closeTab(active));

  // --- Screen readers: one setting for every tab ---------------------------------------------
  const toggle = buttons["screen-reader"];
  function setScreenReader(on) {
    records.forEach((r) => (r.term.options.screenReaderMode = on));
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    setScreenReaderWanted(on);
  }
  setScreenReader(screenReaderWanted());
  toggle.addEventListener("click", () => setScreenReader(toggle.getAttribute("aria-pressed") !== "true"));

  // --- Recovery buttons (the active tab) and page lifecycle (every tab) ------------------------
  buttons.reconnect.addEventListener("click", () => {
    active.connection.reconnectNow();
    active.term.focus();
  });
  buttons.fresh.addEventListener("click", () => {
    active.connection.fresh();
    active.term.focus();
  });
  buttons.reload.addEventListener("click", () => location.reload());
  window.addEventListener("pagehide", () => records.forEach((r) => r.connection.pageHidden()));
  window.addEventListener("pageshow", (event) =>
    records.forEach((r) => r.connection.pageShown(event.persisted)),
  );
  window.addEventListener("online", () => records.forEach((r) => r.connection.online()));

  // --- «Ejecutar» while a command has the terminal (OSC 133 marks, above) ----------------------
  function dropHeld() {
    const held = active.held;
    active.held = null;
    if (active.notice.message === t("busy")) active.notice = { message: "", level: "info" };
    render();
    return held;
  }
  buttons["send-now"].addEventListener("click", () => {
    const held = dropHeld();
    if (held !== null) typeCommand(active, held);
    focus();
  });
  buttons["drop-held"].addEventListener("click", () => {
    dropHeld();
    focus();
  });
  function typeCommand(record, command) {
    record.connection.ensureConnected();
    noteInput(record);
    record.connection.sendBytes(encoder.encode(commandKeys(command)));
    // Until its mark comes back, a second click (a double click on `docker exec -it …`) must
    // not go into what this one starts.
    record.pending = record.marks;
  }

  function commandRuns(record) {
    return record.connection.state === "ready" && (record.busy || record.pending);
  }

  // --- Public API: always the active tab ------------------------------------------------------
  function focus() {
    if (panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
    active.term.focus();
  }

  window.muelleTerminal = Object.freeze({
    /** Sends text as if typed (no Enter added) to the active tab; connects first if needed. */
    send(text) {
      active.connection.ensureConnected();
      noteInput(active);
      active.connection.sendBytes(encoder.encode(String(text)));
    },
    /** Runs a command (or several lines) in the active tab: each line ends with Enter. While a
     * command has that terminal (a container's shell, `docker logs -f`, a slow pull), nothing
     * is typed and this returns false: the panel says to wait for the prompt and click again,
     * and offers «Enviarlo ya» (to that program) and «No enviarlo». */
    run(command) {
      if (commandRuns(active)) {
        const again = active.notice.message === t("busy");
        active.held = String(command);
        active.notice = { message: t("busy"), level: "warning" };
        render(); // the notice is a live region: it is read out...
        if (again) announce(t("busy")); // ...but not when its text stays the same
        return false;
      }
      active.held = null;
      if (active.notice.message === t("free")) active.notice = { message: "", level: "info" };
      typeCommand(active, String(command));
      render();
      focus();
      return true;
    },
    focus,
    get state() {
      return active.connection.state;
    },
    /** True while a command, not the shell's prompt, has the active tab (OSC 133 marks). */
    get busy() {
      return active.busy;
    },
    /** The active tab's xterm.js instance (tests read term.buffer.active). */
    get term() {
      return active.term;
    },
    /** The active tab's screen and scrollback as text, one string per line (tests, tools). */
    lines() {
      const buffer = active.term.buffer.active;
      const out = [];
      for (let i = 0; i < buffer.length; i++) out.push(buffer.getLine(i).translateToString(true));
      return out;
    },
    /** Opens a new terminal tab and shows it; false at the cap (the page says why). */
    openTab() {
      return openTab() !== null;
    },
    /** Closes the active tab (never the last one). */
    closeTab() {
      closeTab(active);
    },
    /** Shows the n-th tab (1-based, in order). */
    selectTab(n) {
      select(records[n - 1], { focus: true });
    },
    get tabCount() {
      return records.length;
    },
    /** 1-based position of the active tab. */
    get activeTab() {
      return records.indexOf(active) + 1;
    },
    get maxTabs() {
      return list.max;
    },
  });
  document.dispatchEvent(new CustomEvent("muelle:terminal-ready-api"));

  if (panel.dataset.autoconnect !== "false") records.forEach((r) => r.connection.connect());
}

const panel = document.querySelector("[data-terminal]");
// Once per page (a module runs once anyway), and only with xterm.js loaded.
if (!window.muelleTerminal && panel && typeof window.Terminal === "function" && window.FitAddon) {
  start(panel);
}
