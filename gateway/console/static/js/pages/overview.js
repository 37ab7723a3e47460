// Overview: the ledger's totals for a date range, per day as charts, errors by type, top models,
// and the limiter's refusals (requests answered 429 rate_limit_exceeded).

import { admin } from "../api.js";
import { dailyChart } from "../chart.js";
import { clear, errorBox, h, table } from "../dom.js";
import { count, daysBetween, usd } from "../format.js";
import { rangeForm } from "./range.js";

export async function overview(target, current) {
  const body = h("div", { id: "overview-body" });
  const range = rangeForm(values => load(values).catch(error => body.replaceChildren(errorBox(error))));
  target.append(h("h1", {}, "Overview"), range.form, body);

  async function load(values) {
    const usage = await admin.get("usage", values);
    if (!current()) return;
    clear(body);
    const t = usage.totals;
    const card = (id, label, value) => h("div", { class: "card", id }, h("span", { class: "label" }, label),
      h("span", { class: "value" }, value));
    body.append(
      h("p", { class: "muted" }, `UTC days ${usage.start} to ${usage.end}, from the usage ledger.`),
      h("div", { class: "cards" },
        card("total-requests", "Requests", count(t.requests)),
        card("total-failed", "Failed", count(t.failed_requests)),
        card("total-images", "Images", count(t.images)),
        card("total-billed", "Billed", usd(t.billed_usd)),
        card("total-upstream", "Upstream cost", usd(t.upstream_cost_usd)),
        card("total-margin", "Margin", usd(t.margin_usd)),
        card("total-list-price", "At list price", usd(t.cost_usd)),
        card("total-rate-limited", "Limiter refusals (429)", count(usage.rate_limited_requests))));
    const days = daysBetween(usage.start, usage.end);
    const byDay = new Map(usage.days.map(d => [d.date, d]));
    const series = field => days.map(day => (byDay.get(day) || {})[field] || 0);
    const volume = h("div", { class: "chart", id: "chart-volume" });
    const money = h("div", { class: "chart", id: "chart-money" });
    body.append(h("div", { class: "charts" }, volume, money));
    dailyChart(volume, days, [{ label: "requests", values: series("requests") },
      { label: "images", values: series("images") }], { title: "Requests and images per day" });
    dailyChart(money, days, [{ label: "billed", values: series("billed_usd") },
      { label: "upstream cost", values: series("upstream_cost_usd") },
      // Test keys are never billed; their list price shows what the same traffic would have cost.
      { label: "at list price", values: series("cost_usd") }], { title: "Money per day (USD)", money: true });
    body.append(
      h("div", { class: "columns" },
        h("section", {}, h("h2", {}, "Errors by type"),
          table([{ label: "type", cell: e => e.type }, { label: "requests", cell: e => count(e.requests), class: "num" }],
            usage.errors, { id: "errors-table" })),
        h("section", {}, h("h2", {}, "Top models"),
          table([{ label: "model", cell: m => m.model }, { label: "requests", cell: m => count(m.requests), class: "num" },
            { label: "images", cell: m => count(m.images), class: "num" },
            { label: "billed", cell: m => usd(m.billed_usd), class: "num" }],
          usage.models.slice(0, 10), { id: "models-table" }))));
  }

  await load(range.values());
}
