// Keyboard shortcuts and the decision dialog of the review workspace. No dependencies beyond htmx.
(function () {
  "use strict";

  function rows() { return Array.from(document.querySelectorAll("#queue-rows tr.queue-row")); }
  function selected() { return document.querySelector("#queue-rows tr.queue-row.selected"); }
  function typing(event) {
    var el = event.target;
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function anyDialogOpen() { return document.querySelector("dialog[open]") !== null; }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); });
    if (!row) return;
    row.classList.add("selected");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(selected());
    var next = index < 0 ? 0 : Math.min(Math.max(index + step, 0), all.length - 1);
    select(all[next]);
  }

  function openDecision(row, decision) {
    var dialog = document.getElementById("decide-dialog");
    if (!dialog || !row || !row.dataset.decideUrl) return;
    dialog.dataset.url = row.dataset.decideUrl;
    dialog.dataset.row = row.id;
    dialog.querySelector("[data-decide-label]").textContent = row.dataset.label || "";
    dialog.querySelector("textarea").value = "";
    var radio = dialog.querySelector('input[name="decision"][value="' + decision + '"]');
    if (radio) radio.checked = true;
    dialog.showModal();
    dialog.querySelector("textarea").focus();
  }

  function submitDecision(dialog) {
    var form = dialog.querySelector("form");
    var choice = form.querySelector('input[name="decision"]:checked');
    if (!choice) return;
    var row = document.getElementById(dialog.dataset.row);
    var all = rows(), index = all.indexOf(row);
    select(all[index + 1] || all[index - 1] || row);
    htmx.ajax("POST", dialog.dataset.url, {
      source: row, target: row, swap: "outerHTML",
      values: { decision: choice.value, note: form.querySelector("textarea").value },
    });
    dialog.close();
  }

  function pickOnPage(decision) {
    var radio = document.querySelector('#decision-form input[name="decision"][value="' + decision + '"]');
    if (!radio) return false;
    radio.checked = true;
    document.querySelector("#decision-form textarea").focus();
    return true;
  }

  var DECISIONS = { f: "fraud", l: "legitimate", n: "needs_info" };

  function onKey(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var dialog = document.getElementById("decide-dialog");
      if (dialog && dialog.open) { event.preventDefault(); submitDecision(dialog); return; }
      var pageForm = document.getElementById("decision-form");
      if (pageForm && pageForm.contains(event.target)) { event.preventDefault(); pageForm.requestSubmit(); }
      return;
    }
    if (typing(event) || anyDialogOpen() || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key;
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if ((key === "Enter" || key === "o") && selected()) window.location = selected().dataset.href;
    else if (key === "c") { var claim = document.getElementById("claim-next-form"); if (claim) claim.requestSubmit(); }
    else if (key === "u") { var back = document.querySelector("[data-shortcut-back]"); if (back) window.location = back.href; }
    else if (key === "?") document.getElementById("help-dialog").showModal();
    else if (DECISIONS[key]) { if (!pickOnPage(DECISIONS[key])) openDecision(selected(), DECISIONS[key]); }
    else return;
    event.preventDefault();
  }

  function onClick(event) {
    var button = event.target.closest(".js-decide");
    if (button) { var row = button.closest("tr"); select(row); openDecision(row, button.dataset.decision); return; }
    if (event.target.closest("[data-dialog-close]")) { event.target.closest("dialog").close(); return; }
    if (event.target.closest("[data-help-open]")) { document.getElementById("help-dialog").showModal(); return; }
    var clicked = event.target.closest("#queue-rows tr.queue-row");
    if (clicked && !event.target.closest("a, button, form")) select(clicked);
  }

  function onSubmit(event) {
    var dialog = event.target.closest("#decide-dialog");
    if (dialog) { event.preventDefault(); submitDecision(dialog); }
  }

  function liveStatus(text, on) {
    var badge = document.getElementById("live-status");
    if (!badge) return;
    badge.textContent = text;
    badge.classList.toggle("on", on);
    badge.classList.toggle("off", !on);
  }

  function isQueueSocket(event) {
    var elt = event.target;
    return elt && elt.id === "queue-socket";
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);
  // A socket that the server or a Redis hiccup closes is reopened by htmx within a second or two: say
  // "Reconnecting" only when it stays closed longer than that, so a hiccup passes unseen.
  var QUIET_RECONNECT_MS = 3000;
  var reconnectNotice = null;
  document.addEventListener("htmx:wsOpen", function (e) {
    if (!isQueueSocket(e)) return;
    clearTimeout(reconnectNotice);
    reconnectNotice = null;
    liveStatus("Live", true);
  });
  document.addEventListener("htmx:wsClose", function (e) {
    if (!isQueueSocket(e) || reconnectNotice) return;
    reconnectNotice = setTimeout(function () { liveStatus("Reconnecting…", false); }, QUIET_RECONNECT_MS);
  });
  document.addEventListener("htmx:wsAfterMessage", function (e) {
    if (!isQueueSocket(e)) return;
    var empty = document.getElementById("queue-empty");
    if (empty && rows().length) empty.remove();
  });
})();
