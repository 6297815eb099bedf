/*
 * Muelle's practice terminal: xterm.js <-> the sandbox websocket (docs/terminal-protocol.md).
 *
 * One terminal per page, one websocket per terminal. The panel lives outside the region htmx
 * swaps, so this runs once per full page load and keeps its connection across lessons.
 * Every text shown to the student comes from the panel template ([data-terminal-strings]).
 * Public API for other scripts: window.muelleTerminal (see the end of this file).
 */
(function () {
  "use strict";

  if (window.muelleTerminal) return; // already running (e.g. the script tag was swapped in again)
  const panel = document.querySelector("[data-terminal]");
  if (!panel || typeof window.Terminal !== "function" || !window.FitAddon) return;

  // --- Constants ------------------------------------------------------------------------------
  const ID_KEY = "muelle.terminal.id"; // sessionStorage: a reload reattaches to the same shell
  const SCREEN_READER_KEY = "muelle.terminal.screenReader"; // localStorage
  const SEND_CHUNK = 16 * 1024; // well under the server's TERMINAL_MAX_FRAME (64 KiB)
  const PENDING_INPUT_MAX = 64 * 1024; // what we keep while (re)connecting
  // Bytes handed to xterm but not yet parsed. Past this, output waits in our queue so xterm's
  // own buffer (and the page's work per frame) stays small even during `yes`.
  const WRITE_HIGH_WATER = 128 * 1024;
  const PING_EVERY = 20000; // ms without sending anything before we ping
  const PONG_DEADLINE = 30000; // an unanswered ping this old means the connection is dead
  const BACKOFF_FIRST = 1000;
  const BACKOFF_MAX = 30000;
  const WARN_BEFORE = 120; // seconds: the countdown turns urgent (the server warns too)
  const RESET = Symbol("reset");

  // Close codes that mean "try again by yourself" and what the page offers for the rest.
  const AUTO_RECONNECT = new Set([1001, 1006, 1012]);
  const OFFER = {
    1000: "reconnect",
    1008: "fresh",
    1009: "reconnect",
    4000: "fresh",
    4001: "fresh",
    4002: "retry",
    4003: "retry",
    4004: "fresh",
    4008: "reconnect",
    4009: "takeBack",
    4403: "reload",
    4500: "retry",
  };

  // --- Strings from the template --------------------------------------------------------------
  const strings = {};
  panel.querySelectorAll("[data-terminal-strings] [data-key]").forEach((el) => {
    strings[el.dataset.key] = el.textContent.trim();
  });
  function t(key, values) {
    let text = strings[key] || "";
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  // --- Elements -------------------------------------------------------------------------------
  const statusEl = panel.querySelector("[data-terminal-status]");
  const countdownEl = panel.querySelector("[data-terminal-countdown]");
  const noticeEl = panel.querySelector("[data-terminal-notice]");
  const screenEl = panel.querySelector("[data-terminal-screen]");
  const announcerEl = panel.querySelector("[data-terminal-announcer]");
  const buttons = {};
  panel.querySelectorAll("[data-terminal-action]").forEach((button) => {
    buttons[button.dataset.terminalAction] = button;
  });

  // --- Storage (either may be unavailable: private modes, sandboxed frames) -------------------
  function storageGet(storage, key) {
    try {
      return window[storage].getItem(key);
    } catch (e) {
      return null;
    }
  }
  function storageSet(storage, key, value) {
    try {
      window[storage].setItem(key, value);
    } catch (e) {
      /* not kept: the feature still works for this page */
    }
  }

  function newTerminalId() {
    const bytes = new Uint8Array(24);
    crypto.getRandomValues(bytes);
    let binary = "";
    bytes.forEach((b) => (binary += String.fromCharCode(b)));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  let terminalId = storageGet("sessionStorage", ID_KEY);
  if (!/^[A-Za-z0-9_-]{22,64}$/.test(terminalId || "")) {
    terminalId = newTerminalId();
    storageSet("sessionStorage", ID_KEY, terminalId);
  }
  function useNewTerminalId() {
    terminalId = newTerminalId();
    storageSet("sessionStorage", ID_KEY, terminalId);
  }

  // --- xterm.js -------------------------------------------------------------------------------
  // xterm's own texts for assistive technology (the input's label, the "too much output" line).
  const xtermStrings = window.Terminal.strings;
  xtermStrings.promptLabel = t("promptLabel") || xtermStrings.promptLabel;
  xtermStrings.tooMuchOutput = t("tooMuchOutput") || xtermStrings.tooMuchOutput;
  const term = new window.Terminal({
    cursorBlink: true,
    fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, ui-monospace, monospace',
    fontSize: 15,
    scrollback: 5000,
    screenReaderMode: storageGet("localStorage", SCREEN_READER_KEY) === "1",
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
  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }
  const fitSoon = debounce(fit, 80);
  if (window.ResizeObserver) new ResizeObserver(fitSoon).observe(screenEl);
  window.addEventListener("resize", fitSoon);
  fit();

  // --- State ----------------------------------------------------------------------------------
  let socket = null;
  let state = "idle"; // idle | connecting | queued | ready | reconnecting | ended
  let attempts = 0; // automatic reconnects since the last `ready`
  let reconnectTimer = null;
  let explained = false; // a notice/exit came right before the close
  let leaving = false; // the page is being unloaded: don't reconnect
  let pendingInput = []; // Uint8Array chunks typed before `ready`
  let pendingInputBytes = 0;
  let lastSentAt = 0;
  let pingSentAt = 0; // 0 when no ping is outstanding
  let expiresAt = null; // ms since epoch (lifetime)
  let idleTimeout = null; // seconds
  let lastInputAt = 0;
  let idleWarningShown = false;
  let everReady = false; // a later `ready` (reattach, new shell after a restart) is announced

  function setStatus(newState, text) {
    state = newState;
    statusEl.dataset.state = newState;
    panel.dataset.state = newState;
    statusEl.textContent = text || t(newState);
  }

  function showNotice(message, level) {
    noticeEl.textContent = message || "";
    noticeEl.dataset.level = level || "info";
  }

  // The "reconnect" button (same terminal id) and its label for each offer.
  const RECONNECT_LABELS = {
    reconnect: "reconnect",
    retry: "retry",
    takeBack: "takeBack",
    now: "reconnectNow",
  };
  let offered = null; // the recovery the page offers now (one of OFFER's values, "now" or null)

  function offer(action) {
    // Shows at most one of the recovery buttons.
    offered = action;
    const label = RECONNECT_LABELS[action];
    buttons.reconnect.hidden = !label;
    if (label) buttons.reconnect.textContent = t(label);
    buttons.fresh.hidden = action !== "fresh";
    buttons.reload.hidden = action !== "reload";
  }

  // --- Connection -----------------------------------------------------------------------------
  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ t: terminalId, rows: term.rows, cols: term.cols });
    return scheme + "//" + location.host + panel.dataset.wsPath + "?" + params.toString();
  }

  // The websocket knows the student by the session cookie. Pages never create sessions (page
  // views and crawlers must not write to the database), so the terminal asks for one first.
  let sessionReady = false;
  let sessionPending = false;

  function ensureSessionThenConnect() {
    sessionPending = true;
    let refused = null;
    fetch(panel.dataset.sessionUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": panel.dataset.csrfToken },
    })
      .then(function (response) {
        // 429: too many new sessions from this network. The server's Spanish text says so
        // and how long to wait; a socket opened now would only be refused for lack of one.
        if (response.status === 429) {
          return response.text().then(function (text) {
            refused = text;
          });
        }
        return null;
      })
      .catch(function () {
        /* the websocket itself will say what is wrong */
      })
      .finally(function () {
        sessionPending = false;
        if (refused !== null) {
          setStatus("ended");
          showNotice(refused, "error");
          offer("retry"); // asks for the session again
          return;
        }
        sessionReady = true; // ask once per page; a refused handshake explains the rest
        connect();
      });
  }

  function connect() {
    if (socket || sessionPending) return;
    if (!sessionReady) {
      ensureSessionThenConnect();
      return;
    }
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    fit();
    explained = false;
    const ws = new WebSocket(socketUrl());
    ws.binaryType = "arraybuffer";
    socket = ws;
    if (state !== "reconnecting") {
      setStatus("connecting");
      offer(null);
    }
    ws.onopen = function () {
      if (ws !== socket) return;
      sendResize(); // the engine has no initial console size: say it at once
    };
    ws.onmessage = function (event) {
      if (ws !== socket) return;
      pingSentAt = 0; // anything the server says proves the connection is alive
      if (typeof event.data === "string") {
        handleControl(event.data);
      } else {
        explained = false; // the shell went on after that notice: it did not explain a close
        enqueueOutput(new Uint8Array(event.data));
      }
    };
    ws.onclose = function (event) {
      if (ws !== socket) return;
      socket = null;
      handleClose(event.code);
    };
  }

  function dropSocket() {
    // Forget the current socket without waiting for a closing handshake that may never come.
    const ws = socket;
    socket = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close();
      } catch (e) {
        /* already closed */
      }
    }
  }

  function scheduleReconnect() {
    attempts += 1;
    const delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempts - 1));
    const jittered = delay * (0.8 + Math.random() * 0.4);
    setStatus("reconnecting");
    showNotice(t("lostConnection", { attempt: attempts }), "warning");
    offer("now");
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, jittered);
  }

  function handleClose(code) {
    stopCountdown();
    if (leaving) return;
    if (AUTO_RECONNECT.has(code)) {
      scheduleReconnect();
      return;
    }
    setStatus("ended");
    if (!explained) showNotice(t("closedWithCode", { code: code }), "error");
    if (code === 1008) useNewTerminalId(); // the server refused this id: never send it again
    offer(OFFER[code] || "reconnect");
  }

  function handleControl(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (e) {
      return;
    }
    if (!message || typeof message !== "object") return;
    switch (message.type) {
      case "queued":
        setStatus("queued", t("queued", { position: message.position }));
        showNotice(message.message, "info");
        break;
      case "ready":
        onReady(message);
        break;
      case "expiry":
        showNotice(message.message, "warning");
        if (typeof message.seconds_left === "number") {
          const end = Date.now() + message.seconds_left * 1000;
          if (message.reason === "idle" && idleTimeout) lastInputAt = end - idleTimeout * 1000;
          if (message.reason === "lifetime") expiresAt = end;
        }
        idleWarningShown = message.reason === "idle";
        renderCountdown();
        break;
      case "notice":
        explained = true;
        showNotice(message.message, message.level);
        break;
      case "exit":
        explained = true;
        showNotice(message.message, message.reason === "exit" ? "info" : "error");
        break;
      case "pong":
        break;
    }
  }

  function onReady(message) {
    attempts = 0;
    setStatus("ready");
    offer(null);
    // Protocol: after every `ready` the screen restarts; the output that follows redraws it.
    outputQueue.length = 0;
    outputQueue.push(RESET);
    pumpOutput();
    showNotice(everReady || message.reattached || message.fresh ? message.message : "", "info");
    everReady = true;
    const parsed = Date.parse(message.expires_at);
    expiresAt = isNaN(parsed) ? null : parsed;
    idleTimeout = typeof message.idle_timeout === "number" ? message.idle_timeout : null;
    lastInputAt = Date.now();
    idleWarningShown = false;
    startCountdown();
    sendResize();
    flushPendingInput();
  }

  function sendControl(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify(message));
    lastSentAt = Date.now();
  }

  const sendResize = debounce(function () {
    sendControl({ type: "resize", rows: term.rows, cols: term.cols });
  }, 0);
  term.onResize(sendResize);

  // --- Keep-alive: a silent connection is pinged; an unanswered ping means it is gone ---------
  setInterval(function () {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (pingSentAt && now - pingSentAt > PONG_DEADLINE) {
      dropSocket();
      stopCountdown();
      scheduleReconnect();
      return;
    }
    if (!pingSentAt && now - lastSentAt >= PING_EVERY) {
      sendControl({ type: "ping", t: now });
      pingSentAt = now;
    }
  }, 5000);

  // --- Input ----------------------------------------------------------------------------------
  const encoder = new TextEncoder();

  function sendBytes(bytes) {
    if (bytes.length === 0) return;
    if (state === "ready" && socket && socket.readyState === WebSocket.OPEN) {
      for (let i = 0; i < bytes.length; i += SEND_CHUNK) {
        socket.send(bytes.subarray(i, i + SEND_CHUNK));
      }
      lastSentAt = Date.now();
      return;
    }
    // The server drops keystrokes sent before `ready`: keep a little until then.
    if (state === "idle") connect();
    if (state === "ended") return;
    if (pendingInputBytes + bytes.length > PENDING_INPUT_MAX) return;
    pendingInput.push(bytes);
    pendingInputBytes += bytes.length;
  }

  function flushPendingInput() {
    const chunks = pendingInput;
    pendingInput = [];
    pendingInputBytes = 0;
    chunks.forEach(sendBytes);
  }

  function noteInput() {
    lastInputAt = Date.now();
    if (idleWarningShown) {
      idleWarningShown = false;
      showNotice("", "info"); // typing keeps the sandbox open: the idle warning no longer holds
    }
    renderCountdown();
  }

  term.onData(function (data) {
    noteInput();
    sendBytes(encoder.encode(data));
  });
  term.onBinary(function (data) {
    // Some mouse reports are not UTF-8: one byte per character.
    noteInput();
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
    sendBytes(bytes);
  });

  // --- Output with a bounded backlog inside xterm ---------------------------------------------
  const outputQueue = [];
  let inFlight = 0;

  function enqueueOutput(bytes) {
    outputQueue.push(bytes);
    pumpOutput();
  }

  function pumpOutput() {
    while (outputQueue.length && inFlight < WRITE_HIGH_WATER) {
      const item = outputQueue[0];
      if (item === RESET) {
        if (inFlight > 0) return; // reset only after what came before it is on screen
        outputQueue.shift();
        term.reset();
        continue;
      }
      outputQueue.shift();
      inFlight += item.length;
      term.write(item, function () {
        inFlight -= item.length;
        pumpOutput();
      });
    }
  }

  // --- Copy and paste -------------------------------------------------------------------------
  function copyText(text) {
    // Returns a promise of true/false; callers announce the result (clipboard.js).
    return window.muelleCopy(text);
  }

  function announce(text) {
    // Clearing first makes screen readers repeat the same message ("Copiado" twice).
    announcerEl.textContent = "";
    setTimeout(() => (announcerEl.textContent = text), 50);
  }

  term.attachCustomKeyEventHandler(function (event) {
    const key = (event.key || "").toLowerCase();
    const onlyShift = event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey;
    if (event.key === "Tab" && onlyShift) {
      return false; // Shift+Tab leaves the terminal (the browser moves focus): no keyboard trap
    }
    if (!event.ctrlKey || event.altKey || event.metaKey) return true;
    if (key === "c" && event.shiftKey) {
      if (event.type === "keydown") {
        event.preventDefault(); // Chromium would open the element inspector
        if (term.hasSelection()) {
          copyText(term.getSelection()).then((ok) => announce(t(ok ? "copied" : "copyFailed")));
        }
      }
      return false;
    }
    if (key === "c" && term.hasSelection()) {
      // Let the browser copy: its copy event reaches xterm, which puts the selection in it.
      if (event.type === "keydown") setTimeout(() => term.clearSelection(), 0);
      return false;
    }
    if (key === "v") return false; // the browser's paste event reaches xterm (bracketed paste)
    return true; // Ctrl+C without a selection: xterm sends ^C (0x03)
  });

  // --- Countdown ------------------------------------------------------------------------------
  let countdownTimer = null;

  function startCountdown() {
    stopCountdown();
    countdownTimer = setInterval(renderCountdown, 1000);
    renderCountdown();
  }

  function stopCountdown() {
    clearInterval(countdownTimer);
    countdownTimer = null;
    countdownEl.textContent = "";
    delete countdownEl.dataset.urgent;
  }

  function formatDuration(seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function renderCountdown() {
    if (!countdownTimer) return;
    const now = Date.now();
    const idleLeft = idleTimeout ? (lastInputAt + idleTimeout * 1000 - now) / 1000 : Infinity;
    const lifeLeft = expiresAt ? (expiresAt - now) / 1000 : Infinity;
    if (!isFinite(idleLeft) && !isFinite(lifeLeft)) {
      countdownEl.textContent = "";
      return;
    }
    const idleFirst = idleLeft < lifeLeft;
    const left = idleFirst ? idleLeft : lifeLeft;
    countdownEl.textContent = t(idleFirst ? "countdownIdle" : "countdownLifetime", {
      time: formatDuration(left),
    });
    countdownEl.dataset.reason = idleFirst ? "idle" : "lifetime";
    if (left <= WARN_BEFORE) countdownEl.dataset.urgent = "true";
    else delete countdownEl.dataset.urgent;
  }

  // --- Buttons --------------------------------------------------------------------------------
  function reconnectNow() {
    dropSocket();
    attempts = 0;
    setStatus("connecting");
    showNotice("", "info");
    connect();
  }

  buttons.reconnect.addEventListener("click", function () {
    reconnectNow();
    term.focus();
  });
  buttons.fresh.addEventListener("click", function () {
    useNewTerminalId();
    reconnectNow();
    term.focus();
  });
  buttons.reload.addEventListener("click", function () {
    location.reload();
  });

  function setScreenReader(on) {
    term.options.screenReaderMode = on;
    buttons["screen-reader"].setAttribute("aria-pressed", on ? "true" : "false");
    storageSet("localStorage", SCREEN_READER_KEY, on ? "1" : "0");
  }
  setScreenReader(term.options.screenReaderMode);
  buttons["screen-reader"].addEventListener("click", function () {
    setScreenReader(!term.options.screenReaderMode);
  });

  // --- Page lifecycle -------------------------------------------------------------------------
  window.addEventListener("pagehide", function () {
    leaving = true;
  });
  window.addEventListener("pageshow", function (event) {
    // Back/forward cache: the page comes back without its socket.
    leaving = false;
    if (event.persisted && !socket && state !== "ended" && state !== "idle") reconnectNow();
  });
  window.addEventListener("online", function () {
    if (state === "reconnecting" && !socket) connect();
  });

  // --- Public API -----------------------------------------------------------------------------
  function focus() {
    if (panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
    term.focus();
  }

  function ensureConnected() {
    // "Ejecutar" on a terminal that is not running does what its recovery button would.
    if (socket) return;
    if (state === "idle") connect();
    else if (state === "reconnecting") reconnectNow();
    else if (state === "ended" && offered !== "reload") {
      if (offered === "fresh") useNewTerminalId();
      reconnectNow();
    }
  }

  window.muelleTerminal = Object.freeze({
    /** Sends text as if typed (no Enter added); connects first if needed. */
    send(text) {
      ensureConnected();
      noteInput();
      sendBytes(encoder.encode(String(text)));
    },
    /** Runs a command (or several lines): each line ends with Enter. Focuses the terminal. */
    run(command) {
      const lines = String(command).replace(/\r\n?/g, "\n").replace(/\n+$/, "");
      this.send(lines.split("\n").join("\r") + "\r");
      focus();
    },
    focus,
    get state() {
      return state;
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

  if (panel.dataset.autoconnect !== "false") connect();
})();
