// didpool console: progressive enhancement only. Every page works without this script.
(function () {
  "use strict";
  // A file chosen in an <input type=file data-fill=ID> is read into the textarea #ID.
  document.querySelectorAll(".js-only[hidden]").forEach(function (el) { el.hidden = false; });
  document.querySelectorAll("input[type=file][data-fill]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.dataset.fill);
      var file = input.files && input.files[0];
      if (!target || !file) { return; }
      file.text().then(function (text) { target.value = text; });
    });
  });
  // "Select all" for the bulk selection.
  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    box.hidden = false;
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name=number][type=checkbox]").forEach(function (b) { b.checked = box.checked; });
    });
  });
  // A job's page polls its progress (JSON at data-poll) while it runs, instead of reloading.
  var job = document.querySelector("[data-poll]:not([data-finished=true])");
  if (job) {
    var bar = job.querySelector("progress");
    var label = job.querySelector("[data-progress-label]");
    var tick = function () {
      fetch(job.dataset.poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) { return; }
          if (bar) { bar.max = p.total; bar.value = p.done; }
          if (label) { label.textContent = p.done + " of " + p.total + " done (" + p.succeeded + " succeeded, " + p.failed + " failed)"; }
          if (p.finished) { window.location.reload(); } else { setTimeout(tick, 500); }
        })
        .catch(function () { setTimeout(tick, 2000); });
    };
    setTimeout(tick, 500);
  }
})();
