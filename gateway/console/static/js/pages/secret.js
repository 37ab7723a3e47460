// A new key's secret, shown once with a copy button; the page forgets it when dismissed.

import { h } from "../dom.js";

export function secretPanel(secret, title, onDone) {
  const code = h("code", { id: "new-secret" }, secret);
  const status = h("span", { class: "muted", id: "copy-status" });
  const copy = h("button", { type: "button", id: "copy-secret" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = "Copied.";
    } catch {
      // Without clipboard access (an insecure origin), select it for the operator to copy by hand.
      const selection = window.getSelection();
      selection.selectAllChildren(code);
      status.textContent = "Selected: press Ctrl+C.";
    }
  });
  const panel = h("div", { class: "panel secret", role: "status" },
    h("h2", {}, title),
    h("p", {}, "This is the only time the secret is shown. Store it now."),
    h("p", {}, code, " ", copy, " ", status),
    h("button", { type: "button", id: "secret-done", onclick: () => { panel.remove(); onDone && onDone(); } }, "Done"));
  return panel;
}
