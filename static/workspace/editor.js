/*
 * The workspace editor (templates/sandbox/editor_panel.html, docs/workspace.md): a file tree
 * and CodeMirror 6 over the student's sandbox home, through the JSON API of
 * sandbox/workspace_views.py. An ES module: the import map in the panel template resolves the
 * bare specifiers to the files under node_modules.
 *
 * window.muelleEditor (for lesson blocks, workspace.js and the browser tests):
 *   open(path)                 opens a file (asks first when the open one has unsaved changes)
 *   openWith(path, text)       creates or opens `path` holding `text`, asking before it replaces
 *                              different or unsaved content
 *   save()                     saves the open file (Ctrl-S / Cmd-S)
 *   refresh()                  reloads the tree and checks whether the open file changed
 *   view                       the CodeMirror EditorView; path, version, dirty
 */
import { basicSetup } from "codemirror";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { StreamLanguage } from "@codemirror/language";
import { indentWithTab } from "@codemirror/commands";
import { dockerFile } from "@codemirror/legacy-modes/mode/dockerfile";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { css } from "@codemirror/lang-css";
import { html } from "@codemirror/lang-html";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { yaml } from "@codemirror/lang-yaml";

const root = document.querySelector("[data-editor]");

function setUp() {
  if (!root || window.muelleEditor) return;

  const $ = (selector) => root.querySelector(selector);
  const strings = {};
  for (const el of root.querySelectorAll("[data-editor-strings] [data-key]")) {
    strings[el.dataset.key] = el.textContent.trim();
  }
  const say = (key, values = {}) =>
    (strings[key] || key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

  const treeEl = $("[data-editor-tree]");
  const nameEl = $("[data-editor-filename]");
  const unsavedEl = $("[data-editor-unsaved]");
  const noticeEl = $("[data-editor-notice]");
  const conflictEl = $("[data-editor-conflict]");
  const conflictText = $("[data-editor-conflict-text]");
  const tabMark = document.querySelector("[data-workspace-dirty]");

  const state = {
    path: "",
    version: "",
    saved: "",
    conflictVersion: null,
    sessionTried: false,
    loads: 0, // each file load takes a number; only the newest one's answer is used
    inFlight: 0, // the number of the load in flight, 0 when none
    saving: null,
    selected: "", // the entry «Renombrar» and «Borrar» act on: the open file, or a folder
  };
  const language = new Compartment();
  // Read-only while no file is open and while one is being opened: keys typed meanwhile went
  // into the file open before (or were lost when the new one arrived), unseen.
  // Still focusable (a keyboard user reaches it and reads it): only user input is refused.
  const lock = new Compartment();
  const locked = (on) => EditorState.readOnly.of(on);

  function languageFor(path) {
    const name = path.split("/").pop().toLowerCase();
    const ext = name.includes(".") ? name.split(".").pop() : "";
    if (name === "dockerfile" || name === "containerfile" || ext === "dockerfile" ||
        name.startsWith("dockerfile.")) return StreamLanguage.define(dockerFile);
    if (ext === "yml" || ext === "yaml") return yaml();
    // Without closing tags by itself: a student types `<h1>Hola</h1>` as the lesson shows it,
    // and the tag it had added stayed behind (`<h1>Hola</h1></h1>`).
    if (ext === "html" || ext === "htm") return html({ autoCloseTags: false });
    if (ext === "css") return css();
    if (["js", "mjs", "cjs"].includes(ext)) return javascript();
    if (ext === "py") return python();
    if (ext === "json") return json();
    if (["sh", "bash"].includes(ext) || [".bashrc", ".profile", ".bash_profile"].includes(name)) {
      return StreamLanguage.define(shell);
    }
    return [];
  }

  const view = new EditorView({
    parent: $("[data-editor-view]"),
    state: EditorState.create({
      doc: "",
      extensions: [
        basicSetup,
        keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (save(), true) }, indentWithTab]),
        language.of([]),
        EditorView.updateListener.of((update) => update.docChanged && showDirty()),
        EditorView.contentAttributes.of({ "aria-label": say("noFile") }),
        lock.of(locked(true)),
      ],
    }),
  });

  const dirty = () => state.path !== "" && view.state.doc.toString() !== state.saved;
  // The open file has unsaved changes and the student would rather keep them than open another.
  const keepsUnsaved = () => dirty() && !window.confirm(say("askDiscard", { path: state.path }));

  function showDirty() {
    const isDirty = dirty();
    unsavedEl.hidden = !isDirty;
    if (tabMark) tabMark.hidden = !isDirty;
    nameEl.textContent = state.path ? (isDirty ? say("unsavedTitle", { path: state.path }) : state.path) : say("noFile");
  }

  function notice(message) {
    noticeEl.textContent = message;
  }

  async function session() {
    // The terminal posts here before its first connection; the editor may be used first.
    if (state.sessionTried) return;
    state.sessionTried = true;
    await fetch(root.dataset.sessionUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": root.dataset.csrfToken },
    });
  }

  // A GET without `body` or `text`; a POST of `body` as JSON, or of `text` as it is.
  async function call(url, { body, params, text } = {}) {
    const target = new URL(url, location.href);
    for (const [key, value] of Object.entries(params || {})) target.searchParams.set(key, value);
    const plain = text !== undefined;
    const send = () =>
      fetch(target, body === undefined && !plain
        ? { credentials: "same-origin" }
        : {
            method: "POST",
            credentials: "same-origin",
            headers: {
              "Content-Type": plain ? "text/plain; charset=utf-8" : "application/json",
              "X-CSRFToken": root.dataset.csrfToken,
            },
            body: plain ? text : JSON.stringify(body),
          });
    const answer = async () => {
      const response = await send();
      let data = {};
      try {
        data = await response.json();
      } catch (error) {
        data = { error: say("failed") };
      }
      return { ok: response.ok, status: response.status, data };
    };
    try {
      let result = await answer();
      // Only the refusal that says no session is open yet is mended and sent again: any other
      // 403 (a read-only folder, a path outside the home) was carried out once and stays said.
      if (result.status === 403 && result.data.session === "missing" && !state.sessionTried) {
        await session();
        result = await answer();
      }
      return result;
    } catch (error) {
      return { ok: false, status: 0, data: { error: say("failed") } };
    }
  }

  // --- Tree --------------------------------------------------------------------------------

  function renderTree(entries, truncated) {
    treeEl.textContent = "";
    if (!entries.length) {
      const p = document.createElement("p");
      p.className = "editor-muted";
      p.textContent = say("empty");
      treeEl.append(p);
      return;
    }
    const list = document.createElement("ul");
    list.className = "editor-tree-list";
    for (const entry of entries) {
      const item = document.createElement("li");
      const depth = entry.path.split("/").length - 1;
      item.style.setProperty("--depth", depth);
      const label = entry.path.split("/").pop();
      const button = document.createElement("button");
      button.type = "button";
      button.className = "editor-tree-item";
      button.dataset.path = entry.path;
      button.dataset.kind = entry.kind;
      if (entry.kind === "file") {
        button.textContent = label;
        if (entry.path === state.path) button.setAttribute("aria-current", "true");
        button.addEventListener("click", () => open(entry.path));
      } else {
        button.textContent = label + (entry.kind === "folder" ? "/" : "");
        button.title = entry.kind === "folder" ? say("folder") : say("link");
        button.addEventListener("click", () => select(entry.path));
        button.classList.add("editor-tree-folder");
        if (entry.path === state.selected) button.setAttribute("aria-pressed", "true");
        button.setAttribute("aria-label", `${label} (${button.title})`);
      }
      item.append(button);
      list.append(item);
    }
    treeEl.append(list);
    if (truncated) {
      const p = document.createElement("p");
      p.className = "editor-muted";
      p.textContent = say("truncated");
      treeEl.append(p);
    }
  }

  function select(path) {
    state.selected = path;
    for (const button of treeEl.querySelectorAll("[aria-pressed]")) button.removeAttribute("aria-pressed");
    const chosen = treeEl.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (chosen && chosen.dataset.kind !== "file") chosen.setAttribute("aria-pressed", "true");
    for (const name of ["rename", "delete"]) $(`[data-editor-action="${name}"]`).disabled = !path;
    if (path && path !== state.path) notice(say("selected", { path }));
  }

  async function refreshTree() {
    const answer = await call(root.dataset.treeUrl);
    if (!answer.ok) return notice(answer.data.error || say("failed"));
    renderTree(answer.data.entries, answer.data.truncated);
  }

  // --- Files -------------------------------------------------------------------------------

  function load(path, text, version) {
    state.path = path;
    state.version = version;
    state.saved = text;
    hideConflict();
    view.dispatch({
      changes: { from: 0, to: view.state.doc.length, insert: text },
      effects: [language.reconfigure(languageFor(path)), lock.reconfigure(locked(false))],
    });
    view.contentDOM.setAttribute("aria-label", path);
    for (const name of ["save", "rename", "delete"]) {
      $(`[data-editor-action="${name}"]`).disabled = false;
    }
    for (const button of treeEl.querySelectorAll("[aria-current]")) button.removeAttribute("aria-current");
    const current = treeEl.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (current) current.setAttribute("aria-current", "true");
    select(path);
    showDirty();
  }

  async function read(path) {
    return call(root.dataset.readUrl, { params: { ruta: path } });
  }

  // While a file is being loaded the editor takes no input; the load's number says whether its
  // answer is still the one wanted (two clicks: the last one wins, whatever order they come).
  function startLoad() {
    notice(say("loading"));
    view.dispatch({ effects: lock.reconfigure(locked(true)) });
    state.inFlight = ++state.loads;
    return state.inFlight;
  }

  function endLoad(ticket) {
    if (ticket !== state.inFlight) return false; // a later load took over
    state.inFlight = 0;
    view.dispatch({ effects: lock.reconfigure(locked(!state.path)) });
    return true;
  }

  async function open(path, { focus = true, asked = false } = {}) {
    if (!asked && path !== state.path && keepsUnsaved()) return false;
    const ticket = startLoad();
    const answer = await read(path);
    if (!endLoad(ticket)) return false;
    if (!answer.ok) {
      notice(answer.data.error || say("failed"));
      return false;
    }
    load(answer.data.path, answer.data.text, answer.data.version);
    notice(say("opened", { path: answer.data.path }));
    if (focus) view.focus();
    return true;
  }

  async function write(path, text, version) {
    // The text as it is: inside JSON a file of newlines or control characters grew up to six
    // times and no longer fitted the server's cap on request bodies.
    return call(root.dataset.saveUrl, { params: { ruta: path, version }, text });
  }

  async function save(version = state.version) {
    // One save at a time: a second one would carry the same base version and get a 409.
    if (state.saving) return state.saving;
    state.saving = saveNow(version).finally(() => (state.saving = null));
    return state.saving;
  }

  async function saveNow(version) {
    if (!state.path) return false;
    const text = view.state.doc.toString();
    const answer = await write(state.path, text, version);
    if (answer.status === 409 && answer.data.conflict) {
      showConflict(answer.data.version);
      return false;
    }
    if (!answer.ok) {
      notice(answer.data.error || say("failed"));
      return false;
    }
    state.version = answer.data.version;
    state.saved = text;
    hideConflict();
    showDirty();
    notice(say("saved", { path: state.path }));
    refreshTree();
    return true;
  }

  function showConflict(version) {
    state.conflictVersion = version;
    conflictText.textContent = say("conflict");
    conflictEl.hidden = false;
    conflictEl.querySelector('[data-editor-action="reload"]').focus();
  }

  function hideConflict() {
    state.conflictVersion = null;
    conflictEl.hidden = true;
  }

  async function reload() {
    const path = state.path;
    state.saved = view.state.doc.toString(); // discard on purpose: no "unsaved" question
    const ticket = startLoad();
    const answer = await read(path);
    if (!endLoad(ticket)) return;
    if (!answer.ok) {
      notice(answer.data.error || say("failed"));
      hideConflict();
      return;
    }
    load(answer.data.path, answer.data.text, answer.data.version);
    view.focus();
  }

  async function checkOpenFile() {
    // A change made in the terminal: reloaded at once when nothing here is unsaved, otherwise
    // the student chooses (the same question a stale save gets).
    if (!state.path || !conflictEl.hidden || state.inFlight) return;
    const answer = await read(state.path);
    // A file being opened meanwhile is the one that counts: this answer is about the old one.
    if (state.inFlight || !answer.ok || answer.data.version === state.version) return;
    if (dirty()) return showConflict(answer.data.version);
    const hadFocus = view.hasFocus;
    load(answer.data.path, answer.data.text, answer.data.version);
    notice(say("changedOutside", { path: state.path }));
    if (hadFocus) view.focus();
  }

  async function refresh() {
    await refreshTree();
    await checkOpenFile();
  }

  async function openWith(path, text) {
    if (keepsUnsaved()) return false;
    const ticket = startLoad();
    const current = await read(path);
    if (ticket !== state.inFlight) return false;
    let version = "";
    if (current.ok) {
      if (current.data.text === text) {
        endLoad(ticket);
        load(current.data.path, current.data.text, current.data.version);
        notice(say("opened", { path: current.data.path }));
        refreshTree();
        return true;
      }
      if (!window.confirm(say("askReplace", { path: current.data.path }))) {
        endLoad(ticket);
        load(current.data.path, current.data.text, current.data.version);
        return true;
      }
      version = current.data.version;
    } else if (current.status !== 404) {
      endLoad(ticket);
      notice(current.data.error || say("failed"));
      return false;
    }
    const answer = await write(path, text, version);
    if (!endLoad(ticket)) return false;
    if (!answer.ok) {
      notice(answer.data.error || say("failed"));
      return false;
    }
    load(answer.data.path, text, answer.data.version);
    notice(say("saved", { path: answer.data.path }));
    refreshTree();
    return true;
  }

  async function create(folder) {
    // Inside the chosen folder, if one is chosen: the student only types the name.
    const selectedButton = state.selected
      ? treeEl.querySelector(`[data-path="${CSS.escape(state.selected)}"]`)
      : null;
    const base = selectedButton && selectedButton.dataset.kind === "folder" ? state.selected + "/" : "";
    // A name typed in the prompt loses stray spaces at its ends (the server keeps names as
    // they come: `notas ` is another file than `notas`).
    const path = (window.prompt(say(folder ? "askNewFolder" : "askNewFile"), base) || "").trim();
    if (!path) return;
    // Asked before anything is made: declining keeps the open file, and makes nothing.
    if (!folder && keepsUnsaved()) return;
    // From the click on, the new file, not the one open now, gets what is typed next.
    const ticket = folder ? 0 : startLoad();
    const answer = await call(root.dataset.createUrl, {
      body: { ruta: path, tipo: folder ? "carpeta" : "archivo" },
    });
    if (!answer.ok) {
      if (ticket) endLoad(ticket);
      return notice(answer.data.error || say("failed"));
    }
    await refreshTree();
    if (!folder && ticket === state.inFlight) await open(answer.data.path, { asked: true });
  }

  async function rename(path = state.selected || state.path) {
    if (!path) return;
    const target = (window.prompt(say("askRename", { path }), path) || "").trim();
    if (!target || target === path) return;
    const answer = await call(root.dataset.renameUrl, { body: { ruta: path, nueva: target } });
    if (!answer.ok) return notice(answer.data.error || say("failed"));
    if (state.path === path) {
      state.path = answer.data.path;
      view.dispatch({ effects: language.reconfigure(languageFor(state.path)) });
      showDirty();
    } else if (state.path.startsWith(path + "/")) {
      state.path = answer.data.path + state.path.slice(path.length); // its folder moved
      showDirty();
    }
    state.selected = answer.data.path;
    await refreshTree();
  }

  async function remove(path = state.selected || state.path) {
    if (!path || !window.confirm(say("askDelete", { path }))) return;
    const answer = await call(root.dataset.deleteUrl, { body: { ruta: path } });
    if (!answer.ok) return notice(answer.data.error || say("failed"));
    if (state.path === path || state.path.startsWith(path + "/")) {
      state.path = "";
      state.saved = "";
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: "" },
        effects: lock.reconfigure(locked(true)),
      });
      for (const name of ["save", "rename", "delete"]) {
        $(`[data-editor-action="${name}"]`).disabled = true;
      }
      showDirty();
    }
    select(state.path);
    notice(say("deleted", { path }));
    await refreshTree();
  }

  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-editor-action]");
    if (!button) return;
    const action = button.dataset.editorAction;
    if (action === "save") save();
    else if (action === "new-file") create(false);
    else if (action === "new-folder") create(true);
    else if (action === "refresh") refresh();
    else if (action === "rename") rename();
    else if (action === "delete") remove();
    else if (action === "reload") reload();
    else if (action === "overwrite") save("*");
    else if (action === "dismiss") (hideConflict(), view.focus());
  });

  // Ctrl-S anywhere in the editor pane (the tree, the buttons), not only in the text.
  root.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return; // CodeMirror's own Mod-s already saved
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    }
  });

  window.addEventListener("beforeunload", (event) => {
    if (dirty()) event.preventDefault();
  });

  window.muelleEditor = {
    open,
    openWith,
    save,
    refresh,
    view,
    get path() {
      return state.path;
    },
    get version() {
      return state.version;
    },
    get dirty() {
      return dirty();
    },
  };
  document.dispatchEvent(new CustomEvent("muelle:editor-ready"));
}

setUp();
