// Rapport: small progressive enhancements. No inline scripts (strict CSP friendly).
(function () {
  "use strict";

  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast" + (kind ? " toast-" + kind : "");
    el.textContent = text; // never innerHTML: payloads may carry user text
    el.setAttribute("data-testid", "live-toast");
    el.addEventListener("click", function () { el.remove(); });
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 8000);
  }

  function setRole(label) {
    document.querySelectorAll("[data-testid=my-role], [data-role-text]").forEach(function (el) {
      el.textContent = label;
    });
  }

  var bar = null;

  // Every socket event is re-emitted on <body> as a DOM event named "rapport:<event>", so a
  // fragment refreshes itself with hx-trigger="rapport:deal.moved from:body". After a dropped
  // connection the socket reconnects with exponential backoff and jitter; once back,
  // "rapport:reconnected" tells every live fragment to catch up on what it missed.
  var BACKOFF_MIN = 1000;
  var BACKOFF_MAX = 30000;

  function emit(name, detail) {
    document.body.dispatchEvent(new CustomEvent("rapport:" + name, { detail: detail || {} }));
  }

  function connect(path, attempt) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + path);
    var closedByServer = false;
    socket.onopen = function () {
      document.body.setAttribute("data-live", "on");
      if (attempt > 0) emit("reconnected", {});
      attempt = 0;
    };
    socket.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (!msg || typeof msg.event !== "string") return;
      var payload = msg.payload || {};
      if (msg.event === "role.changed") {
        setRole(payload.role_label);
        toast(bar.getAttribute("data-msg-role").replace("%s", payload.role_label), "success");
      } else if (msg.event === "session.revoked") {
        closedByServer = true;
        toast(bar.getAttribute("data-msg-revoked"), "error");
        document.body.setAttribute("data-access-revoked", "true");
      } else if (msg.event === "notification") {
        toast(payload.text || "", payload.kind);
      }
      emit(msg.event, { payload: payload, topic: msg.topic || null });
    };
    socket.onclose = function (event) {
      document.body.setAttribute("data-live", "off");
      if (closedByServer || event.code === 4401 || event.code === 4403) return;
      var delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, attempt));
      delay = delay / 2 + Math.random() * delay / 2;
      setTimeout(function () { connect(path, attempt + 1); }, delay);
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    bar = document.querySelector("[data-ws-url]");
    if (bar && "WebSocket" in window) connect(bar.getAttribute("data-ws-url"), 0);
    var toggle = document.querySelector("[data-menu-toggle]");
    var nav = document.getElementById("sidenav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    setTimeout(function () {
      document.querySelectorAll(".toast").forEach(function (el) { el.remove(); });
    }, 8000);
  });
})();
