// The upload job page: while the job's websocket is open it pushes progress; polling (every 2 s, hx-trigger on
// #job-progress) takes over whenever it is not. htmx's trigger filters need eval, which the CSP forbids, so the
// poll is cancelled here instead while the socket is live.
(function () {
  "use strict";

  var live = false;

  function show(on) {
    live = on;
    var badge = document.getElementById("job-live");
    if (!badge) return;
    badge.textContent = on ? "Live" : "Polling";
    badge.className = on ? "badge active" : "badge";
  }

  document.body.addEventListener("htmx:wsOpen", function () { show(true); });
  document.body.addEventListener("htmx:wsClose", function () { show(false); });
  document.body.addEventListener("htmx:wsError", function () { show(false); });
  document.body.addEventListener("htmx:confirm", function (event) {
    var source = event.detail && event.detail.elt;
    if (live && source && source.id === "job-progress") event.preventDefault();
  });
})();
