/*
 * Screen readers: xterm's accessible mode (remembered by the browser), a polite announcer for
 * short results such as «Copiado», and a keyboard that never traps focus in the terminal.
 */

import { storageGet, storageSet } from "./storage.js";

const SCREEN_READER_KEY = "muelle.terminal.screenReader"; // localStorage

export function screenReaderWanted() {
  return storageGet("localStorage", SCREEN_READER_KEY) === "1";
}

export function setScreenReaderWanted(on) {
  storageSet("localStorage", SCREEN_READER_KEY, on ? "1" : "0");
}

export function announcer(el) {
  return function announce(text) {
    // Clearing first makes screen readers repeat the same message ("Copiado" twice).
    el.textContent = "";
    setTimeout(() => (el.textContent = text), 50);
  };
}

/** Copy/paste keys and Shift+Tab out (docs/terminal-frontend.md). */
export function keyHandler(term, copy, announce, t) {
  return function (event) {
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
          copy(term.getSelection()).then((ok) => announce(t(ok ? "copied" : "copyFailed")));
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
  };
}
