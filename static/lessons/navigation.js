/*
 * Lesson-to-lesson navigation with htmx: the links already carry href + hx-get, and the swapped
 * region is #lesson-content (the terminal panel next to it stays alive). This file only adds what
 * htmx does not do by itself:
 *   - after a swap or a history restore, move the keyboard focus to the new lesson's title, so
 *     screen readers announce it and Tab starts from the top of the lesson;
 *   - if the fragment cannot be fetched (network error, lesson gone or broken), fall back to a
 *     normal page load of the same URL instead of leaving the click without effect.
 */
(function () {
  "use strict";

  if (window.muelleLessonNavigation) return;
  window.muelleLessonNavigation = true;

  function focusTitle() {
    var title = document.getElementById("lesson-title");
    if (title) title.focus({ preventScroll: true });
  }

  function isLessonSwap(event) {
    var target = event.detail && event.detail.target;
    return target && (target.id === "lesson-content" || target.closest("#lesson-content"));
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (isLessonSwap(event)) focusTitle();
  });

  document.addEventListener("htmx:historyRestore", function () {
    focusTitle();
  });

  function fullLoad(event) {
    if (!isLessonSwap(event)) return;
    var info = event.detail.pathInfo || {};
    var path = info.requestPath || (event.detail.requestConfig && event.detail.requestConfig.path);
    if (path) window.location.assign(path);
  }

  document.addEventListener("htmx:responseError", fullLoad);
  document.addEventListener("htmx:sendError", fullLoad);
})();
