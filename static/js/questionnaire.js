// Conditional display for questionnaire forms (templates/questionnaires/_items.html).
// Each fieldset with data-enable-when = {"behavior": "all"|"any", "when": [{item, op, value}]}
// is shown only when its conditions hold; the server applies the same rules on submit.
(function () {
  "use strict";
  function answerOf(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    var values = [];
    inputs.forEach(function (el) {
      var box = el.closest("fieldset.q-item");
      if (box && box.hidden) return;
      if ((el.type === "radio" || el.type === "checkbox")) { if (el.checked) values.push(el.value); }
      else if (el.value.trim() !== "") values.push(el.value.trim());
    });
    return values;
  }
  function test(values, op, expected) {
    if (op === "answered") return values.length > 0;
    if (op === "unanswered") return values.length === 0;
    if (values.length === 0) return false;
    var wanted = Array.isArray(expected) ? expected.map(String) : [String(expected)];
    if (op === "=" || op === "in") return values.some(function (v) { return wanted.indexOf(v) >= 0; });
    if (op === "!=") return values.every(function (v) { return wanted.indexOf(v) < 0; });
    var left = parseFloat(values[0]), right = parseFloat(expected);
    if (isNaN(left) || isNaN(right)) return false;
    return { ">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right }[op] || false;
  }
  function refresh(form) {
    form.querySelectorAll("fieldset.q-item").forEach(function (box) {
      var raw = box.getAttribute("data-enable-when");
      if (!raw) return;
      var rule = JSON.parse(raw);
      var results = rule.when.map(function (c) { return test(answerOf(form, c.item), c.op || "=", c.value); });
      var show = rule.behavior === "any" ? results.some(Boolean) : results.every(Boolean);
      box.hidden = !show;
    });
  }
  function init(root) {
    (root || document).querySelectorAll("[data-questionnaire]").forEach(function (block) {
      var form = block.closest("form") || block;
      if (form.dataset.qBound) { refresh(form); return; }
      form.dataset.qBound = "1";
      form.addEventListener("change", function () { refresh(form); });
      form.addEventListener("input", function () { refresh(form); });
      refresh(form);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
})();
