// The rule editor's completions: names of fields, features and lists offered as you type in a condition.
// <textarea data-completions="ID"> reads its names from <script type="application/json" id="ID"> (json_script:
// data, never run), a list of {"name", "type", "description"}. No inline script, no eval (the page's CSP).
(function () {
  "use strict";

  var WORD = /[A-Za-z_][A-Za-z0-9_.]*$/;
  var MAX_SHOWN = 12;

  function setUp(area) {
    var source = document.getElementById(area.dataset.completions);
    if (!source) return;
    var names = JSON.parse(source.textContent || "[]");
    var box = document.createElement("ul");
    box.className = "completions";
    box.id = area.id + "-completions";
    box.setAttribute("role", "listbox");
    box.hidden = true;
    area.setAttribute("aria-controls", box.id);
    area.insertAdjacentElement("afterend", box);
    var shown = [], chosen = 0, taking = false;

    function word() {
      var before = area.value.slice(0, area.selectionStart);
      var match = WORD.exec(before);
      return match ? match[0] : "";
    }

    function close() {
      box.hidden = true;
      shown = [];
    }

    function render() {
      box.textContent = "";
      shown.forEach(function (item, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === chosen ? "true" : "false");
        li.dataset.index = String(i);
        var name = document.createElement("span");
        name.className = "name";
        name.textContent = item.name;
        var type = document.createElement("span");
        type.className = "type";
        type.textContent = item.type || "";
        li.title = item.description || "";
        li.appendChild(name);
        li.appendChild(type);
        box.appendChild(li);
      });
      box.hidden = shown.length === 0;
    }

    function suggest() {
      if (taking) return;
      var typed = word().toLowerCase();
      if (!typed) return close();
      shown = names.filter(function (item) {
        var name = item.name.toLowerCase();
        return name.indexOf(typed) === 0 && name !== typed;
      }).slice(0, MAX_SHOWN);
      chosen = 0;
      render();
    }

    function take(index) {
      var item = shown[index];
      if (!item) return;
      var end = area.selectionStart;
      var start = end - word().length;
      area.value = area.value.slice(0, start) + item.name + area.value.slice(end);
      area.selectionStart = area.selectionEnd = start + item.name.length;
      close();
      area.focus();
      // The check as you type listens to input: tell it the condition changed.
      taking = true;
      area.dispatchEvent(new Event("input", { bubbles: true }));
      taking = false;
    }

    area.addEventListener("input", suggest);
    area.addEventListener("blur", function () { setTimeout(close, 150); });
    area.addEventListener("keydown", function (event) {
      if (box.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        chosen = (chosen + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
        render();
        event.preventDefault();
      } else if (event.key === "Enter" || event.key === "Tab") {
        take(chosen);
        event.preventDefault();
      } else if (event.key === "Escape") {
        close();
        event.preventDefault();
      }
    });
    box.addEventListener("mousedown", function (event) {
      var li = event.target.closest("li");
      if (li) {
        take(Number(li.dataset.index));
        event.preventDefault();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-completions]").forEach(setUp);
  });
})();
