// Questionnaire builder item form: show the option, number-range and red-flag fields only for the
// kinds that use them (elements with data-kinds). The server ignores the hidden fields anyway.
(function () {
  "use strict";
  function refresh(form) {
    var kind = form.querySelector('[name="kind"]');
    if (!kind) return;
    form.querySelectorAll("[data-kinds]").forEach(function (group) {
      var kinds = group.getAttribute("data-kinds").split(" ");
      group.hidden = kinds.indexOf(kind.value) < 0;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("item-form");
    if (!form) return;
    form.addEventListener("change", function () { refresh(form); });
    refresh(form);
  });
})();
