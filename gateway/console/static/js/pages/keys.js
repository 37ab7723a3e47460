// Keys: every key with its tier, limits, cap and month-to-date spend; create, edit, rotate, revoke;
// the recent admin actions (the audit log) below.

import { admin } from "../api.js";
import { clear, errorBox, h, table } from "../dom.js";
import { limitText, usd, when } from "../format.js";
import { secretPanel } from "./secret.js";

const numberOrNull = input => input.value.trim() === "" ? null : Number(input.value);

export async function keys(target, current) {
  const notices = h("div", { id: "key-notices" });
  const list = h("div", { id: "keys-list" });
  const audit = h("div", { id: "audit-list" });
  target.append(h("h1", {}, "Keys"), notices, createForm(), list, h("h2", {}, "Recent admin actions"), audit);

  function show(error) { notices.replaceChildren(errorBox(error)); }

  function createForm() {
    const name = h("input", { name: "name", id: "create-name", maxlength: "200", placeholder: "what uses it" });
    const mode = h("select", { name: "mode", id: "create-mode" },
      h("option", { value: "test" }, "test (sandbox, never billed)"), h("option", { value: "live" }, "live (billed)"));
    const tier = h("select", { name: "tier", id: "create-tier" },
      ["free", "pro", "enterprise"].map(t => h("option", { value: t }, t)));
    const minute = h("input", { type: "number", min: "1", name: "minute_limit", id: "create-minute", placeholder: "tier's" });
    const day = h("input", { type: "number", min: "1", name: "day_limit", id: "create-day", placeholder: "tier's" });
    const cap = h("input", { type: "number", min: "0", step: "0.01", name: "monthly_cap_usd", id: "create-cap", placeholder: "none" });
    const operator = h("input", { type: "checkbox", name: "operator", id: "create-operator" });
    const form = h("form", { class: "panel grid-form", id: "create-key" },
      h("h2", {}, "New key"),
      h("label", {}, "Name ", name), h("label", {}, "Mode ", mode), h("label", {}, "Tier ", tier),
      h("label", {}, "Images / minute ", minute), h("label", {}, "Images / day ", day),
      h("label", {}, "Monthly cap (USD) ", cap), h("label", {}, operator, " operator key (sees upstream costs)"),
      h("button", { type: "submit", id: "create-submit" }, "Create key"));
    form.addEventListener("submit", async event => {
      event.preventDefault();
      const body = { name: name.value, mode: mode.value, tier: tier.value, operator: operator.checked };
      for (const [field, input] of [["minute_limit", minute], ["day_limit", day], ["monthly_cap_usd", cap]]) {
        const value = numberOrNull(input);
        if (value !== null) body[field] = value;
      }
      try {
        const created = await admin.post("keys", body);
        form.reset();
        notices.replaceChildren(secretPanel(created.secret, `Created ${created.key.id} (${created.key.name || "unnamed"})`));
        await reload();
      } catch (error) { show(error); }
    });
    return form;
  }

  function editRow(key, done) {
    const name = h("input", { value: key.name, maxlength: "200", class: "edit-name" });
    const minute = h("input", { type: "number", min: "1", value: key.minute_limit ?? "", placeholder: "tier's", class: "edit-minute" });
    const day = h("input", { type: "number", min: "1", value: key.day_limit ?? "", placeholder: "tier's", class: "edit-day" });
    const cap = h("input", { type: "number", min: "0", step: "0.01", value: key.monthly_cap_usd ?? "", placeholder: "none", class: "edit-cap" });
    const form = h("form", { class: "panel inline-form edit-key" },
      h("strong", {}, "Edit " + key.id), h("label", {}, "Name ", name), h("label", {}, "Images / minute ", minute),
      h("label", {}, "Images / day ", day), h("label", {}, "Monthly cap (USD) ", cap),
      h("button", { type: "submit", class: "edit-save" }, "Save"),
      h("button", { type: "button", onclick: done }, "Cancel"));
    form.addEventListener("submit", async event => {
      event.preventDefault();
      // Empty means "back to the tier's limit" / "no cap": sent as null, which the API reads as clear.
      const body = { name: name.value, minute_limit: numberOrNull(minute), day_limit: numberOrNull(day),
        monthly_cap_usd: numberOrNull(cap) };
      try {
        await admin.patch("keys/" + encodeURIComponent(key.id), body);
        done();
        await reload();
      } catch (error) { show(error); }
    });
    return form;
  }

  async function act(key, action) {
    const question = action === "revoke"
      ? `Revoke ${key.id} (${key.name || "unnamed"})? Requests with it fail at once, on every replica.`
      : `Give ${key.id} a new secret? The current one stops working at once.`;
    if (!window.confirm(question)) return;
    try {
      const result = await admin.post(`keys/${encodeURIComponent(key.id)}/${action}`);
      if (result.secret) notices.replaceChildren(secretPanel(result.secret, `New secret for ${key.id}`));
      else notices.replaceChildren(h("p", { class: "ok", role: "status" }, `Revoked ${key.id}.`));
      await reload();
    } catch (error) { show(error); }
  }

  async function reload() {
    const [data, events] = await Promise.all([admin.get("keys"), admin.get("audit", { limit: 20 })]);
    if (!current()) return;
    const editing = h("div", { id: "key-editor" });
    clear(list).append(table([
      { label: "name", cell: k => k.name || "—", class: "key-name" },
      { label: "id", cell: k => h("code", {}, k.id) },
      { label: "mode", cell: k => k.mode },
      { label: "tier", cell: k => k.tier },
      { label: "key", cell: k => h("code", {}, k.hint) },
      { label: "images / min", cell: k => limitText(k.effective_minute_limit, k.minute_limit), class: "num" },
      { label: "images / day", cell: k => limitText(k.effective_day_limit, k.day_limit), class: "num" },
      { label: "monthly cap", cell: k => k.monthly_cap_usd === null ? "none"
        : `${usd(k.monthly_cap_usd)} (used ${usd(k.cap_used_usd)})`, class: "num" },
      { label: "this month", cell: k => usd(k.month_to_date_usd) + (k.mode === "test" ? " (not billed)" : ""), class: "num" },
      { label: "state", cell: k => k.revoked ? "revoked " + when(k.revoked) : "active" },
      { label: "", cell: k => k.revoked ? "" : h("span", { class: "actions" },
        h("button", { type: "button", class: "edit", onclick: () => editing.replaceChildren(editRow(k, () => clear(editing))) }, "Edit"),
        h("button", { type: "button", class: "rotate", onclick: () => act(k, "rotate") }, "Rotate"),
        h("button", { type: "button", class: "revoke", onclick: () => act(k, "revoke") }, "Revoke")) },
    ], data.data, { id: "keys-table" }), editing);
    for (const row of list.querySelectorAll("tbody tr")) {
      const key = data.data[row.sectionRowIndex];
      if (key) row.dataset.keyId = key.id;
    }
    clear(audit).append(table([
      { label: "when", cell: e => when(e.at) }, { label: "action", cell: e => e.action },
      { label: "target", cell: e => h("code", {}, e.target) }, { label: "who", cell: e => h("code", {}, e.actor) },
      { label: "from", cell: e => e.address }, { label: "what", cell: e => JSON.stringify(e.detail) },
    ], events.data, { id: "audit-table" }));
  }

  await reload();
}
