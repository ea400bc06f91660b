// CareDesk satisfaction statistics: draws the dashboard charts from the JSON the page embeds with
// json_script (no inline script: CSP script-src 'self').
(function () {
  "use strict";
  var COLORS = ["#1f6f8b", "#4a9d6f", "#e0a030", "#c0504d", "#7b61a8", "#9aa5b1", "#2f9fb5", "#b5762f", "#5d7f3a", "#a33f6e", "#607080"];
  var SCORE_COLORS = { 0: "#7f1d1d", 1: "#b91c1c", 2: "#e0703a", 3: "#e0b030", 4: "#6aa66a", 5: "#1e6b3a" };
  function base(extra) {
    var o = { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" } } };
    for (var k in extra) o[k] = extra[k];
    return o;
  }
  function trend(canvas, points, labels) {
    if (!canvas || !points) return;
    new window.Chart(canvas, {
      data: {
        labels: points.map(function (p) { return p.period; }),
        datasets: [
          { type: "bar", label: labels.responses, data: points.map(function (p) { return p.responses; }), backgroundColor: "#c9dfe8", yAxisID: "y" },
          { type: "line", label: labels.mean, data: points.map(function (p) { return p.mean_score; }), borderColor: "#1f6f8b", backgroundColor: "#1f6f8b", yAxisID: "y1", tension: 0.2, pointRadius: 2 },
          { type: "line", label: labels.nps, data: points.map(function (p) { return p.nps; }), borderColor: "#e0a030", backgroundColor: "#e0a030", yAxisID: "y2", tension: 0.2, pointRadius: 2 }
        ]
      },
      options: base({ scales: {
        y: { beginAtZero: true, position: "left", ticks: { precision: 0 } },
        y1: { min: 1, max: 5, position: "right", grid: { drawOnChartArea: false } },
        y2: { min: -100, max: 100, display: false }
      } })
    });
  }
  function draw() {
    if (typeof window.Chart === "undefined") return;
    var el = document.getElementById("survey-stats-data");
    if (!el) return;
    var d = JSON.parse(el.textContent);
    var L = d.labels || {};
    trend(document.getElementById("chart-monthly"), d.monthly, L);
    trend(document.getElementById("chart-weekly"), d.weekly, L);
    var dim = document.getElementById("chart-dimensions");
    if (dim && d.dimensions) {
      new window.Chart(dim, { type: "bar",
        data: { labels: d.dimensions.map(function (x) { return x.name; }),
                datasets: [{ label: L.dimension, data: d.dimensions.map(function (x) { return x.mean; }), backgroundColor: COLORS }] },
        options: base({ plugins: { legend: { display: false } }, scales: { y: { min: 1, max: 5 } } }) });
    }
    var items = document.getElementById("chart-items");
    if (items && d.items && d.items.length) {
      var values = {};
      d.items.forEach(function (i) { i.distribution.forEach(function (b) { values[b.value] = values[b.value] || b.label; }); });
      var keys = Object.keys(values).map(Number).sort(function (a, b) { return a - b; });
      var datasets = keys.map(function (v, n) {
        return { label: String(values[v]), backgroundColor: SCORE_COLORS[v] || COLORS[n % COLORS.length],
          data: d.items.map(function (i) {
            var total = i.distribution.reduce(function (s, b) { return s + b.count; }, 0) || 1;
            var b = i.distribution.filter(function (x) { return x.value === v; })[0];
            return b ? Math.round(1000 * b.count / total) / 10 : 0;
          }) };
      });
      new window.Chart(items, { type: "bar",
        data: { labels: d.items.map(function (i) { return i.text.length > 16 ? i.text.slice(0, 16) + "…" : i.text; }), datasets: datasets },
        options: base({ indexAxis: "y", scales: { x: { stacked: true, max: 100, ticks: { callback: function (v) { return v + "%"; } } }, y: { stacked: true } } }) });
    }
    var themes = document.getElementById("chart-themes");
    if (themes && d.themes) {
      new window.Chart(themes, { type: "bar",
        data: { labels: d.themes.map(function (t) { return t.name; }),
                datasets: [{ label: L.comments, data: d.themes.map(function (t) { return t.comments; }), backgroundColor: "#1f6f8b" },
                           { label: L.negative, data: d.themes.map(function (t) { return t.negative; }), backgroundColor: "#c0504d" }] },
        options: base({ scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }) });
    }
    var kw = document.getElementById("chart-keywords");
    if (kw && d.keywords) {
      new window.Chart(kw, { type: "bar",
        data: { labels: d.keywords.slice(0, 20).map(function (k) { return k.word; }),
                datasets: [{ label: L.count, data: d.keywords.slice(0, 20).map(function (k) { return k.count; }), backgroundColor: "#4a9d6f" }] },
        options: base({ indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }) });
    }
    var dt = document.getElementById("chart-dept-themes");
    if (dt && d.department_themes) {
      var m = d.department_themes;
      new window.Chart(dt, { type: "bar",
        data: { labels: m.rows.map(function (r) { return r.department; }),
                datasets: m.themes.map(function (t, n) { return { label: t.name, backgroundColor: COLORS[n % COLORS.length],
                  data: m.rows.map(function (r) { return r.counts[n]; }) }; }) },
        options: base({ scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }) });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
