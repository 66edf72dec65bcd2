/* The office charts (sync_server/web/office/charts.py): daily bars drawn by the vendored
 * Chart.js from <script type="application/json" id="chart-data">. The table under the charts
 * holds the same numbers, so nothing is lost without JavaScript. */
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  // "2026-11-22" -> "22/11", the way Vietnamese readers write a date.
  var labels = data.days.map(function (d) {
    return d.slice(8, 10) + "/" + d.slice(5, 7);
  });
  var colours = { batches: "#1f6f3f", scans: "#1f4f6f", flagged: "#c0261a" };

  function dataset(key) {
    return {
      label: data.labels[key],
      data: data[key],
      backgroundColor: colours[key],
      borderWidth: 0,
    };
  }

  function draw(id, keys) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return;
    }
    new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: keys.map(dataset) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 0 } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { display: keys.length > 1 } },
      },
    });
    canvas.setAttribute("data-drawn", "1");
  }

  draw("chart-batches", ["batches"]);
  draw("chart-scans", ["scans", "flagged"]);
})();
