/*
 * The workspace tabs beside a lesson (templates/sandbox/workspace.html, docs/workspace.md):
 * «Terminal | Editor | Vista», the preview of a published port, and the lessons' «Abrir en el
 * editor» buttons. Starts once per full page load; htmx swaps of the lesson never re-run it.
 *
 * Keys: ←/→ (and Inicio/Fin) move between the tabs (ARIA tabs pattern, one tab stop);
 * Alt+Shift+T / E / V show the terminal, the editor or the preview from anywhere.
 */
(function () {
  "use strict";

  const root = document.querySelector("[data-workspace]");
  if (!root || window.muelleWorkspace) return;

  const tabs = Array.from(root.querySelectorAll("[data-workspace-tab]"));
  const panes = Array.from(root.querySelectorAll("[data-workspace-pane]"));
  const SHORTCUTS = { t: "terminal", e: "editor", v: "preview" };
  let active = "terminal";

  function whenEditor(callback) {
    if (window.muelleEditor) return callback(window.muelleEditor);
    document.addEventListener("muelle:editor-ready", () => callback(window.muelleEditor), {
      once: true,
    });
  }

  function show(name, { focus = false } = {}) {
    const tab = tabs.find((t) => t.dataset.workspaceTab === name);
    if (!tab) return;
    active = name;
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
    }
    for (const pane of panes) {
      const shown = pane.dataset.workspacePane === name;
      // Invisible, not display:none: the terminal keeps its size (and xterm its fit) meanwhile.
      pane.toggleAttribute("data-inactive", !shown);
      pane.inert = !shown;
    }
    if (name === "editor") whenEditor((editor) => editor.refresh());
    if (name === "preview") syncPorts();
    if (focus) focusPane(name);
  }

  function focusPane(name) {
    if (name === "terminal" && window.muelleTerminal) window.muelleTerminal.focus();
    else if (name === "editor") whenEditor((editor) => editor.view.focus());
    else if (name === "preview") root.querySelector("[data-preview-port]").focus();
  }

  root.querySelector("[role=tablist]").addEventListener("click", (event) => {
    const tab = event.target.closest("[data-workspace-tab]");
    if (tab) show(tab.dataset.workspaceTab);
  });

  root.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
    const index = tabs.findIndex((t) => t.dataset.workspaceTab === active);
    let next = null;
    if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
    else if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = tabs.length - 1;
    if (next === null) return;
    event.preventDefault();
    show(tabs[next].dataset.workspaceTab);
    tabs[next].focus();
  });

  // Capture phase: the shortcut works while xterm or CodeMirror has the focus.
  document.addEventListener(
    "keydown",
    (event) => {
      if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) return;
      const name = SHORTCUTS[(event.code || "").replace("Key", "").toLowerCase()];
      if (!name) return;
      event.preventDefault();
      event.stopPropagation();
      show(name, { focus: true });
    },
    true,
  );

  window.addEventListener("focus", () => {
    if (active === "editor") whenEditor((editor) => editor.refresh());
  });

  // «Ejecutar» on a lesson block types into the terminal: show it.
  document.addEventListener("click", (event) => {
    const run = event.target.closest && event.target.closest('.code-block [data-action="run"]');
    if (run && run.closest('.code-block[data-runnable="true"]')) show("terminal");
  });

  // «Abrir en el editor» on a block that names a file (```dockerfile archivo=Dockerfile).
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest('.code-block [data-action="open-file"]');
    if (!button) return;
    const block = button.closest(".code-block");
    const code = block.querySelector("pre code") || block.querySelector("pre");
    const path = block.dataset.file;
    if (!path || !code) return;
    show("editor");
    whenEditor(async (editor) => {
      if (await editor.openWith(path, code.textContent)) editor.view.focus();
    });
  });

  // --- Vista: the preview of a published port --------------------------------------------
  const select = root.querySelector("[data-preview-port]");
  const frame = root.querySelector("[data-preview-frame]");
  const empty = root.querySelector("[data-preview-empty]");
  const openLink = root.querySelector("[data-preview-open]");
  const note = root.querySelector("[data-preview-note]");

  let closedByStudent = false; // the student chose «Elige un puerto»: not opened again for them

  function showChosen() {
    // The frame and its links follow the list's choice («Elige un puerto»: none).
    const option = select.selectedOptions[0];
    const chosen = option && option.value ? option : null;
    frame.hidden = !chosen;
    openLink.hidden = !chosen;
    note.hidden = !chosen;
    if (!chosen) {
      frame.removeAttribute("src");
      return;
    }
    frame.src = option.dataset.frame || option.dataset.href;
    openLink.href = option.dataset.href;
  }

  function syncPorts() {
    // The terminal panel polls the «Puertos publicados» list; its links are the choices here.
    const links = Array.from(document.querySelectorAll("[data-preview-link]"));
    const chosen = select.value;
    const wanted = links.map((a) => a.dataset.previewLink);
    const have = Array.from(select.options).slice(1).map((o) => o.value);
    if (wanted.join() !== have.join()) {
      while (select.options.length > 1) select.remove(1);
      for (const link of links) {
        // The port itself: the list is labelled «Puerto publicado» («Abrir 8080» read as a button).
        const option = new Option(link.dataset.previewLink, link.dataset.previewLink);
        option.dataset.href = link.href;
        option.dataset.frame = link.dataset.previewFrame;
        select.add(option);
      }
      select.value = wanted.includes(chosen) ? chosen : "";
    }
    empty.hidden = links.length > 0;
    if (active === "preview" && select.value === "" && wanted.length === 1 && !closedByStudent) {
      // One port published: shown at once, instead of an empty panel asking to choose it (unless
      // the student closed it: the list's next refresh opened it again).
      select.value = wanted[0];
      showChosen();
      return;
    }
    if (select.value === "" && !frame.hidden) showChosen(); // its port is gone
  }

  select.addEventListener("change", () => {
    closedByStudent = !select.value;
    showChosen();
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.closest && event.target.closest("[data-terminal-ports]")) syncPorts();
  });

  window.muelleWorkspace = {
    show,
    get active() {
      return active;
    },
  };
})();
