// CareDesk value analysis: draws the RFM band bar chart and the Pareto curve from the JSON the
// page embeds with json_script (no inline script: CSP script-src 'self').
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function draw() {
    if (typeof window.Chart === "undefined") return;
    var labels = data("value-labels") || {};
    var bands = data("value-bands");
    var bandCanvas = document.getElementById("chart-bands");
    if (bands && bandCanvas) {
      new window.Chart(bandCanvas, {
        type: "bar",
        data: {
          labels: bands.map(function (b) { return b.label; }),
          datasets: [{ label: labels.patients || "", data: bands.map(function (b) { return b.count; }),
                       backgroundColor: ["#1f6f8b", "#4a9d6f", "#e0a030", "#9aa5b1"] }]
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: { legend: { display: false } },
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
    }
    var pareto = data("value-pareto");
    var paretoCanvas = document.getElementById("chart-pareto");
    if (pareto && paretoCanvas) {
      new window.Chart(paretoCanvas, {
        type: "line",
        data: { datasets: [
          { label: labels.curve || "", data: pareto.points, borderColor: "#1f6f8b", backgroundColor: "#1f6f8b",
            pointRadius: 2, tension: 0 },
          { label: labels.even || "", data: [{ x: 0, y: 0 }, { x: 100, y: 100 }], borderColor: "#9aa5b1",
            borderDash: [4, 4], pointRadius: 0 },
          { label: labels.share || "", data: [{ x: 0, y: 80 }, { x: 100, y: 80 }], borderColor: "#e0a030",
            borderDash: [2, 3], pointRadius: 0 }
        ] },
        options: { responsive: true, maintainAspectRatio: false, animation: false, parsing: false,
                   scales: { x: { type: "linear", min: 0, max: 100, title: { display: true, text: labels.x || "" } },
                             y: { min: 0, max: 100, title: { display: true, text: labels.y || "" } } },
                   plugins: { legend: { position: "bottom" } } }
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
