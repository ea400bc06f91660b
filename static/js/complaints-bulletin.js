// CareDesk complaint bulletin: draws the charts from the JSON the page embeds with json_script
// (no inline script: CSP script-src 'self').
(function () {
  "use strict";
  var COLOURS = ["#1f6f8b", "#e0a030", "#4a9d6f", "#c0504d", "#8064a2", "#9aa5b1", "#2c3e50", "#f39c12"];
  function draw() {
    if (typeof window.Chart === "undefined") return;
    var el = document.getElementById("bulletin-charts");
    if (!el) return;
    var data = JSON.parse(el.textContent);
    function chart(id, type, d, opts) {
      var canvas = document.getElementById(id);
      if (!canvas || !d) return;
      new window.Chart(canvas, {
        type: type,
        data: { labels: d.labels, datasets: [{ data: d.values,
          backgroundColor: type === "bar" ? COLOURS[0] : COLOURS.slice(0, d.values.length) }] },
        options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
                                 plugins: { legend: { display: type !== "bar", position: "bottom" } } }, opts || {})
      });
    }
    var counts = { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };
    chart("chart-department", "bar", data.department, counts);
    chart("chart-category", "doughnut", data.category);
    chart("chart-channel", "pie", data.channel);
    chart("chart-steps", "bar", data.steps, { scales: { y: { min: 0, max: 100 } } });
    chart("chart-praise", "bar", data.praise, counts);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
