// pyqmp schema doc: offline search over the index embedded in search-index.js.
// Results are built with DOM calls and textContent only: names and summaries come from
// the schema's doc comments and are never parsed as HTML.
(function () {
  "use strict";
  var LIMIT = 60;
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  var index = window.PYQMP_SEARCH_INDEX || [];
  var active = -1;

  function rank(entry, query) {
    var name = entry[0].toLowerCase();
    if (name === query) return 0;
    if (name.indexOf(query) === 0) return 1;
    if (name.indexOf(query) > 0) return 2;
    if (entry[3].toLowerCase().indexOf(query) >= 0) return 3;
    return -1;
  }

  function search(text) {
    var query = text.trim().toLowerCase();
    if (!query) return [];
    var found = [];
    for (var i = 0; i < index.length; i++) {
      var score = rank(index[i], query);
      if (score >= 0) found.push([score, index[i]]);
    }
    found.sort(function (a, b) {
      return a[0] - b[0] || (a[1][0] < b[1][0] ? -1 : a[1][0] > b[1][0] ? 1 : 0);
    });
    return found.slice(0, LIMIT).map(function (pair) { return pair[1]; });
  }

  function show(results) {
    while (list.firstChild) list.removeChild(list.firstChild);
    active = -1;
    if (!input.value.trim()) { list.hidden = true; return; }
    if (!results.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "No definition matches.";
      list.appendChild(none);
    }
    results.forEach(function (entry) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = entry[2];
      var code = document.createElement("code");
      code.textContent = entry[0];
      link.appendChild(code);
      item.appendChild(link);
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = entry[1];
      item.appendChild(kind);
      if (entry[3]) {
        var summary = document.createElement("span");
        summary.className = "summary";
        summary.textContent = entry[3];
        item.appendChild(summary);
      }
      list.appendChild(item);
    });
    list.hidden = false;
  }

  function move(step) {
    var items = list.querySelectorAll("li a");
    if (!items.length) return;
    active = (active + step + items.length) % items.length;
    list.querySelectorAll("li").forEach(function (li, i) {
      li.classList.toggle("active", i === active);
    });
    items[active].scrollIntoView({block: "nearest"});
  }

  input.addEventListener("input", function () { show(search(input.value)); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (event.key === "Escape") { input.value = ""; show([]); }
    else if (event.key === "Enter") {
      var links = list.querySelectorAll("li a");
      if (links.length) window.location.href = links[Math.max(active, 0)].href;
    }
  });
  // index.html?q=NAME opens with that search done (a link or a bookmark can carry one).
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { input.value = query; show(search(query)); }
})();
