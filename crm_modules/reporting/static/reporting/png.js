// "Download PNG" on a chart card (reporting/_chart.html): the vendored Plotly renders the
// card's figure, read from its json_script element, to a PNG on a white background; the
// bytes become a Blob behind an object URL that a temporary <a download> in <body> opens.
// The click starts it, so the download belongs to the user's gesture; the temporary link
// lives outside the card, so a live refresh that swaps the card meanwhile cannot cancel it.
// The data: URL is decoded here rather than fetched: the CSP's connect-src has no data:.
(function () {
  "use strict";
  var WIDTH = 1200;
  var HEIGHT = 700;
  var KEEP_URL_MS = 60000;

  function toBlob(dataUrl) {
    var comma = dataUrl.indexOf(",");
    var binary = atob(dataUrl.slice(comma + 1));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return new Blob([bytes], { type: "image/png" });
  }

  function printable(layout) {
    var copy = {};
    Object.keys(layout || {}).forEach(function (key) { copy[key] = layout[key]; });
    copy.paper_bgcolor = "#ffffff";
    copy.plot_bgcolor = "#ffffff";
    copy.font = { color: "#1f2328", family: "system-ui, sans-serif" };
    copy.width = WIDTH;
    copy.height = HEIGHT;
    return copy;
  }

  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, KEEP_URL_MS);
  }

  function failed(button) {
    button.removeAttribute("aria-busy");
    var message = button.getAttribute("data-msg-failed");
    var status = button.parentNode.querySelector("[data-png-status]");
    if (!status) {
      status = document.createElement("span");
      status.className = "muted";
      status.setAttribute("role", "status");
      status.setAttribute("data-png-status", "");
      button.parentNode.appendChild(status);
    }
    status.textContent = message;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-png-for]");
    if (!button) return;
    event.preventDefault();
    if (button.getAttribute("aria-busy") === "true") return;
    var source = document.getElementById(button.getAttribute("data-png-for"));
    if (!window.Plotly || !source) { failed(button); return; }
    var figure;
    try { figure = JSON.parse(source.textContent); } catch (e) { failed(button); return; }
    var name = button.getAttribute("download") || "chart.png";
    button.setAttribute("aria-busy", "true");
    window.Plotly.toImage(
      { data: figure.data || [], layout: printable(figure.layout) },
      { format: "png", width: WIDTH, height: HEIGHT }
    ).then(function (dataUrl) {
      save(toBlob(dataUrl), name);
      button.removeAttribute("aria-busy");
    }, function () { failed(button); });
  });
})();
