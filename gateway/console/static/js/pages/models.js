// Models: each public model's capabilities, prices and lifecycle (which deployment serves it, which
// stand by, which shut down, with warnings), and the providers: configured or not, recent errors.

import { admin } from "../api.js";
import { append, h, table } from "../dom.js";
import { count, usd } from "../format.js";

function prices(model) {
  if (model.price_model === "per_image") {
    return h("ul", { class: "plain" }, model.pricing.map(p => h("li", {}, `${p.size} ${p.quality}: ${usd(p.usd_per_image)}`)));
  }
  if (model.megapixel_pricing) {
    const p = model.megapixel_pricing;
    return `first MP ${usd(p.first_megapixel_usd)}, each further MP ${usd(p.additional_megapixel_usd)}`;
  }
  if (model.token_pricing) {
    const t = model.token_pricing;
    return `per 1M tokens: image out $${t.image_output_usd_per_1m}, text in $${t.text_input_usd_per_1m}, image in $${t.image_input_usd_per_1m}`;
  }
  return "—";
}

function capabilities(caps) {
  return h("ul", { class: "plain" },
    h("li", {}, "sizes: " + caps.sizes.join(", ") + (caps.custom_sizes ? " + custom WxH" : "")),
    h("li", {}, `n up to ${caps.max_n}`), h("li", {}, "quality: " + caps.qualities.join(", ")),
    caps.styles.length ? h("li", {}, "style: " + caps.styles.join(", ")) : null,
    (caps.output_formats || []).length ? h("li", {}, "formats: " + caps.output_formats.join(", ")) : null,
    (caps.backgrounds || []).length ? h("li", {}, "background: " + caps.backgrounds.join(", ")) : null,
    caps.edit_max_images ? h("li", {}, `edits: up to ${caps.edit_max_images} image(s)${caps.mask ? ", mask" : ""}`) : null,
    caps.variations ? h("li", {}, "variations") : null);
}

function deployments(list) {
  return h("ul", { class: "plain" }, list.map(d => h("li", { class: "state-" + d.state },
    `${d.state}: ${d.provider} ${d.upstream_model}`,
    d.shutdown_on ? ` (shuts down ${d.shutdown_on})` : "", d.successor ? ` → ${d.successor}` : "",
    d.gone_reason ? ` — ${d.gone_reason}` : "")));
}

export async function models(target, current) {
  const [catalog, providers] = await Promise.all([admin.get("models"), admin.get("providers")]);
  if (!current()) return;
  const warnings = catalog.data.filter(e => e.warning);
  append(target, [
    h("h1", {}, "Models"),
    h("p", { class: "muted" }, `Lifecycle as of ${catalog.today}.`),
    warnings.length ? h("div", { class: "panel warning", id: "lifecycle-warnings" },
      h("h2", {}, "Lifecycle warnings"),
      h("ul", {}, warnings.map(e => h("li", {}, h("strong", {}, e.model.id + ": "), e.warning)))) : null,
    table([
      { label: "model", cell: e => h("strong", {}, e.model.id) },
      { label: "status", cell: e => e.model.lifecycle.status },
      { label: "served by", cell: e => e.model.lifecycle.served_by ? `${e.model.lifecycle.served_by.provider} ${e.model.lifecycle.served_by.upstream_model}` : "nothing" },
      { label: "capabilities", cell: e => capabilities(e.model.capabilities) },
      { label: "price", cell: e => prices(e.model) },
      { label: "deployments", cell: e => deployments(e.deployments) },
    ], catalog.data, { id: "models-catalog" }),
    h("h2", {}, "Providers"),
    h("p", { class: "muted" }, `Live-key requests in the last ${providers.window_seconds / 3600} hours. Circuits: "closed", or each deployment whose breaker is open or probing.`),
    table([
      { label: "provider", cell: p => p.name },
      { label: "configured", cell: p => p.configured ? "yes" : `no (set ${p.env_hint})` },
      { label: "requests", cell: p => count(p.recent_requests), class: "num" },
      { label: "errors", cell: p => count(p.recent_errors), class: "num" },
      { label: "by type", cell: p => p.recent_errors_by_type.map(e => `${e.type} ${e.requests}`).join(", ") || "—" },
      { label: "breaker", cell: p => p.breaker_state },
      { label: "models", cell: p => p.models.join(", ") },
    ], providers.data, { id: "providers-table" })]);
}
