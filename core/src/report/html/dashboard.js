// Sorting and filtering for every table.data on the page; no dependencies, works from file://.
// The fragment can preset them: #q=<text> filters, #sort=<column>[-desc] sorts the first table.
(function () {
  "use strict";
  function cellValue(row, i) {
    var c = row.cells[i];
    if (!c) return "";
    var v = c.getAttribute("data-v");
    return v !== null ? v : c.textContent.trim().toLowerCase();
  }
  function sortBy(table, i, descending) {
    var body = table.tBodies[0];
    var numeric = table.tHead.rows[0].cells[i].classList.contains("num");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, i), y = cellValue(b, i);
      var r = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      return descending ? -r : r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, j) {
      th.setAttribute("aria-sort", j === i ? (descending ? "descending" : "ascending") : "none");
    });
  }
  function filter(table, text, counter) {
    var q = text.trim().toLowerCase();
    var shown = 0, rows = table.tBodies[0].rows;
    for (var k = 0; k < rows.length; k++) {
      var hit = q === "" || rows[k].textContent.toLowerCase().indexOf(q) !== -1;
      rows[k].hidden = !hit;
      if (hit) shown++;
    }
    if (counter) counter.textContent = shown + " of " + rows.length + " rows";
  }
  function setup(table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(b);
      th.setAttribute("aria-sort", "none");
      b.addEventListener("click", function () {
        sortBy(table, i, th.getAttribute("aria-sort") === "ascending");
      });
    });
    var box = document.createElement("div");
    box.className = "filter";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = "Filter rows";
    input.setAttribute("aria-label", "Filter the table below");
    var counter = document.createElement("span");
    box.appendChild(input);
    box.appendChild(counter);
    table.parentNode.insertBefore(box, table);
    input.addEventListener("input", function () { filter(table, input.value, counter); });
    filter(table, "", counter);
    return input;
  }
  var tables = document.querySelectorAll("table.data");
  var inputs = Array.prototype.map.call(tables, setup);
  var params = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    var p = kv.split("=");
    if (p[0]) params[decodeURIComponent(p[0])] = decodeURIComponent(p[1] || "");
  });
  if (tables.length && params.sort) {
    var m = /^(\d+)(-desc)?$/.exec(params.sort);
    if (m) sortBy(tables[0], parseInt(m[1], 10), !!m[2]);
  }
  if (tables.length && params.q) {
    inputs[0].value = params.q;
    filter(tables[0], params.q, tables[0].previousSibling.lastChild);
  }
  document.body.setAttribute("data-ready", "yes");
})();
