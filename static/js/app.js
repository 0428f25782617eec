// DMS: the little behaviour htmx does not give. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle]");
    if (!toggle) return;
    var target = document.getElementById(toggle.getAttribute("data-toggle"));
    if (!target) return;
    var open = target.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
  // The language switch returns to the address shown now, which htmx may have changed (?q=...).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("lang-switch")) return;
    var next = form.querySelector("input[name=next]");
    if (next) next.value = window.location.pathname + window.location.search;
  }, true);
  // Ask before destructive actions: <form data-confirm="...">.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
  // Image upload: show the chosen file before it is sent (<input type=file> next to img#image-preview).
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][accept^='image/']")) return;
    var preview = input.form && input.form.querySelector("img.preview");
    if (!preview) return;
    var file = input.files && input.files[0];
    if (preview.src && preview.src.indexOf("blob:") === 0) URL.revokeObjectURL(preview.src);
    if (file && file.type.indexOf("image/") === 0) {
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
    } else {
      preview.removeAttribute("src");
      preview.hidden = true;
    }
  });
  // The region picker (templates/macros/region_picker.html): its [data-region-value] input follows the
  // most specific select; Enter in its search box searches instead of submitting the surrounding form.
  function syncRegionPicker(event) {
    var picker = event.target.closest && event.target.closest("[data-region-picker]");
    if (!picker) return;
    var value = "";
    picker.querySelectorAll("select").forEach(function (select) { if (select.value) value = select.value; });
    var input = picker.querySelector("[data-region-value]");
    if (input) input.value = value;
  }
  document.addEventListener("change", syncRegionPicker);
  document.addEventListener("htmx:afterSwap", syncRegionPicker);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-region-search]")) {
      event.preventDefault();
    }
  });
})();
