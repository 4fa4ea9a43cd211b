/* Rapport web form snippet: place
 *   <script src="https://<workspace host>/static/service/ticket-form.js"
 *           data-workspace="https://<workspace host>" async></script>
 * where the form should appear; it inserts the workspace's form in an iframe that grows with
 * its content. No cookies, no other request. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var origin = script.getAttribute("data-workspace") || new URL(script.src).origin;
  var frame = document.createElement("iframe");
  frame.src = origin.replace(/\/$/, "") + "/service/form/?embed=1";
  frame.title = script.getAttribute("data-title") || "Support";
  frame.style.width = "100%";
  frame.style.maxWidth = "40rem";
  frame.style.minHeight = "32rem";
  frame.style.border = "0";
  frame.setAttribute("loading", "lazy");
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    if (event.origin !== new URL(frame.src).origin || event.source !== frame.contentWindow) { return; }
    var height = event.data && event.data.rapportFormHeight;
    if (typeof height === "number" && height > 0 && height < 10000) {
      frame.style.height = Math.ceil(height) + "px";
    }
  });
})();
