// Live pages: a reconnecting websocket that turns the server's coarse "changed" notices into a `fy:changed`
// event on <body>; htmx fragments and JSON readers listen for it and re-read state from the server. The socket
// never carries data a page trusts, so a missed notice only delays an update: after a reconnect the page
// re-reads everything once.

const MIN_DELAY = 500;
const MAX_DELAY = 5000;

export class LiveSocket {
  constructor(path, { onNotice, onState } = {}) {
    this.path = path;
    this.onNotice = onNotice || (() => {});
    this.onState = onState || (() => {});
    this.delay = MIN_DELAY;
    this.wasOpen = false;
    this.closed = false;
    this.connect();
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  connect() {
    if (this.closed) return;
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = MIN_DELAY;
      this.onState("live");
      // Notices sent while we were away are lost: re-read once so the page catches up.
      if (this.wasOpen) this.onNotice({ type: "changed", reconnected: true });
      this.wasOpen = true;
    });
    socket.addEventListener("message", (event) => {
      let notice;
      try {
        notice = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onNotice(notice);
    });
    socket.addEventListener("close", (event) => {
      // 44xx: the server refused us (logged out, not a member, no such topology): reconnecting will not help.
      if (event.code >= 4400 && event.code < 4500) {
        this.onState("refused");
        return;
      }
      this.onState("offline");
      this.retry();
    });
  }

  retry() {
    if (this.closed) return;
    const wait = this.delay * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(MAX_DELAY, this.delay * 2);
    window.setTimeout(() => this.connect(), wait);
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close();
  }
}

// htmx regions re-read on `fy:refresh`: at most one every REFRESH_MS, and always once after the last notice of a
// burst (htmx's own throttle drops the trailing event, which would leave the page one change behind).
const REFRESH_MS = 700;
let lastRefresh = 0;
let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = window.setTimeout(() => {
    refreshTimer = null;
    lastRefresh = Date.now();
    document.body.dispatchEvent(new CustomEvent("fy:refresh"));
  }, Math.max(0, lastRefresh + REFRESH_MS - Date.now()));
}

const STATE_TEXT = { connecting: "Connecting…", live: "Live", offline: "Offline, reconnecting…", refused: "Not live" };

// Every element carrying data-live-socket="/ws/..." opens one socket and shows its state.
export function startLiveSockets(root = document) {
  for (const el of root.querySelectorAll("[data-live-socket]")) {
    if (el.liveSocket) continue;
    const setState = (state) => {
      el.dataset.state = state;
      const label = el.querySelector("[data-live-label]") || el;
      label.textContent = STATE_TEXT[state] || state;
      document.body.classList.toggle("is-offline", state === "offline");
    };
    setState("connecting");
    el.liveSocket = new LiveSocket(el.dataset.liveSocket, {
      onState: setState,
      onNotice: (notice) => {
        if (notice.type !== "changed") return;
        document.body.dispatchEvent(new CustomEvent("fy:changed", { detail: notice }));
        refreshSoon();
      },
    });
  }
}

// Checked boxes inside [data-keep-checked] survive htmx swaps of that region (bulk selection while streaming).
export function keepCheckedAcrossSwaps() {
  const saved = new WeakMap();
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || !target.matches("[data-keep-checked]")) return;
    const checked = new Set([...target.querySelectorAll("input[type=checkbox]:checked")].map((i) => i.value));
    saved.set(target, checked);
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    const checked = target && saved.get(target);
    if (!checked) return;
    for (const input of target.querySelectorAll("input[type=checkbox]")) {
      if (checked.has(input.value)) input.checked = true;
    }
    target.dispatchEvent(new Event("change", { bubbles: true }));
  });
}
