/* Sortable tables: click a column header to sort (numbers descending first, text ascending first).
   Cells carry their sort key in data-v; empty values always sort last. No data is read from the page
   except those attributes, and nothing is written back but row order and aria-sort. */
(function () {
  "use strict";

  function key(row, idx, numeric) {
    var cell = row.cells[idx];
    var v = cell.getAttribute("data-v");
    if (v === null) { v = cell.textContent; }
    if (numeric) {
      var x = parseFloat(v);
      return v === "" || isNaN(x) ? null : x;
    }
    return v === "" ? null : v.toLowerCase();
  }

  function sortTable(table, idx, dir) {
    var head = headRow(table);
    var th = head.cells[idx];
    var numeric = th.getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var keyed = Array.prototype.map.call(body.rows, function (r, i) {
      return { r: r, k: key(r, idx, numeric), i: i };
    });
    var sign = dir === "ascending" ? 1 : -1;
    keyed.sort(function (a, b) {
      if (a.k === null || b.k === null) {
        return a.k === b.k ? a.i - b.i : (a.k === null ? 1 : -1);
      }
      var c = a.k < b.k ? -1 : (a.k > b.k ? 1 : 0);
      return c !== 0 ? sign * c : a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (x, n) {
      frag.appendChild(x.r);
    });
    body.appendChild(frag);
    Array.prototype.forEach.call(head.cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }

  function headRow(table) {
    return table.tHead.rows[table.tHead.rows.length - 1];  /* the row above it only groups columns */
  }

  function setup(table) {
    Array.prototype.forEach.call(headRow(table).cells, function (th, idx) {
      if (th.classList.contains("nosort")) { return; }
      th.addEventListener("click", function () {
        var cur = th.getAttribute("aria-sort");
        var numeric = th.getAttribute("data-type") === "num";
        var dir = cur === "descending" ? "ascending"
          : cur === "ascending" ? "descending" : (numeric ? "descending" : "ascending");
        sortTable(table, idx, dir);
      });
    });
    table.setAttribute("data-sortable-ready", "1");
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
