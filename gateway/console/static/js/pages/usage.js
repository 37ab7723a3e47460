// Usage: the ledger's totals per key, per key and model, and per provider for a date range, with the
// per key and model table as a CSV download (built here from the same numbers, nothing fetched again).

import { admin } from "../api.js";
import { clear, errorBox, h, table } from "../dom.js";
import { count, usd } from "../format.js";
import { rangeForm } from "./range.js";

const MONEY = ["cost_usd", "billed_usd", "upstream_cost_usd", "margin_usd"];

function totalsColumns() {
  return [
    { label: "requests", cell: r => count(r.requests), class: "num" },
    { label: "failed", cell: r => count(r.failed_requests), class: "num" },
    { label: "images", cell: r => count(r.images), class: "num" },
    { label: "list price", cell: r => usd(r.cost_usd), class: "num" },
    { label: "billed", cell: r => usd(r.billed_usd), class: "num" },
    { label: "upstream", cell: r => usd(r.upstream_cost_usd), class: "num" },
    { label: "margin", cell: r => usd(r.margin_usd), class: "num" },
  ];
}

export function csvCell(value) {
  let text = String(value ?? "");
  // A cell a spreadsheet would run as a formula is quoted as text (names are operator input).
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return /[",\n\r]/.test(text) ? '"' + text.replaceAll('"', '""') + '"' : text;
}

export function usageCsv(usage) {
  const header = ["start", "end", "key_id", "name", "mode", "model", "requests", "failed_requests", "images", ...MONEY];
  const lines = [header.join(",")];
  for (const r of usage.key_models) {
    lines.push([usage.start, usage.end, r.key_id, r.name, r.mode, r.model, r.requests, r.failed_requests, r.images,
      ...MONEY.map(m => r[m].toFixed(6))].map(csvCell).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

export async function usage(target, current) {
  const body = h("div", { id: "usage-body" });
  const range = rangeForm(values => load(values).catch(error => body.replaceChildren(errorBox(error))));
  target.append(h("h1", {}, "Usage"), range.form, body);

  async function load(values) {
    const data = await admin.get("usage", values);
    if (!current()) return;
    const download = h("a", { class: "button", id: "csv-download", download: `usage-${data.start}-${data.end}.csv` },
      "Download CSV");
    download.href = URL.createObjectURL(new Blob([usageCsv(data)], { type: "text/csv" }));
    clear(body).append(
      h("p", {}, `UTC days ${data.start} to ${data.end}. `, download),
      h("h2", {}, "Per key"),
      table([{ label: "key", cell: r => r.name || "—" }, { label: "id", cell: r => h("code", {}, r.key_id) },
        { label: "mode", cell: r => r.mode }, ...totalsColumns()], data.keys, { id: "usage-keys" }),
      h("h2", {}, "Per key and model"),
      table([{ label: "key", cell: r => r.name || r.key_id }, { label: "mode", cell: r => r.mode },
        { label: "model", cell: r => r.model }, ...totalsColumns()], data.key_models, { id: "usage-key-models" }),
      h("h2", {}, "Per provider"),
      table([{ label: "provider", cell: r => r.provider }, ...totalsColumns()], data.providers, { id: "usage-providers" }),
      h("h2", {}, "All keys"),
      table([{ label: "", cell: () => "total" }, ...totalsColumns()], [data.totals], { id: "usage-totals" }));
  }

  await load(range.values());
}
