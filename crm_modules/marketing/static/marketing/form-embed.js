/* Rapport embeddable form. Put on any page:
 *   <script src="https://WORKSPACE/static/marketing/form-embed.js" data-rapport-form="FORM_ID" async></script>
 * It draws the form where the script stands, and posts it with the page's utm_* parameters,
 * the referrer and the page's address. No cookies are sent. */
(function () {
  "use strict";
  var scripts = document.querySelectorAll("script[data-rapport-form]");
  Array.prototype.forEach.call(scripts, function (script) {
    if (script.getAttribute("data-rapport-done")) return;
    script.setAttribute("data-rapport-done", "1");
    var formId = script.getAttribute("data-rapport-form");
    var base = new URL(script.src).origin;
    var holder = document.createElement("div");
    holder.className = "rapport-form";
    script.parentNode.insertBefore(holder, script.nextSibling);

    function el(tag, attrs, text) {
      var node = document.createElement(tag);
      Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (text) node.textContent = text;
      return node;
    }

    function touch() {
      var params = new URLSearchParams(window.location.search);
      var out = {};
      ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (k) {
        out[k] = (params.get(k) || "").slice(0, 150);
      });
      out.referrer = (document.referrer || "").slice(0, 500);
      out.landing_page = window.location.href.slice(0, 500);
      return out;
    }

    fetch(base + "/marketing/f/" + encodeURIComponent(formId) + "/embed.json", {
      credentials: "omit", headers: { Accept: "application/json" }
    }).then(function (r) { return r.json(); }).then(function (spec) {
      var form = el("form", { novalidate: "novalidate", "data-testid": "embedded-form" });
      var message = el("p", { role: "alert" });
      form.appendChild(message);
      var hp = el("div", { "aria-hidden": "true", style: "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" });
      hp.appendChild(el("input", { type: "text", name: spec.honeypot, tabindex: "-1", autocomplete: "off" }));
      form.appendChild(hp);
      var errors = {};
      spec.fields.forEach(function (f) {
        var wrap = el("div", { "class": "field" });
        var id = "rapport-" + formId + "-" + f.target;
        wrap.appendChild(el("label", { "for": id }, f.label + (f.required ? " *" : "")));
        var input = f.target === "notes"
          ? el("textarea", { id: id, name: f.target, maxlength: String(f.max_length), rows: "4" })
          : el("input", { id: id, name: f.target, type: f.type, maxlength: String(f.max_length) });
        if (f.required) input.required = true;
        wrap.appendChild(input);
        errors[f.target] = el("p", { "class": "error" });
        wrap.appendChild(errors[f.target]);
        form.appendChild(wrap);
      });
      spec.consents.forEach(function (c) {
        var label = el("label");
        label.appendChild(el("input", { type: "checkbox", name: "consent_" + c.channel, value: "1" }));
        label.appendChild(document.createTextNode(" " + spec.consent_text.replace("%(channel)s", c.label)));
        var wrap = el("div", { "class": "field checkbox" });
        wrap.appendChild(label);
        form.appendChild(wrap);
      });
      var button = el("button", { type: "submit" }, spec.submit);
      form.appendChild(button);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        button.disabled = true;
        var data = new FormData(form);
        data.append("token", spec.token);
        var t = touch();
        Object.keys(t).forEach(function (k) { data.append(k, t[k]); });
        fetch(spec.action, {
          method: "POST", body: data, credentials: "omit", headers: { Accept: "application/json" }
        }).then(function (r) { return r.json(); }).then(function (result) {
          Object.keys(errors).forEach(function (k) { errors[k].textContent = ""; });
          if (result.ok) {
            holder.textContent = "";
            holder.appendChild(el("p", { role: "status" }, result.message));
            return;
          }
          message.textContent = result.message;
          Object.keys(result.errors || {}).forEach(function (k) {
            if (errors[k]) errors[k].textContent = result.errors[k];
          });
          button.disabled = false;
        }).catch(function () { button.disabled = false; });
      });
      holder.appendChild(form);
    });
  });
})();
