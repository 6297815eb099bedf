/*
 * Copying text to the clipboard, shared by the terminal (Ctrl+Shift+C) and the lessons' "Copiar"
 * buttons: window.muelleCopy(text) returns a promise of true/false.
 * The async Clipboard API needs a secure context (https or localhost); elsewhere, and when the
 * browser refuses it, a hidden textarea and execCommand("copy") still work.
 */
(function () {
  "use strict";

  if (window.muelleCopy) return;

  function legacyCopy(text) {
    const active = document.activeElement;
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    area.remove();
    if (active && active.focus) active.focus(); // give the focus back (the terminal, a button)
    return ok;
  }

  window.muelleCopy = function (text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        () => true,
        () => legacyCopy(text)
      );
    }
    return Promise.resolve(legacyCopy(text));
  };
})();
