// Rapport: small progressive enhancements for the UI kit. No inline scripts (strict CSP):
// behaviour hangs on data-* attributes the kit includes render. Every page works without this
// file, except opening side sheets, which then show in the page (see kit/sheet.html).
(function () {
  "use strict";

  var TOAST_MS = 8000;

  // --- Toasts (kit/toast.html) ---------------------------------------------------------------
  function closeButton(label) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "toast-close";
    button.setAttribute("data-toast-close", "");
    button.setAttribute("aria-label", label);
    // The same cross as the server-rendered toast's icon; no text, so the toast's text is its
    // message alone.
    var svgNs = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(svgNs, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("aria-hidden", "true");
    ["M18 6 6 18", "m6 6 12 12"].forEach(function (d) {
      var path = document.createElementNS(svgNs, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    button.appendChild(svg);
    return button;
  }

  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast" + (kind ? " toast-" + kind : "");
    el.setAttribute("data-testid", "live-toast");
    var span = document.createElement("span");
    span.className = "toast-text";
    span.textContent = text; // never innerHTML: payloads may carry user text
    el.appendChild(span);
    el.appendChild(closeButton(box.getAttribute("data-dismiss-label") || "Dismiss"));
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, TOAST_MS);
  }

  // --- Live events over the workspace socket ---------------------------------------------------
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
  // "rapport:connected" follows every opening, the first included: a fragment whose figures
  // may move between the page's rendering and the socket's subscription (a campaign report
  // while mail is being opened; the socket opens after the deferred scripts have loaded)
  // listens to it to catch up on that gap too.
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
      emit("connected", {});
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

  // --- Navigation drawer on a phone (kit/nav.html) ---------------------------------------------
  function setupNav() {
    var toggle = document.querySelector("[data-menu-toggle]");
    var nav = document.querySelector("[data-nav]");
    var backdrop = document.querySelector("[data-nav-backdrop]");
    if (!toggle || !nav) return;
    // While the drawer is open the page behind it is inert: Tab stays in the drawer.
    var behind = Array.prototype.filter.call(document.body.children, function (el) {
      return el !== nav && el !== backdrop && el.tagName !== "HEADER"
        && el.id !== "toasts" && el.tagName !== "SCRIPT";
    });
    function setOpen(open) {
      behind.forEach(function (el) { el.inert = open; });
      nav.classList.toggle("open", open);
      if (backdrop) backdrop.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) {
        var first = nav.querySelector("[aria-current=page]") || nav.querySelector("a");
        if (first) first.focus();
      }
    }
    toggle.addEventListener("click", function () { setOpen(!nav.classList.contains("open")); });
    nav.querySelectorAll("[data-nav-close]").forEach(function (button) {
      button.addEventListener("click", function () { setOpen(false); toggle.focus(); });
    });
    if (backdrop) backdrop.addEventListener("click", function () { setOpen(false); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  // --- Confirmation dialogs and side sheets (kit/confirm_dialog.html, kit/sheet.html) ----------
  function setupDialogs() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.hasAttribute || !form.hasAttribute("data-confirm")) return;
      var submitter = event.submitter;
      // The dialog's confirm button sends the form; its Cancel button is not a submit button.
      if (submitter && submitter.hasAttribute("data-confirmed")) return;
      var dialog = form.querySelector("dialog");
      if (!dialog || typeof dialog.showModal !== "function") return;
      event.preventDefault();
      dialog.showModal();
    });
    document.addEventListener("click", function (event) {
      var opener = event.target.closest && event.target.closest("[data-open-dialog]");
      if (!opener) return;
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") return;
      event.preventDefault();
      dialog.showModal();
    });
    // Cancel buttons (browsers without invoker commands: command="close").
    document.addEventListener("click", function (event) {
      var closer = event.target.closest && event.target.closest("[data-dialog-close]");
      if (!closer) return;
      var dialog = closer.closest("dialog");
      if (dialog && dialog.open) dialog.close();
    });
    // A click on the backdrop (outside the dialog box) closes a sheet, as Escape does.
    document.querySelectorAll("dialog.sheet").forEach(function (dialog) {
      dialog.addEventListener("click", function (event) {
        if (event.target === dialog) dialog.close();
      });
    });
  }

  // --- Tabs (kit/tabs.html, kit/tab_panel.html) ------------------------------------------------
  function select(tab, focus) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (other) {
      var on = other === tab;
      other.setAttribute("aria-selected", on ? "true" : "false");
      other.tabIndex = on ? 0 : -1;
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    });
    if (focus) tab.focus();
  }

  // Runs on load and again after HTMX swaps content in; each tab list is set up once.
  function setupTabs() {
    document.querySelectorAll("[data-tab-panel][data-initially-hidden]").forEach(function (panel) {
      panel.hidden = true;
      panel.removeAttribute("data-initially-hidden");
    });
    document.querySelectorAll("[data-tabs]:not([data-tabs-ready])").forEach(function (list) {
      list.setAttribute("data-tabs-ready", "");
      var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]:not([disabled])"));
      list.addEventListener("click", function (event) {
        var tab = event.target.closest("[role=tab]");
        if (tab && !tab.disabled) select(tab, false);
      });
      list.addEventListener("keydown", function (event) {
        var index = tabs.indexOf(document.activeElement);
        if (index < 0) return;
        var next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        else if (event.key === "Home") next = tabs[0];
        else if (event.key === "End") next = tabs[tabs.length - 1];
        if (next) {
          event.preventDefault();
          select(next, true);
        }
      });
    });
  }

  // --- Custom-field filters (sales/_custom_filters.html) -----------------------------------------
  // The picker shows the chosen field's inputs and those already in use; without JavaScript
  // every field's inputs show.
  function showCustomFilters(pick) {
    var box = pick.closest(".custom-filters");
    box.querySelectorAll("[data-custom-filter]").forEach(function (set) {
      var chosen = set.getAttribute("data-custom-filter") === pick.value;
      set.hidden = !(chosen || set.hasAttribute("data-used"));
    });
  }
  function setupCustomFilters() {
    document.querySelectorAll("[data-custom-filter-pick]:not([data-ready])").forEach(function (pick) {
      pick.setAttribute("data-ready", "");
      pick.addEventListener("change", function () {
        showCustomFilters(pick);
        var set = pick.closest(".custom-filters").querySelector(
          "[data-custom-filter='" + pick.value + "'] input, [data-custom-filter='" + pick.value + "'] select");
        if (set) set.focus();
      });
      showCustomFilters(pick);
      var form = pick.closest("form");
      if (form) form.addEventListener("formdata", leaveOutEmptyCustomFilters);
    });
  }
  // The inputs of every field are in the form, mostly empty: they stay out of the query, which
  // keeps the list's link short (without JavaScript they are sent and ignored).
  function leaveOutEmptyCustomFilters(event) {
    var data = event.formData;
    var names = [];
    data.forEach(function (value, name) {
      if (name.indexOf("cf_") === 0 && names.indexOf(name) < 0) names.push(name);
    });
    names.forEach(function (name) {
      var kept = data.getAll(name).filter(function (value) { return value !== ""; });
      data.delete(name);
      kept.forEach(function (value) { data.append(name, value); });
    });
  }

  // --- Charts (kit/chart.html): drawn only when Plotly is on the page ---------------------------
  // Colours and type follow the design tokens, so a chart matches light and dark mode.
  function chartLayout(layout) {
    var css = getComputedStyle(document.documentElement);
    var token = function (name) { return css.getPropertyValue(name).trim(); };
    var themed = {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: token("--color-text"), family: token("--font-sans") },
      colorway: [token("--color-accent"), token("--color-success"), token("--color-warning"),
        token("--color-danger"), token("--color-text-muted")],
      xaxis: { gridcolor: token("--color-border"), zerolinecolor: token("--color-border") },
      yaxis: { gridcolor: token("--color-border"), zerolinecolor: token("--color-border") },
    };
    Object.keys(layout || {}).forEach(function (key) { themed[key] = layout[key]; });
    return themed;
  }

  // A point whose customdata is one of our own paths opens it: the records behind a bar or
  // slice (drill-through). Anything else in customdata is ignored.
  function followPoint(event) {
    var point = event && event.points && event.points[0];
    var url = point && point.customdata;
    if (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") {
      location.assign(url);
    }
  }

  function setupCharts(root) {
    if (!window.Plotly) return;
    document.documentElement.classList.add("has-plotly");
    var scope = root && root.querySelectorAll ? root : document;
    var mounts = Array.prototype.slice.call(scope.querySelectorAll("[data-chart]"));
    if (scope.matches && scope.matches("[data-chart]")) mounts.push(scope);
    mounts.forEach(function (mount) {
      var source = document.getElementById(mount.getAttribute("data-chart"));
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(mount, figure.data, chartLayout(figure.layout), {
        // The mode bar's 22 px buttons are too small for touch; the table holds the data.
        responsive: true, displaylogo: false, displayModeBar: false,
      }).then(function () {
        mount.removeAttribute("aria-busy");
        if (mount.on) mount.on("plotly_click", followPoint);
        // The drawn chart replaces the table for sighted users; the table stays one click away.
        var fallback = mount.parentNode.querySelector(".chart-fallback");
        if (fallback) fallback.open = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bar = document.querySelector("[data-ws-url]");
    if (bar && "WebSocket" in window) connect(bar.getAttribute("data-ws-url"), 0);
    setupNav();
    setupDialogs();
    setupTabs();
    setupCustomFilters();
    setupCharts(document);
    document.body.addEventListener("htmx:afterSettle", setupTabs);
    // A chart fragment swapped in by htmx (a live refresh, a preview) is drawn like the page's.
    document.body.addEventListener("htmx:afterSettle", function (event) {
      setupCharts(event.target);
    });
    // Enter in a search-as-you-type box inside a larger form (data-search-in-form: the
    // segment builder's product picker) searches at once instead of submitting that form.
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key !== "Enter" || !target.matches || !target.matches("[data-search-in-form]")) return;
      event.preventDefault();
      if (window.htmx) window.htmx.trigger(target, "search");
    });
    // "/" jumps to the page's search box, as in most work tools, unless the user is typing.
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
      var target = event.target;
      if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
      var search = document.querySelector("[aria-keyshortcuts='/']");
      if (!search) return;
      event.preventDefault();
      search.focus();
    });
    document.addEventListener("click", function (event) {
      var close = event.target.closest && event.target.closest("[data-toast-close]");
      if (close) close.closest(".toast").remove();
    });
    setTimeout(function () {
      document.querySelectorAll("#toasts .toast").forEach(function (el) { el.remove(); });
    }, TOAST_MS);
  });
})();
