// Gallery: recent generations newest first, as thumbnails while their signed URLs are valid, with the
// prompt, model, size, cost, latency and key name; a click opens the full image and its perf details.

import { admin } from "../api.js";
import { clear, errorBox, h } from "../dom.js";
import { count, usd, when } from "../format.js";

const PAGE = 24;
export const safeUrl = url => /^https?:\/\//.test(url || "") ? url : "";

function perfBlock(g) {
  // The perf block the caller got, rebuilt from the ledger row, plus what the ledger knows besides.
  return {
    perf: { request_id: g.request_id, model_used: g.upstream_model || g.model, size: g.size, quality: g.quality,
      cost_usd: g.cost_usd, latency_ms: g.latency_ms },
    kind: g.kind, status: g.status, error_type: g.error_type, key: { id: g.key_id, name: g.key_name, mode: g.mode },
    model: g.model, provider: g.provider, n_requested: g.n_requested, n_delivered: g.n_delivered,
    billed_usd: g.billed_usd, upstream_cost_usd: g.upstream_cost_usd, user: g.user, created: when(g.created),
  };
}

function details(g, onClose) {
  const images = g.images.map(i => h("a", { href: safeUrl(i.url), target: "_blank", rel: "noopener noreferrer" },
    h("img", { src: safeUrl(i.url), alt: "generated image", class: "full" })));
  const expired = g.stored_images > g.images.length ? h("p", { class: "muted" },
    `${g.stored_images - g.images.length} image(s) expired and are no longer served.`) : null;
  return h("div", { class: "panel detail", id: "generation-detail", role: "dialog" },
    h("button", { type: "button", class: "close", onclick: onClose }, "Close"),
    h("h2", {}, g.model + " · " + g.size),
    h("p", { class: "prompt" }, g.prompt),
    h("div", { class: "full-images" }, images), expired,
    h("pre", { class: "perf" }, JSON.stringify(perfBlock(g), null, 2)));
}

function tile(g, open) {
  const first = g.images[0];
  const picture = first
    ? h("img", { src: safeUrl(first.url), alt: "thumbnail", class: "thumb", loading: "lazy" })
    : h("div", { class: "thumb none" },
      g.status !== "ok" ? g.error_type || g.status : g.stored_images ? "expired" : "no stored image");
  return h("button", { type: "button", class: "tile", dataset: { id: g.id }, onclick: () => open(g) },
    picture,
    h("span", { class: "prompt" }, g.prompt),
    h("span", { class: "meta" }, `${g.kind === "generation" ? "" : g.kind + " · "}${g.model} · ${g.size} · ${usd(g.cost_usd)} · ${count(g.latency_ms)} ms`),
    h("span", { class: "meta key-name" }, g.key_name || g.key_id));
}

export async function gallery(target, current) {
  const grid = h("div", { class: "gallery", id: "gallery-grid" });
  const detail = h("div", { id: "gallery-detail" });
  const more = h("button", { type: "button", id: "gallery-more", hidden: true }, "Load more");
  const status = h("select", { name: "status" }, h("option", { value: "" }, "any status"),
    ["ok", "error", "replayed"].map(s => h("option", { value: s }, s)));
  const model = h("input", { name: "model", placeholder: "any model" });
  const keyPick = h("select", { name: "key_id" }, h("option", { value: "" }, "any key"));
  const filters = h("form", { class: "range" }, h("label", {}, "Key ", keyPick), h("label", {}, "Model ", model),
    h("label", {}, "Status ", status), h("button", { type: "submit" }, "Show"));
  target.append(h("h1", {}, "Gallery"), filters, detail, grid, more);
  let cursor = null;

  const open = g => { detail.replaceChildren(details(g, () => clear(detail))); detail.scrollIntoView(); };

  async function page(reset) {
    if (reset) { cursor = null; clear(grid); }
    const data = await admin.get("generations", { key_id: keyPick.value, model: model.value.trim(),
      status: status.value, limit: PAGE, cursor });
    if (!current()) return;
    grid.append(...data.data.map(g => tile(g, open)));
    if (!grid.children.length) grid.append(h("p", { class: "empty" }, "No generations in the last 30 days."));
    cursor = data.next_cursor;
    more.hidden = !cursor;
  }

  filters.addEventListener("submit", event => { event.preventDefault(); page(true).catch(e => grid.replaceChildren(errorBox(e))); });
  more.addEventListener("click", () => page(false).catch(e => grid.append(errorBox(e))));
  const keys = await admin.get("keys");
  keyPick.append(...keys.data.map(k => h("option", { value: k.id }, `${k.name || k.id} (${k.mode})`)));
  await page(true);
}
