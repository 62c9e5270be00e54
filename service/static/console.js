// Response-template picker: fill the reply box without reloading the page. Without JavaScript
// the same links reload the page with the box filled on the server (?template=…&into=…).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-template-url]");
    if (!link) { return; }
    var holder = link.closest("[data-into]");
    var box = holder && document.getElementById(holder.getAttribute("data-into"));
    if (!box || !window.fetch) { return; }
    event.preventDefault();
    fetch(link.getAttribute("data-template-url"), {credentials: "same-origin"})
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) { box.value = data.body; box.focus(); })
      .catch(function () { window.location.href = link.href; });
  });
}());
