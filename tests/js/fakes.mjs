// Stand-ins for what the browser gives the terminal's connection: sockets, timers, the page.
// They record what the code under test did; the code under test is the real module.

export class FakeSocket {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closed = false;
    FakeSocket.instances.push(this);
  }
  send(data) {
    this.sent.push(data);
  }
  close(code) {
    this.closed = true;
    this.closeCode = code;
  }
  // What the server does:
  open() {
    this.readyState = 1;
    if (this.onopen) this.onopen({});
  }
  receive(data) {
    if (this.onmessage) this.onmessage({ data });
  }
  serverClose(code) {
    this.readyState = 3;
    if (this.onclose) this.onclose({ code });
  }
}

/** Timers on a virtual clock: nothing runs until the test advances it. */
export class FakeTimers {
  constructor() {
    this.now = 0;
    this.nextId = 1;
    this.pending = new Map();
  }
  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, fn, ms });
    return id;
  }
  clearTimeout(id) {
    this.pending.delete(id);
  }
  setInterval() {
    return 0;
  }
  clearInterval() {}
  /** The delays of the timers waiting now. */
  delays() {
    return [...this.pending.values()].map((timer) => timer.ms);
  }
  advance(ms) {
    this.now += ms;
    for (const [id, timer] of [...this.pending]) {
      if (timer.at <= this.now) {
        this.pending.delete(id);
        timer.fn();
      }
    }
  }
}

export function fakeView() {
  return {
    statuses: [],
    notices: [],
    offers: [],
    setStatus(state, text) {
      this.statuses.push([state, text]);
    },
    showNotice(text, level) {
      this.notices.push([text, level]);
    },
    offer(action) {
      this.offers.push(action);
    },
  };
}
