// JSON calls to the Flowyard API with Django's CSRF token.

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  // Fallback when the cookie is HttpOnly: base.html puts the token into htmx's hx-headers.
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch {
    return "";
  }
}

/** fetch() wrapper: returns {ok, status, data} with data parsed from JSON when possible. */
export async function request(method, url, body) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    return { ok: false, status: 0, data: { detail: `Network error: ${err.message}` } };
  }
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    // Not JSON (e.g. an HTML error page): keep a short detail.
    data = { detail: response.ok ? text : `${response.status} ${response.statusText}` };
  }
  return { ok: response.ok, status: response.status, data };
}

/** GET a JSON list, [] on any failure (optional data such as the registry must not block the editor). */
export async function getList(url) {
  if (!url) return [];
  const res = await request("GET", url);
  if (!res.ok) return [];
  if (Array.isArray(res.data)) return res.data;
  if (res.data && Array.isArray(res.data.results)) return res.data.results;
  return [];
}
