// Sort tables by a clicked header and filter their rows by words typed in a box. No dependencies.
"use strict";
(function () {
  function key(td) {
    var v = td ? td.getAttribute("data-sort") : null;
    if (v === null) { v = td ? td.textContent : ""; }
    var n = parseFloat(v);
    return { empty: v === "", num: !isNaN(n) && isFinite(v), n: n, s: v.toLowerCase() };
  }
  function compare(a, b) {
    if (a.empty !== b.empty) { return a.empty ? 1 : -1; }
    if (a.num && b.num) { return a.n - b.n; }
    return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, col) {
      th.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c = compare(key(r1.cells[col]), key(r2.cells[col]));
          return dir * c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        var text = r.textContent.toLowerCase();
        r.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      });
    });
  });
})();
