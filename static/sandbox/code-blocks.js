/*
 * "Copiar" and "Ejecutar" on the lessons' code blocks:
 *   <div class="code-block" data-runnable="true|false">
 *     <div class="code-actions">
 *       <button data-action="copy">…</button>[<button data-action="run">…</button>]
 *     </div>
 *     <pre><code>…</code></pre>
 *   </div>
 * One listener on document, so blocks that htmx swaps in later work without re-binding.
 * Texts come from the terminal panel's [data-terminal-strings].
 */
(function () {
  "use strict";

  if (window.muelleCodeBlocks) return;
  window.muelleCodeBlocks = true;

  const FEEDBACK_MS = 2000;

  function text(key) {
    const el = document.querySelector('[data-terminal-strings] [data-key="' + key + '"]');
    return el ? el.textContent.trim() : "";
  }

  function announce(message) {
    let region = document.querySelector("[data-terminal-announcer]");
    if (!region) {
      region = document.createElement("p");
      region.className = "terminal-sr-only";
      region.setAttribute("aria-live", "polite");
      region.dataset.terminalAnnouncer = "";
      document.body.appendChild(region);
    }
    region.textContent = "";
    setTimeout(() => (region.textContent = message), 50);
  }

  function codeText(block) {
    const code = block.querySelector("pre code") || block.querySelector("pre");
    return code ? code.textContent : "";
  }

  function copy(value) {
    return window.muelleCopy(value); // clipboard.js
  }

  function flash(button, label) {
    // Briefly relabels the button; the original label is restored even after repeated clicks.
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = label;
    clearTimeout(button._muelleFlash);
    button._muelleFlash = setTimeout(() => {
      button.textContent = button.dataset.label;
    }, FEEDBACK_MS);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest(".code-block [data-action]");
    if (!button) return;
    const block = button.closest(".code-block");
    const action = button.dataset.action;
    if (action === "copy") {
      copy(codeText(block).replace(/\n$/, "")).then(function (ok) {
        const message = text(ok ? "copied" : "copyFailed");
        if (ok) flash(button, message);
        announce(message);
      });
    } else if (action === "run") {
      if (block.dataset.runnable === "false") return;
      if (!window.muelleTerminal) {
        announce(text("noTerminal"));
        return;
      }
      // False: a command has the terminal; this one waits for the prompt, as the panel says.
      if (window.muelleTerminal.run(codeText(block)) !== false) announce(text("sentToTerminal"));
    }
  });
})();
