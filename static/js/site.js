// Small behaviours shared by every page, kept out of the HTML: the Content-Security-Policy runs no inline script
// and no inline event handler (onclick=, onchange=, hx-on).
(function () {
  "use strict";

  // <select data-autosubmit>: choosing an option sends its form (a Show button stays for those without JavaScript).
  document.addEventListener("change", function (event) {
    var select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.submit();
  });

  // <input data-select-on-click>: one click selects the whole value, ready to copy.
  document.addEventListener("click", function (event) {
    var input = event.target.closest && event.target.closest("input[data-select-on-click]");
    if (input) input.select();
  });

  // <input data-mirror="other-id">: two inputs that show one value, whichever moves (a slider and its number box).
  document.addEventListener("input", function (event) {
    var source = event.target;
    var other = source.dataset && source.dataset.mirror && document.getElementById(source.dataset.mirror);
    if (other) other.value = source.value;
    if (!source.id) return;
    document.querySelectorAll("[data-mirror]").forEach(function (mirror) {
      if (mirror.dataset.mirror === source.id) mirror.value = source.value;
    });
  });
})();
