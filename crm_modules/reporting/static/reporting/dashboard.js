// The sales dashboard: the page shell paints first and each card loads itself (hx-trigger
// "load"). Live updates: a socket of its own names the charts to fetch again;
// each card fetches its fragment (htmx) and app.js draws the new figure. After a dropped
// connection it reconnects with backoff and, once back, fetches every chart (catch-up).
(function () {
  "use strict";
  var BACKOFF_MIN = 1000;
  var BACKOFF_MAX = 30000;

  function refresh(key) {
    var card = document.getElementById("chart-card-" + key);
    if (!card || !window.htmx) return;
    // Each card is its own request source: htmx queues the requests of one source, keeping
    // only the last, so a refresh naming several charts must not share one (the body).
    window.htmx.ajax("GET", card.getAttribute("data-chart-url"), { source: card, target: card, swap: "outerHTML" });
  }

  function refreshAll() {
    document.querySelectorAll("[data-chart-url]").forEach(function (card) {
      refresh(card.getAttribute("data-chart-key"));
    });
  }

  function setLive(indicator, on) {
    if (!indicator) return;
    indicator.setAttribute("data-state", on ? "on" : "off");
    indicator.textContent = indicator.getAttribute(on ? "data-msg-on" : "data-msg-off");
  }

  function connect(root, attempt) {
    var indicator = root.querySelector("[data-live-indicator]");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + root.getAttribute("data-dashboard-ws"));
    socket.onopen = function () {
      setLive(indicator, true);
      if (attempt > 0) refreshAll();
      attempt = 0;
    };
    socket.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (!msg || typeof msg.event !== "string") return;
      if (msg.event === "dashboard.refresh") {
        ((msg.payload && msg.payload.charts) || []).forEach(refresh);
      } else if (msg.event === "dashboard.layout") {
        location.reload();
      }
    };
    socket.onclose = function (event) {
      setLive(indicator, false);
      if (event.code === 4401 || event.code === 4403) return;
      var delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, attempt));
      delay = delay / 2 + Math.random() * delay / 2;
      setTimeout(function () { connect(root, attempt + 1); }, delay);
    };
  }

  // A card that failed to load says so instead of "Loading…" forever.
  function loadFailed(event) {
    var card = event.detail && event.detail.elt;
    if (!card || !card.classList || !card.classList.contains("chart-card-loading")) return;
    var text = card.querySelector("[data-loading-text]");
    if (text) text.textContent = text.getAttribute("data-msg-failed");
    card.removeAttribute("aria-busy");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("htmx:responseError", loadFailed);
    document.body.addEventListener("htmx:sendError", loadFailed);
    var root = document.querySelector("[data-dashboard-ws]");
    if (root && "WebSocket" in window) connect(root, 0);
  });
})();
