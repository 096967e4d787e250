// Click (or Enter on) a column header to sort the table by it; again to reverse.
"use strict";
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, col) {
    th.tabIndex = 0;
    function sort() {
      var numeric = th.dataset.type === "num";
      var dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
      if (!numeric && !th.hasAttribute("aria-sort")) dir = 1;
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[col];
        var v = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
        if (!numeric) return v.trim().toLowerCase();
        var n = parseFloat(v);
        return isNaN(n) ? -Infinity : n;
      }
      rows.forEach(function (row, i) { row._k = key(row); row._i = i; });
      rows.sort(function (a, b) {
        if (a._k < b._k) return -dir;
        if (a._k > b._k) return dir;
        return a._i - b._i;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
    });
  });
});
