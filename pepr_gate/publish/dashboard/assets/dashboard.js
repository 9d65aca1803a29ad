/* pepr-gate dashboard. Reads window.PEPR_DASHBOARD (data/runs.js) and draws it with Chart.js.
 * Every name from the data (branch, id, metric, reason) reaches the page through
 * textContent only: a branch called <script> is shown, never run. */
(function () {
  "use strict";
  var D = window.PEPR_DASHBOARD;
  var R = D.runs;
  var N = R.id.length;
  var PAGE = 500;       // points per branch and page: 50,000 runs stay responsive
  var ROWS = 50;        // table rows per "show more"
  var METHOD_STYLE = [  // measured, mixed, estimated, unavailable, replayed
    { style: "circle", fill: true, glyph: "\u25CF", words: "measured" },
    { style: "rect", fill: false, glyph: "\u25A1", words: "partly estimated (mixed)" },
    { style: "triangle", fill: false, glyph: "\u25B3", words: "estimated" },
    { style: "triangle", fill: false, glyph: "\u25B3", words: "unavailable" },
    { style: "rectRounded", fill: false, glyph: "\u25A2", words: "replayed (a recorded trace)" }
  ];
  var VERDICTS = {
    fail: { style: "crossRot", glyph: "\u2715", color: "--fail" },
    warn: { style: "star", glyph: "\u2733", color: "--warn" },
    inconclusive: { style: "circle", glyph: "\u25EF", color: "--inconclusive" },
    accepted: { style: "rectRot", glyph: "\u25C7", color: "--accepted" }
  };
  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
                 "#edc948", "#ff9da7", "#9c755f", "#8cd17d"];
  var state = { selected: [], page: 0, xaxis: "time", rows: ROWS };
  var charts = {};
  var api = { ready: false, firstChartMs: null, charts: charts, state: state };
  window.peprDashboard = api;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  // Units a person writes: a CPU job's energy in mWh, not 7.8e-6 kWh.
  var STEPS = {
    "kWh": [[1, "kWh"], [1e3, "Wh"], [1e6, "mWh"], [1e9, "\u00B5Wh"]],
    "kg CO2eq": [[1, "kg CO2eq"], [1e3, "g CO2eq"], [1e6, "mg CO2eq"], [1e9, "\u00B5g CO2eq"]]
  };
  function step(a, unit) {  // [factor, unit name]: the largest unit in which a >= 1
    var steps = STEPS[unit];
    if (!steps) return [1, unit];
    for (var k = 0; k < steps.length; k++) if (a * steps[k][0] >= 1) return steps[k];
    return steps[steps.length - 1];
  }
  function fmt(v, unit) {
    if (v === null || v === undefined) return "\u2014";
    var f = step(Math.abs(v), unit), x = v * f[0], a = Math.abs(x);
    var s = a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(3) : String(+x.toPrecision(4));
    return f[1] ? s + " " + f[1] : s;
  }
  function date(ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 16); }
  // Fixed per branch name by the build (D.colors), so colours stay put between builds.
  function color(b) { return (D.colors && D.colors[b]) || PALETTE[b % PALETTE.length]; }
  function repoUrl() {
    var u = D.repo_url;
    return typeof u === "string" && /^https?:\/\//.test(u) ? u.replace(/\/+$/, "") : null;
  }
  function commitUrl(i) {
    var base = repoUrl(), sha = R.sha[i];
    return base && sha && /^[0-9a-fA-F]{4,64}$/.test(sha) ? base + "/commit/" + sha : null;
  }

  // Change points and boundaries (`history --changes`), by the run that starts them.
  var CHANGES = Array.isArray(D.changes) ? D.changes : [];
  var changeAt = {};
  CHANGES.forEach(function (c) { changeAt[c.i] = c; });
  function changeWords(c) {
    if (c.kind === "boundary") return "boundary: the " + c.changed.join(" and ") + " changed (runs before and after are not compared)";
    return "change point: " + c.steps.map(function (s) {
      return s.metric + " " + (s.step >= 0 ? "+" : "−") + Math.abs(s.step * 100).toFixed(1) + "%";
    }).join(", ") + " (confidence " + (Math.min.apply(null, c.steps.map(function (s) { return s.confidence; })) * 100).toFixed(1) + "%)";
  }

  // Run indices per branch, oldest first (the build sorts runs by time).
  var byBranch = D.branches.map(function () { return []; });
  for (var i = 0; i < N; i++) byBranch[R.b[i]].push(i);

  var budgets = D.budgets || {};
  var panels = [];
  D.variants.forEach(function (v, vi) {
    panels.push({ key: "pepr:" + v, title: v, unit: "", col: "pepr", method: "x",
                  keep: function (i) { return R.v[i] === vi; } });
  });
  if (!D.variants.length) {
    panels.push({ key: "pepr", title: "PePR", unit: "", col: "pepr", method: "x",
                  empty: "No PePR stored: no scale for R was set when these runs were scored." });
  }
  panels.push({ key: "P", title: "P (" + (D.performance_names.join(", ") || "performance") + ")",
                unit: "", col: "P", method: null });
  panels.push({ key: "energy", title: "Energy", unit: "kWh", col: "E", method: "Em",
                budget: budgets.energy_kwh });
  panels.push({ key: "carbon", title: "Carbon", unit: "kg CO2eq", col: "C", method: "Em",
                budget: budgets.carbon_kg });
  panels.push({ key: "duration", title: "Duration", unit: "s", col: "D", method: null,
                budget: budgets.duration_s });
  panels.push({ key: "gpu_memory", title: "Peak GPU memory", unit: "GB", col: "M", method: null,
                budget: budgets.gpu_memory_gb });

  function methodOf(panel, i) { return panel.method ? R[panel.method][i] : 0; }

  // The runs of one branch on the current page: the newest PAGE first, older pages after.
  function pageOf(b) {
    var all = byBranch[b], end = all.length - state.page * PAGE;
    var start = Math.max(0, end - PAGE);
    return { runs: end > 0 ? all.slice(start, end) : [], start: start, end: Math.max(end, 0),
             total: all.length };
  }
  function xOf(b, pos, i) { return state.xaxis === "time" ? R.t[i] : pos + 1; }

  function datasets(panel) {
    var out = [], marks = Object.create(null), xmin = Infinity, xmax = -Infinity, ymax = 0;
    var ylo = Infinity, yhi = -Infinity, shown = [];
    state.selected.forEach(function (b) {
      var pg = pageOf(b), groups = {}, line = [];
      pg.runs.forEach(function (i, k) {
        var y = R[panel.col][i];
        if (!R.ok[i] || y === null || (panel.keep && !panel.keep(i))) return;
        var pt = { x: xOf(b, pg.start + k, i), y: y, i: i };
        xmin = Math.min(xmin, pt.x); xmax = Math.max(xmax, pt.x); ymax = Math.max(ymax, Math.abs(y));
        ylo = Math.min(ylo, y); yhi = Math.max(yhi, y);
        var m = methodOf(panel, i);
        (groups[m] = groups[m] || []).push(pt);
        line.push(pt);
        var v = R.verdict[i];
        if (v && Object.prototype.hasOwnProperty.call(VERDICTS, v)) (marks[v] = marks[v] || []).push(pt);
      });
      pg.runs.forEach(function (i, k) {
        if (changeAt[i] && changeAt[i].b === b) shown.push({ c: changeAt[i], x: xOf(b, pg.start + k, i), b: b });
      });
      var c = color(b);
      out.push({ type: "line", kind: "line", branch: b, data: line, borderColor: c + "99",
                 borderWidth: 1, pointRadius: 0, pointHitRadius: 0, fill: false, showLine: true });
      Object.keys(groups).forEach(function (m) {
        var s = METHOD_STYLE[m];
        out.push({ type: "scatter", kind: "points", branch: b, method: +m, data: groups[m],
                   pointStyle: s.style, pointRadius: 3.5, pointHoverRadius: 6,
                   borderColor: c, backgroundColor: s.fill ? c : "transparent", borderWidth: 1.5 });
      });
    });
    Object.keys(marks).forEach(function (v) {
      var c = css(VERDICTS[v].color);
      out.push({ type: "scatter", kind: "verdict", verdict: v, data: marks[v],
                 pointStyle: VERDICTS[v].style, pointRadius: 8, pointHoverRadius: 9,
                 borderColor: c, backgroundColor: "transparent", borderWidth: 2 });
    });
    if (ylo <= yhi) {
      shown.forEach(function (m) {
        var cc = css(m.c.kind === "boundary" ? "--muted" : "--change");
        out.push({ type: "line", kind: "changeline", data: [{ x: m.x, y: ylo }, { x: m.x, y: yhi }],
                   borderColor: cc, borderDash: m.c.kind === "boundary" ? [2, 3] : [], borderWidth: 1.5,
                   pointRadius: 0, pointHitRadius: 0, showLine: true });
        out.push({ type: "scatter", kind: "change", data: [{ x: m.x, y: yhi, i: m.c.i }],
                   pointStyle: "triangle", rotation: 180, pointRadius: 7, pointHoverRadius: 9,
                   borderColor: cc, backgroundColor: cc });
      });
    }
    out.changes = shown.map(function (m) { return m.c; });
    if (panel.budget && xmin <= xmax) {
      var bc = css("--budget");
      out.push({ type: "line", kind: "budget", data: [{ x: xmin, y: panel.budget },
                 { x: xmax, y: panel.budget }], borderColor: bc, borderDash: [6, 4],
                 borderWidth: 1.5, pointRadius: 0, pointHitRadius: 0, showLine: true });
    }
    out.xmin = xmin; out.xmax = xmax; out.ymax = Math.max(ymax, panel.budget || 0);
    return out;
  }

  function tooltipLines(i) {
    var vi = R.v[i], variant = vi === null ? "PePR" : D.variants[vi];
    var m = D.methods;
    var lines = [
      ["tt-head", "run " + R.id[i]],
      ["", "branch: " + D.branches[R.b[i]]],
      ["", "commit: " + (R.sha[i] ? R.sha[i].slice(0, 12) : "\u2014")],
      ["", "date: " + date(R.t[i]) + " UTC"],
      ["", "P (" + D.performance_names.join(", ") + "): " + fmt(R.P[i])],
      ["", variant + ": " + fmt(R.pepr[i]) + (R.R[i] === null ? "" : " (R " + fmt(R.R[i]) + ", " + m[R.x[i]] + ")")],
      ["", "energy: " + fmt(R.E[i], "kWh") + " (" + m[R.Em[i]] + ")"],
      ["", "carbon: " + fmt(R.C[i], "kg CO2eq") + " (from " + m[R.Em[i]] + " energy)"],
      ["", "duration: " + fmt(R.D[i], "s") + " (measured)"],
      ["", "peak GPU memory: " + fmt(R.M[i], "GB") + (R.M[i] === null ? "" : " (measured)")]
    ];
    if (R.L && R.L[i] !== null) {
      lines.push(["", "runner: load " + R.L[i].toFixed(1) +
        (R.O[i] === null ? "" : ", others " + Math.round(R.O[i] * 100) + "% of CPU") +
        (R.W[i] === null ? "" : ", wall/CPU " + R.W[i].toFixed(1)) +
        (R.G[i] === null ? "" : ", GPU " + Math.round(R.G[i]) + " \u00b0C")]);
    }
    if (!R.ok[i]) lines.push(["failed", "failed: " + (R.failure[i] || "")]);
    if (R.verdict[i]) lines.push(["v-" + R.verdict[i], "verdict: " + R.verdict[i] + (R.reason[i] ? " \u2014 " + R.reason[i] : "")]);
    if (changeAt[i]) lines.push(["change", changeWords(changeAt[i])]);
    if (commitUrl(i)) lines.push(["muted", "click to open the commit"]);
    return lines;
  }

  function showTooltip(context) {
    var tip = $("tooltip"), t = context.tooltip;
    if (!t || t.opacity === 0 || !t.dataPoints || !t.dataPoints.length) { tip.hidden = true; return; }
    var i = t.dataPoints[0].raw.i;
    tip.replaceChildren.apply(tip, tooltipLines(i).map(function (l) { return el("div", l[1], l[0]); }));
    tip.dataset.run = R.id[i];
    tip.hidden = false;
    var box = context.chart.canvas.getBoundingClientRect();
    var left = window.scrollX + box.left + t.caretX + 12;
    var maxLeft = window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 4;
    tip.style.left = Math.max(window.scrollX + 4, Math.min(left, maxLeft)) + "px";
    tip.style.top = (window.scrollY + box.top + t.caretY + 12) + "px";
  }

  function chartOptions(panel, sets) {
    var time = state.xaxis === "time";
    var pad = sets.xmax > sets.xmin ? (sets.xmax - sets.xmin) * 0.02 : (time ? 36e5 : 1);
    var yUnit = step(sets.ymax, panel.unit);  // one unit per panel, from its largest value
    return {
      animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
      interaction: { mode: "nearest", intersect: false, axis: "xy" },
      plugins: {
        legend: { display: false },
        tooltip: { enabled: false, external: showTooltip,
                   filter: function (item) { return item.dataset.kind === "points" || item.dataset.kind === "verdict" || item.dataset.kind === "change"; } }
      },
      scales: {
        x: { type: "linear", min: sets.xmin - pad, max: sets.xmax + pad,
             ticks: { maxTicksLimit: window.innerWidth < 600 ? 4 : 6, includeBounds: false,
                      callback: function (v) {
                        if (!time) return v;
                        var iso = new Date(v).toISOString(), span = this.max - this.min;
                        if (span < 36e5) return iso.slice(11, 19);  // within an hour: seconds
                        return span < 2 * 864e5 ? iso.slice(5, 16).replace("T", " ") : iso.slice(0, 10);
                      } },
             title: { display: true, text: time ? "date (UTC)" : "run number on its branch" } },
        y: { title: { display: !!panel.unit, text: yUnit[1] },
             ticks: { callback: function (v) { return String(+(v * yUnit[0]).toPrecision(3)); } } }
      },
      onClick: function (evt, elements, chart) {
        var hit = elements.filter(function (e) { var k = chart.data.datasets[e.datasetIndex].kind; return k !== "line" && k !== "changeline"; })[0];
        var url = hit && commitUrl(chart.data.datasets[hit.datasetIndex].data[hit.index].i);
        if (url) window.open(url, "_blank", "noopener");
      }
    };
  }

  function applyTheme() {
    Chart.defaults.color = css("--muted");
    Chart.defaults.borderColor = css("--grid");
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  }

  function drawPanels() {
    var host = $("panels");
    Object.keys(charts).forEach(function (k) { charts[k].destroy(); delete charts[k]; });
    host.replaceChildren();
    panels.forEach(function (panel) {
      var box = el("figure", null, "panel");
      box.id = "panel-" + panel.key.replace(/[^A-Za-z0-9-]/g, "_");
      box.dataset.key = panel.key;
      box.style.margin = "0";
      box.appendChild(el("h2", panel.title + (panel.unit && !STEPS[panel.unit] ? " (" + panel.unit + ")" : "")));
      var sets = datasets(panel);
      var counts = state.selected.map(function (b) {
        var n = 0;
        sets.forEach(function (s) { if (s.kind === "points" && s.branch === b) n += s.data.length; });
        return D.branches[b] + ": " + n;
      });
      var drawn = sets.some(function (s) { return s.kind === "points"; });
      if (!drawn) {
        box.appendChild(el("p", panel.empty || "No values for the selected branches on this page.", "empty"));
        host.appendChild(box);
        return;
      }
      var holder = el("div", null, "chart"), canvas = el("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", panel.title + " over " + (state.xaxis === "time" ? "time" : "runs"));
      holder.appendChild(canvas);
      box.appendChild(holder);
      box.appendChild(el("figcaption", "points \u2014 " + counts.join(" \u00B7 "), "caption"));
      if (sets.changes.length) box.appendChild(changeList(sets.changes));
      host.appendChild(box);
      charts[panel.key] = new Chart(canvas, { type: "scatter", data: { datasets: sets },
                                             options: chartOptions(panel, sets) });
      if (api.firstChartMs === null) api.firstChartMs = performance.now();
    });
  }

  // The change points drawn on a panel, as text with a link to each commit.
  function changeList(found) {
    var list = el("ul", null, "changes");
    found.forEach(function (c) {
      var item = el("li", null, c.kind === "boundary" ? "boundary" : "change");
      item.dataset.run = R.id[c.i];
      var url = commitUrl(c.i), label = R.sha[c.i] ? R.sha[c.i].slice(0, 12) : R.id[c.i];
      var link = url ? el("a", label) : el("span", label);
      if (url) { link.href = url; link.target = "_blank"; link.rel = "noopener"; }
      item.appendChild(link);
      item.appendChild(document.createTextNode(" " + D.branches[c.b] + " \u2014 " + changeWords(c)));
      list.appendChild(item);
    });
    return list;
  }

  function drawLegend() {
    var host = $("legend"), used = {}, verdicts = Object.create(null);
    state.selected.forEach(function (b) {
      pageOf(b).runs.forEach(function (i) {
        used[R.Em[i]] = true; used[R.x[i]] = true;
        if (R.verdict[i]) verdicts[R.verdict[i]] = true;
      });
    });
    var items = [];
    state.selected.forEach(function (b) {
      var s = el("span"), sw = el("span", null, "swatch");
      sw.style.background = color(b);
      s.appendChild(sw); s.appendChild(document.createTextNode(" " + D.branches[b]));
      items.push(s);
    });
    [0, 1, 2].forEach(function (m) {
      if (m === 0 || used[m]) {
        var s = el("span"); s.appendChild(el("span", METHOD_STYLE[m].glyph, "glyph"));
        s.appendChild(document.createTextNode(METHOD_STYLE[m].words)); items.push(s);
      }
    });
    Object.keys(VERDICTS).forEach(function (v) {
      if (!verdicts[v]) return;
      var s = el("span"), g = el("span", VERDICTS[v].glyph, "glyph v-" + v);
      s.appendChild(g); s.appendChild(document.createTextNode("verdict: " + v)); items.push(s);
    });
    if (panels.some(function (p) { return p.budget; })) {
      var s = el("span"); s.appendChild(el("span", "- - -", "glyph v-fail"));
      s.appendChild(document.createTextNode("budget ([gate.budgets])")); items.push(s);
    }
    host.replaceChildren.apply(host, items);
  }

  function drawPager() {
    var total = 0, shownMax = 0, more = false;
    state.selected.forEach(function (b) {
      var pg = pageOf(b);
      total = Math.max(total, pg.total); shownMax = Math.max(shownMax, pg.runs.length);
      if (pg.start > 0) more = true;
    });
    var first = state.page * PAGE + 1, last = state.page * PAGE + shownMax;
    $("window-text").textContent = total === 0 ? "no runs" :
      "runs " + first + "\u2013" + last + " of " + total + " per branch, newest first";
    $("older").disabled = !more;
    $("newer").disabled = state.page === 0;
  }

  function cell(tr, text, cls) { var td = el("td", text, cls); tr.appendChild(td); return td; }

  function drawTable() {
    var rows = [];
    state.selected.forEach(function (b) { rows = rows.concat(byBranch[b]); });
    rows.sort(function (a, c) { return R.t[c] - R.t[a] || c - a; });
    var body = $("runs-table").tBodies[0], out = [];
    rows.slice(0, state.rows).forEach(function (i) {
      var tr = el("tr"), m = D.methods, est = R.Em[i] !== 0;
      tr.dataset.run = R.id[i];
      cell(tr, date(R.t[i]));
      cell(tr, D.branches[R.b[i]], "branch").title = D.branches[R.b[i]];
      var td = cell(tr, ""), url = commitUrl(i), short = R.sha[i] ? R.sha[i].slice(0, 8) : "\u2014";
      if (url) { var a = el("a", short); a.href = url; a.rel = "noopener"; td.appendChild(a); }
      else td.textContent = short;
      var st = cell(tr, R.ok[i] ? "ok" : "failed", R.ok[i] ? "" : "failed");
      if (!R.ok[i] && R.failure[i]) st.title = R.failure[i];
      cell(tr, fmt(R.P[i]), "num");
      var vi = R.v[i];
      cell(tr, fmt(R.pepr[i]) + (vi === null ? "" : " " + D.variants[vi]), "num");
      cell(tr, fmt(R.E[i], "kWh") + " (" + m[R.Em[i]] + ")", "num" + (est ? " estimated" : ""));
      cell(tr, fmt(R.C[i], "kg CO2eq"), "num" + (est ? " estimated" : ""));
      cell(tr, fmt(R.D[i], "s"), "num");
      cell(tr, fmt(R.M[i], "GB"), "num");
      var v = cell(tr, R.verdict[i] || "", R.verdict[i] ? "v-" + R.verdict[i] : "");
      if (R.reason[i]) v.title = R.reason[i];
      out.push(tr);
    });
    body.replaceChildren.apply(body, out);
    $("more-rows").hidden = rows.length <= state.rows;
  }

  function drawMessage() {
    var msg = $("message"), empty = state.selected.filter(function (b) { return !byBranch[b].length; });
    msg.className = "";
    if (!N) {
      msg.textContent = "No runs stored yet in " + (D.store || "this store") +
        ". Runs appear here after `pepr-gate run` or `pepr-gate ci` stores them.";
      msg.className = "warn";
    } else if (!state.selected.length) {
      msg.textContent = "No branch selected: tick one above.";
    } else if (empty.length) {
      msg.textContent = "No runs stored for branch " + empty.map(function (b) { return D.branches[b]; }).join(", ") + ".";
      msg.className = "warn";
    } else {
      msg.textContent = "";
    }
  }

  function redraw() {
    drawMessage(); drawLegend(); drawPager(); drawPanels(); drawTable();
    $("tooltip").hidden = true;
  }

  function buildBranchList() {
    var list = $("branch-list");
    var items = D.branches.map(function (name, b) {
      var label = el("label"), box = el("input"), sw = el("span", null, "swatch");
      box.type = "checkbox"; box.value = String(b); box.checked = state.selected.indexOf(b) >= 0;
      box.addEventListener("change", function () {
        state.selected = D.branches.map(function (_, k) { return k; }).filter(function (k) {
          return list.querySelector('input[value="' + k + '"]').checked;
        });
        state.page = 0; state.rows = ROWS; redraw();
      });
      sw.style.background = color(b);
      label.dataset.branch = name;
      label.appendChild(box); label.appendChild(sw);
      label.appendChild(document.createTextNode(name + " (" + byBranch[b].length + ")"));
      return label;
    });
    list.replaceChildren.apply(list, items);
    var filter = $("branch-filter");
    filter.hidden = D.branches.length <= 12;
    filter.addEventListener("input", function () {
      var q = filter.value.toLowerCase();
      items.forEach(function (l) { l.hidden = q && l.dataset.branch.toLowerCase().indexOf(q) < 0; });
    });
  }

  function start() {
    var base = D.branches.indexOf(D.base_branch);
    var opened = (D.open_branches || []).map(function (n) { return D.branches.indexOf(n); })
      .filter(function (b, k, all) { return b >= 0 && all.indexOf(b) === k; });
    state.selected = opened.length ? opened : base >= 0 ? [base] : (D.branches.length ? [0] : []);
    var meta = N + " runs on " + D.branches.length + " branch" + (D.branches.length === 1 ? "" : "es") +
      " \u00B7 store " + D.store + " \u00B7 built " + D.generated_at;
    $("meta").textContent = meta;
    buildBranchList();
    $("xaxis").addEventListener("change", function (e) { state.xaxis = e.target.value; redraw(); });
    $("older").addEventListener("click", function () { state.page += 1; redraw(); });
    $("newer").addEventListener("click", function () { state.page = Math.max(0, state.page - 1); redraw(); });
    $("more-rows").addEventListener("click", function () { state.rows += ROWS; drawTable(); });
    document.addEventListener("scroll", function () { $("tooltip").hidden = true; }, { passive: true });
    var scheme = window.matchMedia("(prefers-color-scheme: dark)");
    var onScheme = function () { applyTheme(); redraw(); };
    if (scheme.addEventListener) scheme.addEventListener("change", onScheme);
    applyTheme();
    redraw();
    api.ready = true;
  }

  api.pointsByBranch = function (key) {
    var chart = charts[key], out = {};
    if (!chart) return out;
    chart.data.datasets.forEach(function (s, d) {
      if (s.kind !== "points") return;
      var name = D.branches[s.branch];
      out[name] = (out[name] || 0) + chart.getDatasetMeta(d).data.length;
    });
    return out;
  };
  api.pointFor = function (key, runId) {
    var chart = charts[key];
    if (!chart) return null;
    for (var d = 0; d < chart.data.datasets.length; d++) {
      var s = chart.data.datasets[d];
      if (s.kind !== "points") continue;
      for (var k = 0; k < s.data.length; k++) {
        if (R.id[s.data[k].i] === runId) {
          var p = chart.getDatasetMeta(d).data[k], box = chart.canvas.getBoundingClientRect();
          return { x: p.x, y: p.y, left: box.left, top: box.top };
        }
      }
    }
    return null;
  };

  start();
})();
