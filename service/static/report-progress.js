// Yearly report page: poll the JSON status until the worker finishes, then reload the page.
(function () {
  var box = document.querySelector("[data-status-url]");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  var label = box.querySelector("[data-progress-label]");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (bar) { bar.value = s.progress; }
        if (label) { label.textContent = s.progress + "%"; }
        if (s.state === "done" || s.state === "failed") { window.location.reload(); return; }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
