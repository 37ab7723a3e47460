// The console's shell: sign-in, navigation by #/page, and one page module rendered at a time.

import { admin, ApiError, session } from "./api.js";
import { clear, errorBox } from "./dom.js";
import { gallery } from "./pages/gallery.js";
import { keys } from "./pages/keys.js";
import { models } from "./pages/models.js";
import { overview } from "./pages/overview.js";
import { playground } from "./pages/playground.js";
import { usage } from "./pages/usage.js";

const PAGES = { overview, keys, usage, gallery, playground, models };
const $ = id => document.getElementById(id);
let rendering = 0;

function signedIn(yes) {
  $("sign-in").hidden = yes;
  $("nav").hidden = !yes;
  $("sign-out").hidden = !yes;
  if (!yes) clear($("page"));
}

async function signIn(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  $("sign-in-error").textContent = "";
  session.setToken(token);
  try {
    await admin.get("keys");  // any admin call tells a good token from a bad one
  } catch (error) {
    session.clear();
    $("sign-in-error").textContent = error.status === 404
      ? "The admin API is not enabled on this server: set PERF_ADMIN_TOKEN and restart it."
      : error.status === 429
        ? `Too many failed sign-ins from this address; try again in ${error.retryAfter || 60} s.`
        : "That token was not accepted.";
    return;
  }
  $("token").value = "";
  signedIn(true);
  if (!location.hash || location.hash === "#/") location.hash = "#/overview";
  else route();
}

async function route() {
  if (!session.token()) return signedIn(false);
  signedIn(true);
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || "overview";
  const page = PAGES[name] || overview;
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.page === name);
  const target = clear($("page"));
  target.dataset.page = name;
  const mine = ++rendering;
  try {
    await page(target, () => mine === rendering);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      session.clear();
      signedIn(false);
      $("sign-in-error").textContent = "The admin token is no longer accepted; sign in again.";
      return;
    }
    if (mine === rendering) target.append(errorBox(error));
  }
}

$("sign-in-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", () => { session.clear(); signedIn(false); location.hash = ""; });
window.addEventListener("hashchange", route);
route();
