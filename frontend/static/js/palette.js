// The command palette: Ctrl/⌘-K (or the search button in the top bar) on every workspace page.
// Jump to a record found by the workspace's search, or run a quick action, keyboard only.
(function () {
  "use strict";

  var keepFocus = false;
  var dialog, input, actions, results, openButton, searchUrl, mode, pending, seq = 0, timer;

  function options() {
    return Array.prototype.filter.call(
      dialog.querySelectorAll(".palette-option"),
      function (el) { return !el.hidden; }
    );
  }

  function selected() { return dialog.querySelector(".palette-option[aria-selected=true]"); }

  function select(option) {
    dialog.querySelectorAll(".palette-option[aria-selected=true]").forEach(function (el) {
      el.setAttribute("aria-selected", "false");
    });
    if (!option) { input.removeAttribute("aria-activedescendant"); return; }
    option.setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  function filterActions() {
    var text = input.value.trim().toLowerCase();
    actions.querySelectorAll(".palette-action").forEach(function (el) {
      var label = el.querySelector(".palette-label").textContent.toLowerCase();
      el.hidden = mode !== "default" || (text !== "" && label.indexOf(text) === -1);
    });
  }

  function refresh() {
    filterActions();
    var first = options()[0];
    var current = selected();
    if (!current || current.hidden) select(first || null);
  }

  function search() {
    var text = input.value.trim();
    var mine = ++seq;
    if (!searchUrl || text === "") { results.innerHTML = ""; refresh(); return; }
    var url = searchUrl + "?palette=1&q=" + encodeURIComponent(text);
    if (mode === "pick_contact") url += "&only=contacts";
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (mine !== seq) return;  // an older answer arriving after a newer one
        results.innerHTML = html;
        select(null);
        refresh();
      });
  }

  function setMode(next) {
    mode = next;
    var label = dialog.querySelector("label[for=palette-input]");
    var contact = next === "pick_contact";
    label.textContent = label.getAttribute(contact ? "data-label-contact" : "data-label-default");
    input.placeholder = contact ? input.getAttribute("data-placeholder-contact") : label.textContent;
    input.value = "";
    results.innerHTML = "";
    refresh();
  }

  function open() {
    if (dialog.open) { input.focus(); return; }
    pending = null;
    setMode("default");
    dialog.showModal();
    input.focus();
  }

  function logForm() { return document.querySelector("form[data-testid=log-activity]"); }

  // A record page's own log form, set to a call and focused.
  function prepareCall() {
    var form = logForm();
    if (!form) return false;
    var kind = form.querySelector("[name=kind]");
    if (kind) kind.value = "call";
    form.scrollIntoView({ block: "center" });
    var subject = form.querySelector("[name=subject]") || kind;
    if (subject) subject.focus();
    return true;
  }

  function choose(option) {
    if (!option) return;
    if (option.classList.contains("palette-action")) {
      if (option.getAttribute("data-mode") === "pick_contact") {
        if (logForm()) { keepFocus = true; dialog.close(); prepareCall(); return; }
        pending = option.getAttribute("data-anchor");
        setMode("pick_contact");
        input.focus();
        return;
      }
      window.location.assign(option.getAttribute("data-href"));
      return;
    }
    var href = option.getAttribute("data-href");
    window.location.assign(mode === "pick_contact" && pending ? href + "#" + pending : href);
  }

  function move(step) {
    var list = options();
    if (!list.length) return;
    var index = list.indexOf(selected());
    index = index === -1 ? 0 : (index + step + list.length) % list.length;
    select(list[index]);
  }

  document.addEventListener("DOMContentLoaded", function () {
    dialog = document.getElementById("palette");
    if (!dialog) return;
    input = document.getElementById("palette-input");
    actions = document.getElementById("palette-options");
    results = document.getElementById("palette-results");
    openButton = document.querySelector("[data-palette-open]");
    searchUrl = dialog.getAttribute("data-search-url");
    mode = "default";

    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey &&
          event.key.toLowerCase() === "k") {
        event.preventDefault();
        open();
      }
    });
    if (openButton) openButton.addEventListener("click", open);
    input.addEventListener("input", function () {
      filterActions();
      refresh();
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { event.preventDefault(); move(1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); move(-1); }
      else if (event.key === "Enter") { event.preventDefault(); choose(selected()); }
    });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) { dialog.close(); return; }
      var option = event.target.closest && event.target.closest(".palette-option");
      if (option) choose(option);
    });
    dialog.addEventListener("close", function () {
      if (!keepFocus && openButton) openButton.focus();
      keepFocus = false;
    });
    if (window.location.hash === "#log-call") prepareCall();
  });
})();
