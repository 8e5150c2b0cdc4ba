(function () {
  "use strict";
  // Sorting and filters of the board; without JavaScript the table reads as built (ranked).
  var table = document.getElementById("board");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var headers = Array.prototype.slice.call(table.querySelectorAll("thead th[data-key]"));

  function read(row, key, type) {
    var v = row.getAttribute("data-" + key);
    if (v === null || v === "") { return null; }
    if (type === "num") { var n = Number(v); return isNaN(n) ? null : n; }
    return v.toLowerCase();
  }

  function sortBy(th) {
    var key = th.getAttribute("data-key");
    var type = th.getAttribute("data-type");
    var now = th.getAttribute("aria-sort");
    // Scores start high-to-low, names and the rank column low-to-high.
    var first = (type === "text" || key === "rank") ? "ascending" : "descending";
    var dir = now === null ? first : (now === "ascending" ? "descending" : "ascending");
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var sorted = rows.slice().sort(function (a, b) {
      var x = read(a, key, type), y = read(b, key, type);
      var tie = Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
      if (x === null || y === null) { return x === y ? tie : (x === null ? 1 : -1); }
      if (x < y) { return -sign; }
      if (x > y) { return sign; }
      return tie;
    });
    sorted.forEach(function (r) { tbody.appendChild(r); });
  }

  headers.forEach(function (th) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (th.firstChild) { button.appendChild(th.firstChild); }
    th.appendChild(button);
    button.addEventListener("click", function () { sortBy(th); });
  });

  var controls = document.getElementById("controls");
  var shown = document.getElementById("shown");
  var filters = controls ? Array.prototype.slice.call(controls.querySelectorAll("select[data-filter]")) : [];

  function applyFilters() {
    var visible = 0;
    rows.forEach(function (row) {
      var keep = filters.every(function (f) {
        return !f.value || row.getAttribute("data-" + f.getAttribute("data-filter")) === f.value;
      });
      row.hidden = !keep;
      if (keep) { visible += 1; }
    });
    if (shown) { shown.textContent = "Showing " + visible + " of " + rows.length + " entries"; }
  }

  filters.forEach(function (f) { f.addEventListener("change", applyFilters); });
  if (controls) { controls.hidden = false; applyFilters(); }
})();
