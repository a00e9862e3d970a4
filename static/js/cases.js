// Cases and bulk actions: row checkboxes, "select all", the bulk bar's fields for its action, and live rows that
// are not on the page yet (a case newly assigned to me, an item that joined this case) added at the top.
(function () {
  "use strict";

  function checks(scope) { return Array.from((scope || document).querySelectorAll("input[data-row-check]")); }

  function updateCount() {
    var badge = document.querySelector("[data-bulk-count]");
    if (!badge) return;
    var all = document.querySelector("[data-all-matching]");
    var n = checks().filter(function (c) { return c.checked; }).length;
    badge.textContent = all && all.checked ? "All that match" : n + " selected";
  }

  function showFieldsFor(select) {
    if (!select) return;
    var form = select.form;
    form.querySelectorAll("[data-bulk-for]").forEach(function (label) {
      label.hidden = label.dataset.bulkFor.split(" ").indexOf(select.value) < 0;
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      var table = target.closest("table");
      checks(table).forEach(function (c) { c.checked = target.checked; });
    }
    if (target.matches("[data-bulk-action]")) showFieldsFor(target);
    updateCount();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "bulk-form") return;
    var all = form.querySelector("[data-all-matching]");
    var any = checks().some(function (c) { return c.checked; });
    if (!any && !(all && all.checked)) {
      event.preventDefault();
      var badge = form.querySelector("[data-bulk-count]");
      if (badge) badge.textContent = "Select rows first";
    }
  });

  // A live row whose id is not on the page: add it at the top of the table it names (data-live-into).
  document.body.addEventListener("htmx:oobErrorNoTarget", function (event) {
    var row = event.detail && event.detail.content;
    if (!row || !row.dataset || !row.dataset.liveInto || row.getAttribute("hx-swap-oob") === "delete") return;
    var body = document.querySelector(row.dataset.liveInto);
    if (!body) return;
    row.removeAttribute("hx-swap-oob");
    row.classList.add("fresh");
    body.insertBefore(row, body.firstChild);
    htmx.process(row);
    var empty = document.getElementById("queue-empty");
    if (empty) empty.remove();
  });

  document.addEventListener("DOMContentLoaded", function () {
    showFieldsFor(document.querySelector("[data-bulk-action]"));
    updateCount();
  });
  document.addEventListener("htmx:afterSettle", function () {
    showFieldsFor(document.querySelector("[data-bulk-action]"));
    updateCount();
  });
})();
