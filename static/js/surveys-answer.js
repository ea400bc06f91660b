// Patient answering page: save answers in the background when they change (the same form posted
// with autosave=1; the server keeps valid answers as a partial response). Without this script the
// page still works: every "下一页" posts and saves.
(function () {
  "use strict";
  function init() {
    var form = document.querySelector("form[data-autosave]");
    if (!form || !window.fetch || !window.FormData) return;
    var note = form.querySelector("[data-saved-note]");
    var timer = null;
    function save() {
      var data = new FormData(form);
      data.set("autosave", "1");
      data.set("move", "next");
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin",
                           headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { if (note) note.textContent = r.ok ? "已自动保存" : ""; })
        .catch(function () { if (note) note.textContent = ""; });
    }
    function later() { clearTimeout(timer); timer = setTimeout(save, 800); }
    form.addEventListener("change", later);
    form.addEventListener("focusout", function (e) {
      if (e.target && (e.target.tagName === "TEXTAREA" || e.target.type === "text")) later();
    });
  }
  document.addEventListener("DOMContentLoaded", init);
})();
