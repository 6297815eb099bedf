/*
 * The list of terminal tabs of one browser tab: each tab is a terminal id (its own shell on the
 * server) and the number on its label, kept in sessionStorage so a reload reattaches every one
 * of them, in order, with the same one active. Pure: storage and randomness are injected, so
 * tests/js drive it without a browser.
 *
 * The server has the last word on the cap (SANDBOX_MAX_TERMINALS_PER_SESSION, the too_many close); `max`
 * only spares the student a round trip that would be refused.
 */

import { TERMINAL_ID } from "./protocol.js";

export class TabList {
  /**
   * options: max (tabs at most), load() -> string|null (the saved list), save(text),
   * loadLegacy() -> string|null (the one terminal id pages kept before tabs), saveLegacy(id),
   * makeId() -> a new terminal id.
   */
  constructor(options) {
    this.max = Math.max(1, options.max || 1);
    this.save = options.save;
    this.saveLegacy = options.saveLegacy;
    this.makeId = options.makeId;
    this.tabs = []; // [{id, number}] in the order they are shown
    this.active = null; // the id of the tab shown
    this.restore(options.load(), options.loadLegacy());
  }

  restore(saved, legacy) {
    let parsed = null;
    try {
      parsed = JSON.parse(saved || "null");
    } catch (e) {
      parsed = null;
    }
    const seenIds = new Set();
    const seenNumbers = new Set();
    const list = parsed && Array.isArray(parsed.tabs) ? parsed.tabs : [];
    for (const tab of list) {
      if (this.tabs.length >= this.max) break;
      if (!tab || typeof tab.id !== "string" || !TERMINAL_ID.test(tab.id) || seenIds.has(tab.id)) continue;
      let number = Number.isInteger(tab.number) && tab.number > 0 ? tab.number : 0;
      if (!number || seenNumbers.has(number)) number = 0;
      seenIds.add(tab.id);
      if (number) seenNumbers.add(number);
      this.tabs.push({ id: tab.id, number });
    }
    for (const tab of this.tabs) if (!tab.number) tab.number = this.freeNumber();
    if (!this.tabs.length) {
      // A page from before tabs (or a test) left one id: it becomes the first tab.
      const id = legacy && TERMINAL_ID.test(legacy) ? legacy : this.makeId();
      this.tabs.push({ id, number: 1 });
    }
    const active = parsed && typeof parsed.active === "string" ? parsed.active : null;
    this.active = this.tabs.some((tab) => tab.id === active) ? active : this.tabs[0].id;
    this.persist();
  }

  freeNumber() {
    const used = new Set(this.tabs.map((tab) => tab.number));
    let number = 1;
    while (used.has(number)) number += 1;
    return number;
  }

  persist() {
    this.save(JSON.stringify({ tabs: this.tabs, active: this.active }));
    this.saveLegacy(this.tabs[0].id);
  }

  get(id) {
    return this.tabs.find((tab) => tab.id === id) || null;
  }

  canAdd() {
    return this.tabs.length < this.max;
  }

  /** A new tab after the others (not yet active), or null at the cap. */
  add() {
    if (!this.canAdd()) return null;
    const tab = { id: this.makeId(), number: this.freeNumber() };
    this.tabs.push(tab);
    this.persist();
    return tab;
  }

  /** Removes a tab (never the last one); returns the id shown next, or null if nothing changed. */
  remove(id) {
    const index = this.tabs.findIndex((tab) => tab.id === id);
    if (index < 0 || this.tabs.length === 1) return null;
    this.tabs.splice(index, 1);
    if (this.active === id) this.active = this.tabs[Math.min(index, this.tabs.length - 1)].id;
    this.persist();
    return this.active;
  }

  select(id) {
    if (!this.get(id)) return;
    this.active = id;
    this.persist();
  }

  /** The tab gets a new terminal id (a new shell: "Nuevo entorno", a refused id). */
  renew(tab) {
    const wasActive = this.active === tab.id;
    tab.id = this.makeId();
    if (wasActive) this.active = tab.id;
    this.persist();
  }
}
