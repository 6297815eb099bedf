/*
 * Output with a bounded backlog inside xterm: bytes handed to xterm but not yet parsed are
 * counted through write()'s callback; past the high-water mark new chunks wait here, so xterm's
 * own buffer (and the page's work per frame) stays small even during `yes`. Nothing is dropped.
 */

export const WRITE_HIGH_WATER = 128 * 1024;
const RESET = Symbol("reset");

export class OutputPump {
  /** term: anything with write(bytes, callback) and reset() (xterm.js). */
  constructor(term, highWater = WRITE_HIGH_WATER) {
    this.term = term;
    this.highWater = highWater;
    this.queue = [];
    this.inFlight = 0;
  }

  push(bytes) {
    this.queue.push(bytes);
    this.pump();
  }

  /** Protocol: after every `ready` the screen restarts; the output that follows redraws it. */
  restart() {
    this.queue.length = 0;
    this.queue.push(RESET);
    this.pump();
  }

  pump() {
    while (this.queue.length && this.inFlight < this.highWater) {
      const item = this.queue[0];
      if (item === RESET) {
        if (this.inFlight > 0) return; // reset only after what came before it is on screen
        this.queue.shift();
        this.term.reset();
        continue;
      }
      this.queue.shift();
      this.inFlight += item.length;
      this.term.write(item, () => {
        this.inFlight -= item.length;
        this.pump();
      });
    }
  }
}
