// CareDesk follow-up figures: rate and satisfaction charts from the JSON the page embeds with
// json_script (no inline script: CSP script-src 'self').
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function draw() {
    if (typeof window.Chart === "undefined") return;
    var chart = data("followup-chart");
    var labels = data("followup-labels") || {};
    if (!chart) return;
    var rates = document.getElementById("chart-rates");
    if (rates) {
      new window.Chart(rates, {
        type: "bar",
        data: { labels: chart.labels, datasets: [
          { label: labels.coverage, data: chart.coverage, backgroundColor: "#9aa5b1" },
          { label: labels.completion, data: chart.completion, backgroundColor: "#1f6f8b" },
          { label: labels.contact, data: chart.contact, backgroundColor: "#4a9d6f" }
        ] },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: labels.rate } } },
                   plugins: { legend: { position: "bottom" } } }
      });
    }
    var sat = document.getElementById("chart-satisfaction");
    if (sat) {
      new window.Chart(sat, {
        type: "bar",
        data: { labels: chart.labels, datasets: [{ label: labels.satisfaction, data: chart.satisfaction, backgroundColor: "#e0a030" }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { y: { beginAtZero: true, max: 5, title: { display: true, text: labels.score } } },
                   plugins: { legend: { display: false } } }
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
