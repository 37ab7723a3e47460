// The official openai Node SDK against the gateway: one edit (several images and a mask, uploaded as
// Node sends them: files first, chunked) and one streamed generation. Prints one JSON line per call
// for tests/e2e/test_node_sdk.py to check. Usage: node images.mjs <base_url> <api_key> <input.png> <mask.png>
import fs from "node:fs";
import OpenAI, { toFile } from "openai";

const [baseURL, apiKey, imagePath, maskPath] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
const file = (path, name) => toFile(fs.createReadStream(path), name, { type: "image/png" });

const edited = await client.images.edit({
  model: "gpt-image-2",
  image: [await file(imagePath, "a.png"), await file(imagePath, "b.png")],
  mask: await file(maskPath, "mask.png"),
  prompt: "a red door",
  size: "1024x1024",
  output_format: "webp",
});
console.log(JSON.stringify({ call: "edit", size: edited.size, output_format: edited.output_format,
                             url: edited.data[0].url, perf: edited.perf }));

const stream = await client.images.generate({ model: "gpt-image-2", prompt: "a lantern", stream: true,
                                              partial_images: 2, quality: "low" });
const events = [];
for await (const event of stream) {
  events.push({ type: event.type, index: event.partial_image_index ?? null, bytes: event.b64_json.length,
                perf: event.perf ?? null });
}
console.log(JSON.stringify({ call: "stream", events }));

try {
  await client.images.edit({ model: "gpt-image-2", image: await toFile(Buffer.from("not an image"), "x.png"),
                             prompt: "p" });
  console.log(JSON.stringify({ call: "bad", status: 200 }));
} catch (error) {
  console.log(JSON.stringify({ call: "bad", status: error.status, param: error.param ?? null,
                               type: error.type ?? null, request_id: error.requestID ?? null }));
}
