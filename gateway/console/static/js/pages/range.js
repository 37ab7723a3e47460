// The date-range (and mode) form several pages share.

import { h } from "../dom.js";
import { defaultRange } from "../format.js";

export function rangeForm(onChange, { modes = true } = {}) {
  const initial = defaultRange();
  const start = h("input", { type: "date", name: "start", value: initial.start, required: true });
  const end = h("input", { type: "date", name: "end", value: initial.end, required: true });
  const mode = h("select", { name: "mode" }, h("option", { value: "" }, "live and test"),
    h("option", { value: "live" }, "live"), h("option", { value: "test" }, "test"));
  const form = h("form", { class: "range" },
    h("label", {}, "From ", start), h("label", {}, "to ", end),
    modes ? h("label", {}, "Keys ", mode) : null,
    h("button", { type: "submit" }, "Show"));
  const values = () => ({ start: start.value, end: end.value, mode: modes ? mode.value : "" });
  form.addEventListener("submit", event => { event.preventDefault(); onChange(values()); });
  return { form, values };
}
