// Live print progress under the print button (issue 13): while a job is queued, printing or
// waiting for the printer, ask the agent for the jobs once a second and redraw the panel.
// Without JavaScript the panel shows the state when the page was made and a refresh button.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var panel = document.getElementById("print-status");
  if (!panel) return;
  var url = panel.getAttribute("data-poll");
  panel.setAttribute("data-live", "1");

  function tick() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        panel.innerHTML = data.html;
        // Once a second while printing; every 5 s while waiting for a printer that is off.
        var busy = data.jobs.some(function (j) {
          return j.state === "queued" || j.state === "printing";
        });
        if (data.active) setTimeout(tick, busy ? 1000 : 5000);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  if (panel.querySelector("[data-active]")) setTimeout(tick, 1000);
});
