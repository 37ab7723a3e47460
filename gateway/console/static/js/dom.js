// Building the page without innerHTML: every piece of data becomes a text node, so a prompt or a key
// name containing markup is shown as the characters it is, never parsed.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function table(columns, rows, attrs = {}) {
  // columns: [{label, cell: row => Node|string, class?}]
  return h("table", attrs,
    h("thead", {}, h("tr", {}, columns.map(c => h("th", { class: c.class }, c.label)))),
    h("tbody", {}, rows.length
      ? rows.map(row => h("tr", {}, columns.map(c => h("td", { class: c.class }, c.cell(row)))))
      : h("tr", {}, h("td", { colspan: String(columns.length), class: "empty" }, "Nothing in this range."))));
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, describeError(error));
}

export function describeError(error) {
  if (error && error.type) return `${error.type}: ${error.message}`;
  return String(error && error.message ? error.message : error);
}
