/**
 * The page's own script (plain browser JavaScript, kept as text: it runs in the report, not in
 * Node). It reads the embedded data with JSON.parse, draws the charts with vegaEmbed and builds
 * the subject table with DOM calls only (textContent / setAttribute; never innerHTML), so no
 * user-derived text is ever parsed as HTML. Results land in window.__cstReport for tests.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  "use strict";
  var state = window.__cstReport = { charts: {}, errors: [], ready: false };
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var charts = JSON.parse(document.getElementById("report-charts").textContent);
  var cols = data.cols;
  var rows = data.rows.map(function (r) {
    var o = {};
    for (var i = 0; i < cols.length; i++) o[cols[i]] = r[i];
    return o;
  });
  var MAX_SHOWN = 1000;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- charts
  function drawCharts() {
    var pending = [];
    charts.forEach(function (c) {
      var target = document.getElementById("chart-" + c.id);
      if (typeof vegaEmbed !== "function") {
        state.charts[c.id] = "error: the Vega runtime is not in this page";
        target.textContent = "chart unavailable: the Vega runtime was not found when the report was written";
        return;
      }
      var spec = JSON.parse(JSON.stringify(c.spec));
      spec.datasets = { subjects: rows };
      var renderer = rows.length > 3000 ? "canvas" : "svg";
      pending.push(
        vegaEmbed(target, spec, { actions: false, renderer: renderer }).then(
          function (res) { state.charts[c.id] = "ok"; state.views = state.views || {}; state.views[c.id] = res.view; },
          function (err) { state.charts[c.id] = "error: " + err.message; state.errors.push(String(err.message)); target.textContent = "chart failed: " + err.message; }
        )
      );
    });
    return Promise.all(pending);
  }

  // ---- table
  var sortCol = "key", sortDir = 1;
  var filterText = document.getElementById("filter-text");
  var filterStatus = document.getElementById("filter-status");
  var filterCategory = document.getElementById("filter-category");
  var tbody = document.getElementById("subjects-body");
  var shownNote = document.getElementById("subjects-shown");

  var categories = {};
  rows.forEach(function (r) { if (r.category) categories[r.category] = true; });
  Object.keys(categories).sort().forEach(function (c) { filterCategory.appendChild(el("option", { value: c }, c)); });

  function compare(a, b) {
    var x = a[sortCol], y = b[sortCol];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === "number" && typeof y === "number") return (x - y) * sortDir;
    return String(x).localeCompare(String(y), undefined, { numeric: true }) * sortDir;
  }

  function matches(r, text, status, category) {
    if (status && r.status !== status) return false;
    if (category && r.category !== category) return false;
    if (!text) return true;
    return [r.key, r.status, r.category, r.host, r.error].some(function (v) { return v && String(v).toLowerCase().indexOf(text) >= 0; });
  }

  function link(href, label) {
    return href ? el("a", { href: href }, label) : null;
  }

  function fmt(v, digits) { return v === null || v === undefined ? "" : Number(v).toFixed(digits); }

  function renderTable() {
    var text = filterText.value.trim().toLowerCase();
    var status = filterStatus.value, category = filterCategory.value;
    var list = rows.filter(function (r) { return matches(r, text, status, category); });
    list.sort(compare);
    var frag = document.createDocumentFragment();
    list.slice(0, MAX_SHOWN).forEach(function (r) {
      var tr = el("tr", { "data-key": r.key, "data-status": r.status, "class": "st-" + r.status });
      tr.appendChild(el("td", { "class": "key" }, r.key));
      tr.appendChild(el("td", { "class": "status" }, r.status));
      tr.appendChild(el("td", { "class": "category" }, r.category || ""));
      tr.appendChild(el("td", { "class": "num" }, r.duration_s === null ? "" : fmt(r.duration_s / 60, 1)));
      tr.appendChild(el("td", { "class": "num" }, r.max_rss_mb === null ? "" : fmt(r.max_rss_mb / 1024, 2) + (r.max_rss_source ? " " + r.max_rss_source : "")));
      tr.appendChild(el("td", { "class": "num" }, r.attempts));
      tr.appendChild(el("td", { "class": "num" }, fmt(r.left_fa_mean, 3)));
      tr.appendChild(el("td", { "class": "num" }, fmt(r.right_fa_mean, 3)));
      var links = el("td", { "class": "links" });
      [link(r.log, "log"), link(r.error_log, "error log"), link(r.report, "csttool report")].forEach(function (a) {
        if (a) { if (links.childNodes.length) links.appendChild(document.createTextNode(" · ")); links.appendChild(a); }
      });
      tr.appendChild(links);
      tr.appendChild(el("td", { "class": "error", title: r.error || null }, r.error ? r.error.split("\n")[0] : ""));
      frag.appendChild(tr);
    });
    tbody.textContent = "";
    tbody.appendChild(frag);
    shownNote.textContent = list.length > MAX_SHOWN
      ? "showing the first " + MAX_SHOWN + " of " + list.length + " matching subjects (" + rows.length + " in all); filter to narrow down"
      : list.length + " of " + rows.length + " subjects";
    var ths = document.querySelectorAll("#subjects th[data-col]");
    for (var i = 0; i < ths.length; i++) {
      var th = ths[i];
      th.setAttribute("aria-sort", th.getAttribute("data-col") === sortCol ? (sortDir > 0 ? "ascending" : "descending") : "none");
    }
  }

  var ths = document.querySelectorAll("#subjects th[data-col]");
  for (var i = 0; i < ths.length; i++) {
    ths[i].addEventListener("click", function (ev) {
      var col = ev.currentTarget.getAttribute("data-col");
      if (col === sortCol) sortDir = -sortDir; else { sortCol = col; sortDir = 1; }
      renderTable();
    });
  }
  [filterText, filterStatus, filterCategory].forEach(function (e) { e.addEventListener("input", renderTable); e.addEventListener("change", renderTable); });
  var params = new URLSearchParams(location.hash.slice(1));
  if (params.get("status")) filterStatus.value = params.get("status");
  renderTable();
  drawCharts().then(function () { state.ready = true; }, function () { state.ready = true; });
})();
`;
