// Deals board: drag a card by its handle to another stage, with a mouse, a pen or a finger
// (pointer events). Dropping fills the card's own move form and submits it, so the server path
// is the same as the keyboard and no-script path (the form's select and button).
(function () {
  "use strict";

  var drag = null;

  function start(event) {
    var handle = event.target.closest("[data-drag-handle]");
    if (!handle) return;
    var card = handle.closest("[data-deal]");
    if (!card) return;
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    drag = { card: card, handle: handle, x: event.clientX, y: event.clientY };
    card.classList.add("dragging");
  }

  function move(event) {
    if (!drag) return;
    var dx = event.clientX - drag.x;
    var dy = event.clientY - drag.y;
    drag.card.style.transform = "translate(" + dx + "px, " + dy + "px)";
  }

  function end(event) {
    if (!drag) return;
    var card = drag.card;
    drag = null;
    card.style.transform = "";
    card.classList.remove("dragging");
    card.style.visibility = "hidden";
    var below = document.elementFromPoint(event.clientX, event.clientY);
    card.style.visibility = "";
    var column = below && below.closest("[data-stage]");
    if (!column || column.contains(card)) return;
    var form = card.querySelector("form[data-move]");
    if (!form) return;
    form.querySelector("select[name=stage]").value = column.getAttribute("data-stage");
    form.submit();
  }

  function init() {
    document.querySelectorAll("[data-drag-handle]").forEach(function (handle) {
      handle.style.touchAction = "none"; // the handle drags; the rest of the card scrolls
    });
    document.addEventListener("pointerdown", start);
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", end);
    document.addEventListener("pointercancel", function () {
      if (drag) { drag.card.style.transform = ""; drag.card.classList.remove("dragging"); drag = null; }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
