/* Every Spanish text the scripts show comes from the panel template ([data-terminal-strings]). */

export function readStrings(root) {
  const strings = {};
  root.querySelectorAll("[data-terminal-strings] [data-key]").forEach((el) => {
    strings[el.dataset.key] = el.textContent.trim();
  });
  return strings;
}

/** strings[key] with each {name} replaced by values[name]. */
export function format(strings, key, values) {
  let text = strings[key] || "";
  for (const [name, value] of Object.entries(values || {})) {
    text = text.split("{" + name + "}").join(String(value));
  }
  return text;
}
