// Playground: pick a key (a test key by default: paste one, or create one here), pick a model, and its
// capabilities from GET /v1/models shape the form; the price shows before sending; the images and the
// perf block show after. Generations go through the public API exactly as a client's would.

import { admin, publicApi, session } from "../api.js";
import { clear, errorBox, h } from "../dom.js";
import { usd } from "../format.js";
import { quote } from "../pricing.js";
import { safeUrl } from "./gallery.js";

function keySection(onKey) {
  const input = h("input", { type: "password", id: "playground-key-input", placeholder: "pk_test_…", autocomplete: "off", spellcheck: "false" });
  const status = h("p", { id: "playground-key-status" });
  const use = h("button", { type: "button", id: "playground-use-key" }, "Use this key");
  const create = h("button", { type: "button", id: "playground-create-key" }, "Create a test key");
  const forget = h("button", { type: "button", id: "playground-forget-key" }, "Forget key");
  const showKey = () => {
    const key = session.playgroundKey();
    status.textContent = key ? `Using ${key.slice(0, 12)}…${key.slice(-4)}${key.startsWith("pk_live_") ? " (LIVE: billed)" : " (test: sandbox, never billed)"}` : "No key chosen yet.";
  };
  use.addEventListener("click", () => { session.setPlaygroundKey(input.value.trim()); input.value = ""; showKey(); onKey(); });
  forget.addEventListener("click", () => { session.setPlaygroundKey(null); showKey(); onKey(); });
  create.addEventListener("click", async () => {
    try {
      const created = await admin.post("keys", { mode: "test", tier: "free", name: "console playground" });
      session.setPlaygroundKey(created.secret);
      showKey();
      onKey();
    } catch (error) { status.replaceChildren(errorBox(error)); }
  });
  showKey();
  return h("section", { class: "panel" }, h("h2", {}, "Key"), status,
    h("div", { class: "inline-form" }, input, use, create, forget));
}

function field(label, control) {
  return h("label", {}, label + " ", control);
}

function options(values, selected) {
  return values.map(v => h("option", { value: v, selected: v === selected }, v));
}

function modelForm(model, key, results) {
  const caps = model.capabilities;
  const prompt = h("textarea", { id: "playground-prompt", rows: "3", maxlength: "4000", required: true, placeholder: "a red fox in fresh snow" });
  const size = h("select", { id: "playground-size" },
    options([...caps.sizes, ...(caps.size_auto ? ["auto"] : []), ...(caps.custom_sizes ? ["custom"] : [])], caps.sizes[0]));
  const custom = h("input", { id: "playground-custom-size", placeholder: "1536x640", hidden: true });
  const n = h("input", { id: "playground-n", type: "number", min: "1", max: String(caps.max_n), value: "1" });
  const quality = h("select", { id: "playground-quality" }, options(caps.qualities, caps.qualities[0]));
  const style = caps.styles.length ? h("select", { id: "playground-style" }, options(caps.styles, caps.styles[0])) : null;
  const format = h("select", { id: "playground-format" }, options(["url", "b64_json"], "url"));
  // The image file type, where the model lets the caller choose one (capabilities.output_formats).
  const formats = caps.output_formats || [];
  const output = formats.length > 1 ? h("select", { id: "playground-output-format" }, options(formats, formats[0])) : null;
  const price = h("p", { id: "playground-price", class: "price" });
  const submit = h("button", { type: "submit", id: "playground-generate" }, "Generate");
  const request = () => {
    const body = { prompt: prompt.value, model: model.id, n: Number(n.value), quality: quality.value,
      size: size.value === "custom" ? custom.value.trim() : size.value, response_format: format.value };
    if (style) body.style = style.value;
    if (output) body.output_format = output.value;
    return body;
  };
  const reprice = () => {
    custom.hidden = size.value !== "custom";
    const body = request();
    const q = quote(model, body);
    price.textContent = q.usd !== undefined ? `Price: ${q.approximate ? "about " : ""}${usd(q.usd)} for ${body.n} image(s)` : "Price: " + q.text;
  };
  const form = h("form", { class: "panel grid-form", id: "playground-form" },
    field("Prompt", prompt), field("Size", size), custom, field(`n (up to ${caps.max_n})`, n), field("Quality", quality),
    style ? field("Style", style) : null, output ? field("Output format", output) : null,
    field("Response format", format), price, submit);
  form.addEventListener("input", reprice);
  form.addEventListener("change", reprice);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    submit.disabled = true;
    clear(results).append(h("p", { class: "muted" }, "Generating…"));
    try {
      showResult(await publicApi.generate(key, request()), results);
    } catch (error) {
      clear(results).append(errorBox(error));
    } finally { submit.disabled = false; }
  });
  reprice();
  return form;
}

function showResult(response, results) {
  const images = response.data.map(item => item.url
    ? h("img", { src: safeUrl(item.url), alt: "generated image", class: "result" })
    // The console's CSP admits images only from our own URLs, so inline base64 is described, not drawn.
    : h("p", { class: "muted" }, `b64_json: ${Math.round(item.b64_json.length * 3 / 4 / 1024)} KB inline (choose url to see it here)`));
  clear(results).append(h("div", { class: "results", id: "playground-images" }, images),
    h("pre", { class: "perf", id: "playground-perf" }, JSON.stringify({ perf: response.perf, ...(response.usage ? { usage: response.usage } : {}) }, null, 2)));
}

export async function playground(target, current) {
  const modelArea = h("div", { id: "playground-models" });
  const results = h("div", { id: "playground-results" });
  target.append(h("h1", {}, "Playground"), keySection(() => load().catch(e => modelArea.replaceChildren(errorBox(e)))), modelArea, results);

  async function load() {
    clear(results);
    const key = session.playgroundKey();
    if (!key) { clear(modelArea).append(h("p", { class: "muted" }, "Choose a key to see the models it may use.")); return; }
    const models = (await publicApi.models(key)).data;
    if (!current()) return;
    const pick = h("select", { id: "playground-model" }, models.map(m => h("option", { value: m.id }, m.id)));
    const formArea = h("div");
    const show = () => formArea.replaceChildren(modelForm(models.find(m => m.id === pick.value), key, results));
    pick.addEventListener("change", () => { clear(results); show(); });
    clear(modelArea).append(h("section", { class: "panel" }, field("Model", pick)), formArea);
    show();
  }

  await load();
}
