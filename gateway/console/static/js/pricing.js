// The price of a request before it is sent, from the model's published pricing (GET /v1/models), as
// the server computes it for the fixed cases (server/catalog/pricing.py). Per-token models are priced by
// what the upstream reports afterwards, so for them this gives the rates, not a total.

const MEGAPIXEL = 1024 * 1024;
const MICROS = 1e6;

export function quote(model, { size, quality, n }) {
  if (model.price_model === "per_image") {
    const exact = model.pricing.find(p => p.size === size && p.quality === quality);
    const any = model.pricing.find(p => p.size === "any" && p.quality === quality);
    const unit = (exact || any || {}).usd_per_image;
    if (unit === undefined) return { text: "no price for this size and quality" };
    const approximate = !exact && !model.capabilities.sizes.includes(size);
    return { usd: Math.round(unit * MICROS) * n / MICROS, approximate };
  }
  if (model.price_model === "per_megapixel" && model.megapixel_pricing) {
    const [w, h] = size.split("x").map(Number);
    if (!w || !h) return { text: "enter a size as WxH" };
    const p = model.megapixel_pricing;
    const started = Math.max(1, Math.ceil(Number((w * h / MEGAPIXEL).toFixed(6))));
    const one = Math.round(p.first_megapixel_usd * MICROS) + (started - 1) * Math.round(p.additional_megapixel_usd * MICROS);
    // The delivered size may be rounded to the upstream's grid, and with it the megapixels started.
    return { usd: one * n / MICROS, approximate: true };
  }
  if (model.token_pricing) {
    const t = model.token_pricing;
    return { text: `per token: $${t.image_output_usd_per_1m}/1M image-output, $${t.text_input_usd_per_1m}/1M text-input tokens; the exact cost comes back in perf.cost_usd` };
  }
  return { text: "no published price" };
}
