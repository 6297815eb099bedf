/*
 * How long until the sandbox closes: by inactivity (restarted by every keystroke) or by its
 * maximum lifetime, whichever comes first. The server warns too; this only shows the time.
 */

export const WARN_BEFORE = 120; // seconds: the countdown turns urgent
const SECOND = 1_000; // ms

export function formatDuration(seconds) {
  seconds = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
}

/** What to show at `now` (ms): null when nothing ends, else {reason, time, urgent}. */
export function countdownAt(now, { expiresAt, idleTimeout, lastInputAt }) {
  const idleLeft = idleTimeout ? (lastInputAt + idleTimeout * SECOND - now) / SECOND : Infinity;
  const lifeLeft = expiresAt ? (expiresAt - now) / SECOND : Infinity;
  if (!isFinite(idleLeft) && !isFinite(lifeLeft)) return null;
  const idleFirst = idleLeft < lifeLeft;
  const left = idleFirst ? idleLeft : lifeLeft;
  return { reason: idleFirst ? "idle" : "lifetime", time: formatDuration(left), urgent: left <= WARN_BEFORE };
}

export class Countdown {
  /** el: the countdown element; t(key, values): the page's strings; now(): ms; timers. */
  constructor(el, t, now, timers) {
    this.el = el;
    this.t = t;
    this.now = now;
    this.timers = timers;
    this.timer = null;
    this.expiresAt = null; // ms since epoch (lifetime)
    this.idleTimeout = null; // seconds
    this.lastInputAt = 0;
    this.idleWarningShown = false;
  }

  /** After `ready`: the sandbox's lifetime and idle timeout, counted from now. */
  start(message) {
    const parsed = Date.parse(message.expires_at);
    this.expiresAt = isNaN(parsed) ? null : parsed;
    this.idleTimeout = typeof message.idle_timeout === "number" ? message.idle_timeout : null;
    this.lastInputAt = this.now();
    this.idleWarningShown = false;
    this.stop();
    this.timer = this.timers.setInterval(() => this.render(), SECOND);
    this.render();
  }

  stop() {
    this.timers.clearInterval(this.timer);
    this.timer = null;
    this.el.textContent = "";
    delete this.el.dataset.urgent;
  }

  /** The server's `expiry` warning moves the matching end to what it says. */
  expiry(message) {
    if (typeof message.seconds_left === "number") {
      const end = this.now() + message.seconds_left * SECOND;
      if (message.reason === "idle" && this.idleTimeout) this.lastInputAt = end - this.idleTimeout * SECOND;
      if (message.reason === "lifetime") this.expiresAt = end;
    }
    this.idleWarningShown = message.reason === "idle";
    this.render();
  }

  /** A keystroke: returns true when an idle warning was showing (it no longer holds). */
  input() {
    this.lastInputAt = this.now();
    const wasWarning = this.idleWarningShown;
    this.idleWarningShown = false;
    this.render();
    return wasWarning;
  }

  render() {
    if (!this.timer) return;
    const shown = countdownAt(this.now(), this);
    if (!shown) {
      this.el.textContent = "";
      return;
    }
    const key = shown.reason === "idle" ? "countdownIdle" : "countdownLifetime";
    this.el.textContent = this.t(key, { time: shown.time });
    this.el.dataset.reason = shown.reason;
    if (shown.urgent) this.el.dataset.urgent = "true";
    else delete this.el.dataset.urgent;
  }
}
