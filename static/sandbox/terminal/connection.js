/*
 * One terminal's websocket and its recovery: connect (after asking once for a session), relay
 * frames, keep a silent connection alive, and after a close either reconnect by itself with
 * backoff or end and offer the one button the close-code table names.
 *
 * Everything outside (WebSocket, timers, clock, randomness, the session request, the page) is
 * injected, so tests/js drive it with fakes and no browser.
 */

import { backoffDelay } from "./backoff.js";
import { chunks, closeAction, closeMessage, parseControl, pingMessage, resizeMessage } from "./protocol.js";

const OPEN = 1; // WebSocket.OPEN
const SEND_CHUNK = 16 * 1024; // well under the server's TERMINAL_MAX_FRAME (64 KiB)
const PENDING_INPUT_MAX = 64 * 1024; // what we keep while (re)connecting
export const PING_EVERY = 20000; // ms without sending anything before we ping
export const PONG_DEADLINE = 30000; // an unanswered ping this old means the connection is dead

export class Connection {
  /**
   * options: table (close codes), createSocket(url), socketUrl(terminalId), ids ({current(),
   * renew()}), requestSession() -> Promise<string|null> (a refusal text or null), t(key, values),
   * view ({setStatus(state, text), showNotice(text, level), offer(action)}), hooks ({open(),
   * ready(message), control(message), output(bytes), closed()}), timers ({setTimeout,
   * clearTimeout}), now(), random().
   */
  constructor(options) {
    this.table = options.table;
    this.createSocket = options.createSocket;
    this.socketUrl = options.socketUrl;
    this.ids = options.ids;
    this.requestSession = options.requestSession;
    this.t = options.t;
    this.view = options.view;
    this.hooks = options.hooks;
    this.timers = options.timers;
    this.now = options.now;
    this.random = options.random;

    this.socket = null;
    this.state = "idle"; // idle | connecting | queued | ready | reconnecting | ended
    this.attempts = 0; // automatic reconnects since the last `ready`
    this.reconnectTimer = null;
    this.explained = false; // a notice/exit came right before the close
    this.leaving = false; // the page is being unloaded: don't reconnect
    this.offered = null; // the recovery the page offers now
    this.sessionReady = false;
    this.sessionPending = false;
    this.pendingInput = []; // Uint8Array chunks typed before `ready`
    this.pendingInputBytes = 0;
    this.lastSentAt = 0;
    this.pingSentAt = 0; // 0 when no ping is outstanding
  }

  setStatus(state, text) {
    this.state = state;
    this.view.setStatus(state, text || this.t(state));
  }

  offer(action) {
    this.offered = action;
    this.view.offer(action);
  }

  // The websocket knows the student by the session cookie. Pages never create sessions (page
  // views and crawlers must not write to the database), so the terminal asks for one first.
  ensureSessionThenConnect() {
    this.sessionPending = true;
    return this.requestSession().then((refused) => {
      this.sessionPending = false;
      if (refused !== null) {
        // 429: too many new sessions from this network; the server's text says how long to wait.
        this.setStatus("ended");
        this.view.showNotice(refused, "error");
        this.offer("retry"); // asks for the session again
        return;
      }
      this.sessionReady = true; // ask once per page; a refused handshake explains the rest
      this.connect();
    });
  }

  connect() {
    if (this.socket || this.sessionPending) return;
    if (!this.sessionReady) {
      this.ensureSessionThenConnect();
      return;
    }
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.explained = false;
    const ws = this.createSocket(this.socketUrl(this.ids.current()));
    ws.binaryType = "arraybuffer";
    this.socket = ws;
    if (this.state !== "reconnecting") {
      this.setStatus("connecting");
      this.offer(null);
    }
    ws.onopen = () => {
      if (ws === this.socket) this.hooks.open();
    };
    ws.onmessage = (event) => {
      if (ws !== this.socket) return;
      this.pingSentAt = 0; // anything the server says proves the connection is alive
      if (typeof event.data === "string") {
        this.handleControl(event.data);
      } else {
        this.explained = false; // the shell went on after that notice: it did not explain a close
        this.hooks.output(new Uint8Array(event.data));
      }
    };
    ws.onclose = (event) => {
      if (ws !== this.socket) return;
      this.socket = null;
      this.handleClose(event.code);
    };
  }

  /** Forget the current socket without waiting for a closing handshake that may never come. */
  dropSocket() {
    const ws = this.socket;
    this.socket = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close();
      } catch (e) {
        /* already closed */
      }
    }
  }

  scheduleReconnect() {
    this.attempts += 1;
    this.setStatus("reconnecting");
    this.view.showNotice(this.t("lostConnection", { attempt: this.attempts }), "warning");
    this.offer("now");
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.timers.setTimeout(
      () => this.connect(),
      backoffDelay(this.attempts, this.random),
    );
  }

  handleClose(code) {
    this.hooks.closed();
    if (this.leaving) return;
    const action = closeAction(this.table, code);
    if (action === "auto") {
      // Same terminal id: within the server's grace period this reattaches to the same shell.
      this.scheduleReconnect();
      return;
    }
    this.setStatus("ended");
    if (!this.explained) {
      const text = closeMessage(this.table, code) || this.t("closedWithCode", { code: code });
      this.view.showNotice(text, "error");
    }
    // A policy close refused this id (or something sent on it): never send it again.
    if (this.table.codes[String(code)] && this.table.codes[String(code)].name === "policy") {
      this.ids.renew();
    }
    this.offer(action);
  }

  handleControl(text) {
    const message = parseControl(text);
    if (!message) return;
    switch (message.type) {
      case "queued":
        this.setStatus("queued", this.t("queued", { position: message.position }));
        this.view.showNotice(message.message, "info");
        break;
      case "ready":
        this.attempts = 0;
        this.setStatus("ready");
        this.offer(null);
        this.hooks.ready(message);
        this.sendResize();
        this.flushPendingInput();
        break;
      case "notice":
        this.explained = true;
        this.view.showNotice(message.message, message.level);
        break;
      case "exit":
        this.explained = true;
        this.view.showNotice(message.message, message.reason === "exit" ? "info" : "error");
        break;
      case "pong":
        break;
      default:
        this.hooks.control(message); // expiry: the countdown's business
    }
  }

  sendControl(text) {
    if (!this.socket || this.socket.readyState !== OPEN) return;
    this.socket.send(text);
    this.lastSentAt = this.now();
  }

  sendResize() {
    const size = this.hooks.size();
    this.sendControl(resizeMessage(size.rows, size.cols));
  }

  sendBytes(bytes) {
    if (bytes.length === 0) return;
    if (this.state === "ready" && this.socket && this.socket.readyState === OPEN) {
      chunks(bytes, SEND_CHUNK).forEach((chunk) => this.socket.send(chunk));
      this.lastSentAt = this.now();
      return;
    }
    // The server drops keystrokes sent before `ready`: keep a little until then.
    if (this.state === "idle") this.connect();
    if (this.state === "ended") return;
    if (this.pendingInputBytes + bytes.length > PENDING_INPUT_MAX) return;
    this.pendingInput.push(bytes);
    this.pendingInputBytes += bytes.length;
  }

  flushPendingInput() {
    const pending = this.pendingInput;
    this.pendingInput = [];
    this.pendingInputBytes = 0;
    pending.forEach((bytes) => this.sendBytes(bytes));
  }

  /** Called every few seconds: a silent connection is pinged; an unanswered ping means it is gone. */
  keepAlive() {
    if (!this.socket || this.socket.readyState !== OPEN) return;
    const now = this.now();
    if (this.pingSentAt && now - this.pingSentAt > PONG_DEADLINE) {
      this.dropSocket();
      this.hooks.closed();
      this.scheduleReconnect();
      return;
    }
    if (!this.pingSentAt && now - this.lastSentAt >= PING_EVERY) {
      this.sendControl(pingMessage(now));
      this.pingSentAt = now;
    }
  }

  reconnectNow() {
    this.dropSocket();
    this.attempts = 0;
    this.setStatus("connecting");
    this.view.showNotice("", "info");
    this.connect();
  }

  fresh() {
    this.ids.renew();
    this.reconnectNow();
  }

  /** "Ejecutar" on a terminal that is not running does what its recovery button would. */
  ensureConnected() {
    if (this.socket) return;
    if (this.state === "idle") this.connect();
    else if (this.state === "reconnecting") this.reconnectNow();
    else if (this.state === "ended" && this.offered !== "reload") {
      if (this.offered === "fresh") this.ids.renew();
      this.reconnectNow();
    }
  }

  /**
   * The student closed this terminal's tab: close with `code` (the table's "tab_closed") so the
   * server ends the shell now instead of keeping it for a reconnect, and never reconnect.
   */
  dispose(code) {
    this.leaving = true;
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.socket;
    this.socket = null;
    this.state = "ended";
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      if (code) ws.close(code);
      else ws.close();
    } catch (e) {
      /* already closed */
    }
  }

  pageHidden() {
    this.leaving = true;
  }

  pageShown(persisted) {
    // Back/forward cache: the page comes back without its socket.
    this.leaving = false;
    if (persisted && !this.socket && this.state !== "ended" && this.state !== "idle") {
      this.reconnectNow();
    }
  }

  online() {
    if (this.state === "reconnecting" && !this.socket) this.connect();
  }
}
