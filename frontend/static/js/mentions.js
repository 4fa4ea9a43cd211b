// Rapport: the @mention picker of the UI kit (kit/mention_field.html, tenants.forms
// .MentionTextarea). On a text area marked data-mention="<suggestions url>", typing "@" and a
// few letters asks the server for matching members (an HTMX fragment of role="option" items)
// and shows them under the field: arrow keys move, Enter or Tab picks, Escape closes, a tap
// or a click picks. Picking writes "@<email> " in place of what was typed. Without this file
// the field is a plain text area and "@<email>" can be typed by hand.
(function () {
  "use strict";

  var DELAY_MS = 150;
  // "@" at the start or after a space or bracket, then up to 60 characters without a space.
  var TOKEN = /(^|[\s(\[{])@([^\s@]{0,60})$/;

  function tokenAt(field) {
    var caret = field.selectionStart;
    if (caret === null || caret !== field.selectionEnd) return null;
    var match = TOKEN.exec(field.value.slice(0, caret));
    if (!match) return null;
    return { start: caret - match[2].length - 1, end: caret, query: match[2] };
  }

  function setup(field) {
    if (field.getAttribute("data-mention-ready")) return;
    field.setAttribute("data-mention-ready", "1");
    var listId = field.getAttribute("aria-controls") || (field.id || "mention") + "-mentions";
    var list = document.getElementById(listId);
    if (!list) {
      list = document.createElement("ul");
      list.id = listId;
      list.className = "mention-list";
      list.setAttribute("role", "listbox");
      list.setAttribute("aria-label", field.getAttribute("data-mention-label") || "@");
      list.hidden = true;
      field.insertAdjacentElement("afterend", list);
    }
    field.setAttribute("aria-controls", listId);
    field.setAttribute("aria-autocomplete", "list");
    field.setAttribute("aria-expanded", "false");
    var timer = null;
    var token = null;
    var active = -1;
    var asked = 0;

    function options() {
      return Array.prototype.slice.call(list.querySelectorAll("[data-mention]"));
    }

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      token = null;
      field.setAttribute("aria-expanded", "false");
      field.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach(function (option, n) {
        option.setAttribute("aria-selected", n === active ? "true" : "false");
      });
      field.setAttribute("aria-activedescendant", all[active].id);
      if (all[active].scrollIntoView) all[active].scrollIntoView({ block: "nearest" });
    }

    function pick(option) {
      var now = tokenAt(field) || token;
      if (!now) return;
      var text = "@" + option.getAttribute("data-mention") + " ";
      var value = field.value;
      field.value = value.slice(0, now.start) + text + value.slice(now.end);
      var caret = now.start + text.length;
      close();
      field.focus();
      field.setSelectionRange(caret, caret);
    }

    function load() {
      token = tokenAt(field);
      if (!token) {
        close();
        return;
      }
      var mine = ++asked;
      var url = field.getAttribute("data-mention") + "?q=" + encodeURIComponent(token.query) +
        "&listbox=" + encodeURIComponent(listId);
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (mine !== asked || !token) return;
          // The fragment is our own server's template output, every value escaped there.
          list.innerHTML = html;
          list.hidden = false;
          field.setAttribute("aria-expanded", "true");
          highlight(0);
        });
    }

    field.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(load, DELAY_MS);
    });
    field.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" || event.key === "Tab") {
        var option = options()[active];
        if (option) {
          event.preventDefault();
          pick(option);
        }
      } else if (event.key === "Escape") {
        // Only the picker closes, not a dialog around the field.
        event.preventDefault();
        event.stopPropagation();
        close();
      }
    });
    // Keep the focus (and the caret) in the field while an option is pressed or tapped.
    list.addEventListener("pointerdown", function (event) { event.preventDefault(); });
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var option = event.target.closest && event.target.closest("[data-mention]");
      if (option) pick(option);
    });
    field.addEventListener("blur", function () { setTimeout(close, 200); });
  }

  function setupAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("textarea[data-mention], input[data-mention]").forEach(setup);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupAll(document);
    document.body.addEventListener("htmx:afterSettle", function (event) { setupAll(event.target); });
  });
})();
