/*
 * Muelle's practice terminal: xterm.js <-> the sandbox websocket (docs/terminal-protocol.md).
 *
 * One terminal per page, one websocket per terminal. The panel lives outside the region htmx
 * swaps, so this module runs once per full page load and keeps its connection across lessons.
 * This file only wires the page to the parts (protocol, connection, output, countdown,
 * accessibility); the public API for other scripts is window.muelleTerminal (end of this file).
 */

import { announcer, bindScreenReaderToggle, keyHandler, screenReaderWanted } from "./accessibility.js";
import { Connection } from "./connection.js";
import { Countdown } from "./countdown.js";
import { OutputPump } from "./output.js";
import { commandKeys, newTerminalId, readTable, TERMINAL_ID } from "./protocol.js";
import { storageGet, storageSet } from "./storage.js";
import { format, readStrings } from "./strings.js";

const ID_KEY = "muelle.terminal.id"; // sessionStorage: a reload reattaches to the same shell
const KEEP_ALIVE_EVERY = 5000;

function debounce(fn, ms) {
  let timer = null;
  return function () {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

function terminalIds() {
  const make = () => newTerminalId((bytes) => crypto.getRandomValues(bytes));
  let id = storageGet("sessionStorage", ID_KEY);
  if (!TERMINAL_ID.test(id || "")) {
    id = make();
    storageSet("sessionStorage", ID_KEY, id);
  }
  return {
    current: () => id,
    renew() {
      id = make();
      storageSet("sessionStorage", ID_KEY, id);
    },
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

function start(panel) {
  const strings = readStrings(panel);
  const t = (key, values) => format(strings, key, values);
  const statusEl = panel.querySelector("[data-terminal-status]");
  const noticeEl = panel.querySelector("[data-terminal-notice]");
  const screenEl = panel.querySelector("[data-terminal-screen]");
  const buttons = {};
  panel.querySelectorAll("[data-terminal-action]").forEach((button) => {
    buttons[button.dataset.terminalAction] = button;
  });

  // xterm's own texts for assistive technology (the input's label, the "too much output" line).
  const xtermStrings = window.Terminal.strings;
  xtermStrings.promptLabel = t("promptLabel") || xtermStrings.promptLabel;
  xtermStrings.tooMuchOutput = t("tooMuchOutput") || xtermStrings.tooMuchOutput;
  const term = new window.Terminal({
    cursorBlink: true,
    fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, ui-monospace, monospace',
    fontSize: 15,
    scrollback: 5000,
    screenReaderMode: screenReaderWanted(),
    theme: {
      background: "#0e1116",
      foreground: "#e6edf3",
      cursor: "#e6edf3",
      cursorAccent: "#0e1116",
      selectionBackground: "#3d5a80",
    },
  });
  const fitAddon = new window.FitAddon.FitAddon();
  term.loadAddon(fitAddon);
  term.open(screenEl);

  function fit() {
    let dims;
    try {
      dims = fitAddon.proposeDimensions();
    } catch (e) {
      return; // not laid out yet (hidden panel): the next resize will fit
    }
    if (!dims || !isFinite(dims.cols) || !isFinite(dims.rows)) return;
    if (dims.cols !== term.cols || dims.rows !== term.rows) fitAddon.fit();
  }
  const fitSoon = debounce(fit, 80);
  if (window.ResizeObserver) new ResizeObserver(fitSoon).observe(screenEl);
  window.addEventListener("resize", fitSoon);
  fit();

  const showNotice = (message, level) => {
    noticeEl.textContent = message || "";
    noticeEl.dataset.level = level || "info";
  };
  // The "reconnect" button (same terminal id) and its label for each offer.
  const RECONNECT_LABELS = { reconnect: "reconnect", retry: "retry", takeBack: "takeBack", now: "reconnectNow" };
  const view = {
    setStatus(state, text) {
      statusEl.dataset.state = state;
      panel.dataset.state = state;
      statusEl.textContent = text;
    },
    showNotice,
    offer(action) {
      // Shows at most one of the recovery buttons.
      const label = RECONNECT_LABELS[action];
      buttons.reconnect.hidden = !label;
      if (label) buttons.reconnect.textContent = t(label);
      buttons.fresh.hidden = action !== "fresh";
      buttons.reload.hidden = action !== "reload";
    },
  };

  const timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id),
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (id) => clearInterval(id),
  };
  const output = new OutputPump(term);
  const countdown = new Countdown(panel.querySelector("[data-terminal-countdown]"), t, Date.now, timers);
  let everReady = false; // a later `ready` (reattach, new shell after a restart) is announced
  let sendResize = () => {};

  const connection = new Connection({
    table: readTable(document),
    createSocket: (url) => new WebSocket(url),
    socketUrl(terminalId) {
      fit();
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const params = new URLSearchParams({ t: terminalId, rows: term.rows, cols: term.cols });
      return scheme + "//" + location.host + panel.dataset.wsPath + "?" + params.toString();
    },
    ids: terminalIds(),
    requestSession: () => requestSession(panel),
    t,
    view,
    timers,
    now: Date.now,
    random: Math.random,
    hooks: {
      open: () => sendResize(), // the engine has no initial console size: say it at once
      size: () => ({ rows: term.rows, cols: term.cols }),
      output: (bytes) => output.push(bytes),
      closed: () => countdown.stop(),
      ready(message) {
        output.restart();
        showNotice(everReady || message.reattached || message.fresh ? message.message : "", "info");
        everReady = true;
        countdown.start(message);
      },
      control(message) {
        if (message.type !== "expiry") return;
        showNotice(message.message, "warning");
        countdown.expiry(message);
      },
    },
  });
  sendResize = debounce(() => connection.sendResize(), 0);
  term.onResize(sendResize);
  setInterval(() => connection.keepAlive(), KEEP_ALIVE_EVERY);

  // --- Input ----------------------------------------------------------------------------------
  const encoder = new TextEncoder();
  function noteInput() {
    // Typing keeps the sandbox open: an idle warning no longer holds.
    if (countdown.input()) showNotice("", "info");
  }
  term.onData((data) => {
    noteInput();
    connection.sendBytes(encoder.encode(data));
  });
  term.onBinary((data) => {
    // Some mouse reports are not UTF-8: one byte per character.
    noteInput();
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
    connection.sendBytes(bytes);
  });

  // --- Copy and paste, screen readers ---------------------------------------------------------
  const announce = announcer(panel.querySelector("[data-terminal-announcer]"));
  term.attachCustomKeyEventHandler(keyHandler(term, (text) => window.muelleCopy(text), announce, t));
  bindScreenReaderToggle(term, buttons["screen-reader"]);

  // --- Buttons and page lifecycle -------------------------------------------------------------
  buttons.reconnect.addEventListener("click", () => {
    connection.reconnectNow();
    term.focus();
  });
  buttons.fresh.addEventListener("click", () => {
    connection.fresh();
    term.focus();
  });
  buttons.reload.addEventListener("click", () => location.reload());
  window.addEventListener("pagehide", () => connection.pageHidden());
  window.addEventListener("pageshow", (event) => connection.pageShown(event.persisted));
  window.addEventListener("online", () => connection.online());

  // --- Public API -----------------------------------------------------------------------------
  function focus() {
    if (panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
    term.focus();
  }

  window.muelleTerminal = Object.freeze({
    /** Sends text as if typed (no Enter added); connects first if needed. */
    send(text) {
      connection.ensureConnected();
      noteInput();
      connection.sendBytes(encoder.encode(String(text)));
    },
    /** Runs a command (or several lines): each line ends with Enter. Focuses the terminal. */
    run(command) {
      this.send(commandKeys(command));
      focus();
    },
    focus,
    get state() {
      return connection.state;
    },
    /** The xterm.js instance (tests read term.buffer.active). */
    term,
    /** The visible screen and scrollback as text, one string per line (for tests and tools). */
    lines() {
      const buffer = term.buffer.active;
      const out = [];
      for (let i = 0; i < buffer.length; i++) out.push(buffer.getLine(i).translateToString(true));
      return out;
    },
  });
  document.dispatchEvent(new CustomEvent("muelle:terminal-ready-api"));

  if (panel.dataset.autoconnect !== "false") connection.connect();
}

const panel = document.querySelector("[data-terminal]");
// Once per page (a module runs once anyway), and only with xterm.js loaded.
if (!window.muelleTerminal && panel && typeof window.Terminal === "function" && window.FitAddon) {
  start(panel);
}
