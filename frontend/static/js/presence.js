/* Live presence on a ticket page: who else is viewing it or writing a reply (ADR 0037).
   The page opens the presence socket, names its ticket with a heartbeat, and says "replying"
   while the reply box has text and focus. */
(function () {
  "use strict";
  var HEARTBEAT = 15000;
  var IDLE = 10000;

  function start(box) {
    var ticket = parseInt(box.getAttribute("data-ticket"), 10);
    var me = parseInt(box.getAttribute("data-me"), 10);
    var list = box.querySelector("[data-presence-list]");
    var viewing = box.getAttribute("data-label-viewing");
    var replying = box.getAttribute("data-label-replying");
    var state = "viewing";
    var socket = null;
    var idle = null;
    var attempt = 0;

    function send() {
      if (socket && socket.readyState === 1) {
        socket.send(JSON.stringify({ type: "presence", ticket: ticket, state: state }));
      }
    }
    function setState(next) {
      if (next !== state) { state = next; send(); }
    }
    function render(people) {
      list.textContent = "";
      people.forEach(function (person) {
        if (person.user === me) return;
        var item = document.createElement("li");
        item.setAttribute("data-user", String(person.user));
        item.setAttribute("data-state", person.state);
        item.className = "badge" + (person.state === "replying" ? " badge-warning" : "");
        item.textContent = (person.state === "replying" ? replying : viewing).replace("%s", person.name);
        list.appendChild(item);
      });
      box.hidden = list.children.length === 0;
    }
    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + box.getAttribute("data-ws-url"));
      socket.onopen = function () { attempt = 0; send(); };
      socket.onmessage = function (event) {
        var msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (msg && msg.event === "presence" && msg.payload.ticket === ticket) render(msg.payload.people || []);
      };
      socket.onclose = function (event) {
        if (event.code === 4401 || event.code === 4403) return;
        attempt += 1;
        setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, attempt)));
      };
    }
    connect();
    setInterval(send, HEARTBEAT);
    var reply = document.querySelector("[data-testid=reply-form] textarea");
    if (reply) {
      reply.addEventListener("input", function () {
        setState(reply.value.trim() ? "replying" : "viewing");
        clearTimeout(idle);
        idle = setTimeout(function () { setState("viewing"); }, IDLE);
      });
      reply.addEventListener("blur", function () { setState("viewing"); });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-presence]");
    if (box && "WebSocket" in window) start(box);
  });
})();
