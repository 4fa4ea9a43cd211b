/* The campaign block editor: turns each textarea[data-block-editor] (the blocks as JSON) into a
   list of blocks with fields, and writes the JSON back on every change. Without JavaScript the
   JSON textarea stays and works. Labels come from the textarea's data attributes. */
(function () {
  "use strict";
  var FIELDS = {
    heading: ["text"],
    text: ["text"],
    image: ["src", "alt", "href"],
    button: ["text", "href"],
    divider: []
  };

  function setup(area) {
    var blocks;
    try { blocks = JSON.parse(area.value || "[]"); } catch (e) { return; }
    if (!Array.isArray(blocks)) return;
    var list = document.createElement("ol");
    list.className = "block-list";
    list.setAttribute("data-testid", "block-list-" + area.getAttribute("data-block-editor"));
    area.parentNode.insertBefore(list, area.nextSibling);
    var tools = document.createElement("div");
    tools.className = "actions";
    list.parentNode.insertBefore(tools, list.nextSibling);

    function save() { area.value = JSON.stringify(blocks, null, 1); }

    function field(block, name, multiline) {
      var label = document.createElement("label");
      label.textContent = name;
      var input = document.createElement(multiline ? "textarea" : "input");
      input.value = block[name] || "";
      if (multiline) input.rows = 3;
      input.addEventListener("input", function () { block[name] = input.value; save(); });
      label.appendChild(input);
      return label;
    }

    function draw() {
      list.textContent = "";
      blocks.forEach(function (block, index) {
        var item = document.createElement("li");
        item.className = "card";
        var head = document.createElement("strong");
        head.textContent = block.type;
        item.appendChild(head);
        (FIELDS[block.type] || []).forEach(function (name) {
          item.appendChild(field(block, name, block.type === "text" && name === "text"));
        });
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "button button-sm";
        remove.textContent = "×";
        remove.setAttribute("aria-label", (area.getAttribute("data-remove-label") || "Remove") + " " + block.type);
        remove.addEventListener("click", function () { blocks.splice(index, 1); save(); draw(); });
        item.appendChild(remove);
        list.appendChild(item);
      });
    }

    Object.keys(FIELDS).forEach(function (type) {
      var add = document.createElement("button");
      add.type = "button";
      add.className = "button button-sm";
      add.textContent = "+ " + type;
      add.setAttribute("data-testid", "add-" + type);
      add.addEventListener("click", function () {
        var block = { type: type };
        FIELDS[type].forEach(function (name) { block[name] = ""; });
        blocks.push(block);
        save();
        draw();
      });
      tools.appendChild(add);
    });
    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-block-editor]"), setup);
  });
})();
