// Live progress of a send, from the JSON API's server-sent events (the session cookie goes
// with them). Each element with data-progress="URL" is kept up to date: its [data-count=STATE]
// cells, its <progress>, [data-field=left|rate|status]. Status labels come translated from the
// page (data-labels). Once the edition stops (sent, paused, cancelled, skipped) the stream is
// closed and, if that changed the state the page was drawn in, the page reloads so that its
// buttons fit the new state. Without JavaScript the page shows the figures of its load.
(function () {
  "use strict";
  var STOPPED = ["sent", "paused", "cancelled", "skipped"];
  document.querySelectorAll("[data-progress]").forEach(function (box) {
    if (!window.EventSource) return;
    var labels = JSON.parse(box.getAttribute("data-labels") || "{}");
    var initial = box.getAttribute("data-status");
    var source = new EventSource(box.getAttribute("data-progress"));
    source.addEventListener("progress", function (event) {
      var p = JSON.parse(event.data);
      box.querySelectorAll("[data-count]").forEach(function (cell) {
        cell.textContent = String(p.counts[cell.getAttribute("data-count")] || 0);
      });
      var bar = box.querySelector("progress");
      if (bar) {
        bar.max = Math.max(p.total, 1);
        bar.value = p.total - p.left;
      }
      var fields = { left: p.left, rate: p.rate_per_second, status: labels[p.status] || p.status };
      Object.keys(fields).forEach(function (name) {
        box.querySelectorAll("[data-field=" + name + "]").forEach(function (cell) {
          cell.textContent = String(fields[name]);
        });
      });
      box.setAttribute("data-live", p.status);
      if (STOPPED.indexOf(p.status) >= 0 && p.senders === 0) {
        source.close();
        if (p.status !== initial && box.hasAttribute("data-reload")) window.location.reload();
      }
    });
  });
})();
