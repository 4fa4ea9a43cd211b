/* Inside the framed web form: tell the page that frames it how tall the form is. */
(function () {
  "use strict";
  if (window.parent === window) { return; }
  function tell() {
    window.parent.postMessage({ rapportFormHeight: document.documentElement.scrollHeight }, "*");
  }
  window.addEventListener("load", tell);
  window.addEventListener("resize", tell);
})();
