/*
 * The separator between the lesson and the workspace, on screens wide enough for both side by
 * side: drag it, or focus it and use the arrow keys (Inicio/Fin for the ends), to give the
 * terminal more or less of the width. A terminal of 50-odd columns wraps every `docker ps`, and
 * how much text a student wants beside it is theirs to choose.
 *
 * WAI-ARIA "window splitter": role=separator, its value is the share of the primary pane (the
 * lesson, before it) in percent. The share is kept in localStorage, so every lesson opens with
 * it. The terminal fits itself to its new box (its ResizeObserver) and tells the shell.
 */
(function () {
  "use strict";

  if (window.muelleLayoutSplitter) return;
  window.muelleLayoutSplitter = true;

  const KEY = "muelle.lessonShare";
  const MIN = 30;
  const MAX = 70;
  const DEFAULT = 50;
  const STEP = 5;

  function clamp(value) {
    return Math.min(MAX, Math.max(MIN, Math.round(value)));
  }

  function remembered() {
    try {
      const value = Number(window.localStorage.getItem(KEY));
      return value ? clamp(value) : DEFAULT;
    } catch (e) {
      return DEFAULT; // storage refused (private mode, a policy): the default every time
    }
  }

  function init() {
    const separator = document.querySelector("[data-layout-separator]");
    const layout = separator && separator.closest(".lesson-layout");
    if (!layout) return;
    const valueText = separator.dataset.valuetext || "{share} %";

    function show(share, remember) {
      layout.style.setProperty("--lesson-fr", share + "fr");
      layout.style.setProperty("--workspace-fr", 100 - share + "fr");
      separator.setAttribute("aria-valuenow", String(share));
      separator.setAttribute("aria-valuetext", valueText.replace("{share}", String(share)));
      if (!remember) return;
      try {
        window.localStorage.setItem(KEY, String(share));
      } catch (e) {
        // Not kept: this page still has it.
      }
    }

    function current() {
      return Number(separator.getAttribute("aria-valuenow")) || DEFAULT;
    }

    separator.addEventListener("keydown", function (event) {
      const moves = {
        ArrowLeft: current() - STEP,
        ArrowRight: current() + STEP,
        Home: MIN,
        End: MAX,
      };
      if (!(event.key in moves)) return;
      event.preventDefault();
      show(clamp(moves[event.key]), true);
    });

    function shareAt(clientX) {
      const box = layout.getBoundingClientRect();
      return clamp(((clientX - box.left) / box.width) * 100);
    }

    separator.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      event.preventDefault(); // no text selection while dragging
      separator.setPointerCapture(event.pointerId); // the preview's iframe must not take the moves
      separator.dataset.dragging = "";
      separator.focus({ preventScroll: true });
    });
    separator.addEventListener("pointermove", function (event) {
      if (separator.hasPointerCapture(event.pointerId)) show(shareAt(event.clientX), false);
    });
    function release(event) {
      if (!separator.hasPointerCapture(event.pointerId)) return;
      separator.releasePointerCapture(event.pointerId);
      delete separator.dataset.dragging;
      show(current(), true);
    }
    separator.addEventListener("pointerup", release);
    separator.addEventListener("pointercancel", release);
    separator.addEventListener("dblclick", function () {
      show(DEFAULT, true);
    });

    show(remembered(), false);
    separator.hidden = false; // without this script, a separator that does nothing stays hidden
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
