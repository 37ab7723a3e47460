// Calls to the admin API and the public API. The admin token lives in sessionStorage (this tab only,
// gone when it closes) and travels only in the Authorization header: never in a URL, never logged.

const TOKEN = "perf.console.admin-token";
const PLAY_KEY = "perf.console.playground-key";

export class ApiError extends Error {
  constructor(status, type, message, retryAfter) {
    super(message);
    this.status = status;
    this.type = type;
    this.retryAfter = retryAfter;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN),
  setToken: value => sessionStorage.setItem(TOKEN, value),
  playgroundKey: () => sessionStorage.getItem(PLAY_KEY),
  setPlaygroundKey: value => value ? sessionStorage.setItem(PLAY_KEY, value) : sessionStorage.removeItem(PLAY_KEY),
  clear: () => { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(PLAY_KEY); },
};

async function call(path, { method = "GET", body, bearer } = {}) {
  const headers = { "Accept": "application/json" };
  if (bearer) headers["Authorization"] = "Bearer " + bearer;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.type || "http_" + response.status,
      error.message || response.statusText, error.retry_after);
  }
  return data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(name, value);
  const text = search.toString();
  return text ? "?" + text : "";
}

export const admin = {
  get: (path, params = {}) => call("/admin/v1/" + path + query(params), { bearer: session.token() }),
  post: (path, body = {}) => call("/admin/v1/" + path, { method: "POST", body, bearer: session.token() }),
  patch: (path, body) => call("/admin/v1/" + path, { method: "PATCH", body, bearer: session.token() }),
};

export const publicApi = {
  models: key => call("/v1/models", { bearer: key }),
  generate: (key, body) => call("/v1/images/generations", { method: "POST", body, bearer: key }),
};
