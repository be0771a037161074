// werfop simulate --report: draws the timeline from the JSON above as inline SVG.
// No library and no network: times are seconds from data.start.
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message));
    document.body.setAttribute("data-errors", errors.join(" | "));
  });

  var data = JSON.parse(document.getElementById("data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var PHASE_COLOURS = {
    Pending: "#b8bcc4", Syncing: "#5b9bd5", Synced: "#6aa84f",
    Failed: "#d9534f", Suspended: "#e6a935", Deleted: "#6d6d6d"
  };
  var RESULT_COLOURS = { succeeded: "#1e6b34", failed: "#b3261e", running: "#1a55a8" };
  var LABEL = 250;
  var start = Date.parse(data.start);
  var lanesEl = document.getElementById("lanes");
  var tip = document.getElementById("tip");
  var details = document.getElementById("details");
  var detailText = document.getElementById("detail-text");

  function plotWidth() {
    return Math.max(600, (window.innerWidth || 1200) - LABEL - 40);
  }
  function stamp(seconds) {
    return new Date(start + seconds * 1000).toISOString().replace(".000Z", "Z");
  }
  function dur(seconds) {
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    return ((h ? h + "h" : "") + (m ? m + "m" : "") + (s || (!h && !m) ? s + "s" : ""));
  }
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function html(name, attrs, parent, text) {
    var node = document.createElement(name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // -- header: summary, legend, axis --------------------------------------------------
  var counts = {}, jobs = 0, failed = 0, requests = 0;
  data.lanes.forEach(function (lane) {
    counts[lane.p] = (counts[lane.p] || 0) + 1;
    lane.j.forEach(function (j) { jobs++; if (data.results[j[2]] === "failed") failed++; });
  });
  Object.keys(data.repos).forEach(function (r) { requests += data.repos[r].requests; });
  document.getElementById("summary").textContent =
    data.lanes.length + " bundles over " + dur(data.span) + " from " + data.start +
    ". At the end: " + Object.keys(counts).sort().map(function (p) { return p + " " + counts[p]; }).join(", ") +
    ". " + jobs + " Jobs (" + failed + " failed); " + requests + " registry requests to " +
    Object.keys(data.repos).length + " repositories.";
  var legend = document.getElementById("legend");
  function key(colour, text, extra) {
    var span = html("span", {}, legend);
    html("i", { style: "background:" + colour + (extra || "") }, span);
    span.appendChild(document.createTextNode(text));
  }
  data.phases.forEach(function (p) { key(PHASE_COLOURS[p], p); });
  key(RESULT_COLOURS.succeeded, "Job succeeded");
  key(RESULT_COLOURS.failed, "Job failed");
  key(RESULT_COLOURS.running, "Job running at the end");
  key("rgba(217,83,79,.25)", "registry outage");
  key("#000", "push", ";width:2px");
  key("#d9534f", "registry error", ";width:6px;height:6px;border-radius:3px");

  function niceStep(span, width) {
    var steps = [60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
    for (var i = 0; i < steps.length; i++) if (width / (span / steps[i]) >= 70) return steps[i];
    return steps[steps.length - 1];
  }
  function drawAxis(width) {
    var axis = document.getElementById("axis");
    axis.textContent = "";
    var svg = el("svg", { width: width, height: 20 }, axis);
    var step = niceStep(data.span, width);
    for (var t = 0; t <= data.span; t += step) {
      var x = t / data.span * width;
      el("line", { x1: x, x2: x, y1: 12, y2: 20, class: "tick" }, svg);
      var label = el("text", { x: x + 2, y: 10 }, svg);
      label.textContent = step >= 86400 ? stamp(t).slice(0, 10) :
        (t === 0 || step < 3600 ? stamp(t).slice(11, 16) : "+" + Math.round(t / 3600) + "h");
    }
  }

  // -- a lane -------------------------------------------------------------------------
  function problem(lane) {
    return lane.p === "Failed" ||
      lane.j.some(function (j) { return data.results[j[2]] === "failed"; }) ||
      lane.e.some(function (e) { return /Error|Unavailable|Failed/.test(e[1]); });
  }
  function drawLane(row, lane, width) {
    var compact = row.classList.contains("compact");
    var x = function (t) { return t / data.span * width; };
    var height = compact ? 16 : 58;
    var old = row.querySelector("svg");
    if (old) old.remove();
    var svg = el("svg", { class: "plot", width: width, height: height, "data-bundle": lane.b }, row);
    var band = compact ? [1, 10] : [2, 14];
    lane.s.forEach(function (s) {
      var phase = data.phases[s[2]];
      el("rect", { x: x(s[0]), y: band[0], width: Math.max(1, x(s[1]) - x(s[0])), height: band[1],
        fill: PHASE_COLOURS[phase], class: "span",
        "data-tip": phase + "  " + stamp(s[0]) + " .. " + stamp(s[1]) + " (" + dur(s[1] - s[0]) + ")" +
          (s[3] ? "\n" + s[3] : "") }, svg);
    });
    var repo = data.repos[lane.r] || { pushes: [], outages: [], deletions: [] };
    repo.outages.forEach(function (o) {
      el("rect", { x: x(o[0]), y: 0, width: Math.max(2, x(o[1]) - x(o[0])), height: height,
        fill: "rgba(217,83,79,.25)", class: "outage",
        "data-tip": "registry outage (" + o[2] + ") of " + lane.r + "\n" + stamp(o[0]) + " .. " +
          stamp(o[1]) + " (" + dur(o[1] - o[0]) + ")" }, svg);
    });
    repo.pushes.forEach(function (p) {
      el("line", { x1: x(p[0]), x2: x(p[0]), y1: 0, y2: height, stroke: "#000", "stroke-opacity": 0.35 }, svg);
      if (!compact) {
        el("path", { d: "M" + (x(p[0]) - 4) + ",0h8l-4,6z", fill: "#000", class: "push",
          "data-tip": "push " + p[1] + " to " + lane.r + " at " + stamp(p[0]) }, svg);
      }
    });
    var rows = [-1e9, -1e9];  // where each label row is free again
    lane.j.forEach(function (j) {
      var result = data.results[j[2]], kind = data.kinds[j[3]];
      var end = j[1] === null ? data.span : j[1];
      var x0 = x(j[0]), w = Math.max(3, x(end) - x0);
      var label = (kind === "apply" ? "" : kind + " ") + (j[4] || "") + (j[5] ? " · " + j[5] : "");
      var text = "Job " + j[6] + " (" + kind + ", " + result + ")\n" + stamp(j[0]) + " .. " +
        (j[1] === null ? "still running at the end" : stamp(j[1]) + " (" + dur(j[1] - j[0]) + ")") +
        (j[7] ? "\n" + j[7] : "");
      el("rect", { x: x0, y: compact ? 11 : 19, width: w, height: compact ? 4 : 12, rx: compact ? 0 : 2,
        fill: RESULT_COLOURS[result], class: "job " + result, "data-tip": text }, svg);
      if (compact || !label) return;
      for (var r = 0; r < rows.length; r++) {
        if (x0 >= rows[r]) {
          var t = el("text", { x: x0 + Math.max(w, 3) + 2, y: 29 + r * 12 }, svg);
          t.textContent = label;
          rows[r] = x0 + w + 6 + label.length * 5.6;
          break;
        }
      }
    });
    if (!compact) {
      lane.e.forEach(function (e) {
        var bad = /Error|Unavailable|Failed|Drift/.test(e[1]);
        el("circle", { cx: x(e[0]), cy: 53, r: 3, fill: bad ? "#d9534f" : "#777", class: "mark",
          "data-tip": e[1] + "  " + stamp(e[0]) + (e[2] ? "\n" + e[2] : "") }, svg);
      });
    }
  }
  var rowsByBundle = [];
  function build() {
    var width = plotWidth();
    drawAxis(width);
    lanesEl.textContent = "";
    rowsByBundle = data.lanes.map(function (lane) {
      var row = html("div", { class: "lane" + (data.compact ? " compact" : ""), "data-bundle": lane.b,
        "data-phase": lane.p, "data-problem": problem(lane) ? "1" : "0" }, lanesEl);
      var name = html("div", { class: "name", title: lane.b + " (click: expand or collapse)" }, row);
      html("b", {}, name, lane.b);
      html("span", { class: "badge", style: "background:" + PHASE_COLOURS[lane.p] }, name, lane.p);
      html("small", {}, name, (lane.a ? "applied " + lane.a + " · " : "") + lane.r +
        (lane.m ? " · " + lane.m : ""));
      name.addEventListener("click", function () {
        row.classList.toggle("compact");
        drawLane(row, lane, plotWidth());
      });
      drawLane(row, lane, width);
      return row;
    });
    applyFilter();
    document.body.setAttribute("data-rendered", String(rowsByBundle.length));
  }
  function applyFilter() {
    var text = document.getElementById("filter").value.trim().toLowerCase();
    var only = document.getElementById("problems").checked;
    rowsByBundle.forEach(function (row) {
      var hit = (!text || (row.getAttribute("data-bundle") + " " + row.getAttribute("data-phase"))
        .toLowerCase().indexOf(text) >= 0) && (!only || row.getAttribute("data-problem") === "1");
      row.style.display = hit ? "" : "none";
    });
  }
  document.getElementById("filter").addEventListener("input", applyFilter);
  document.getElementById("problems").addEventListener("change", applyFilter);
  function setAll(compact) {
    rowsByBundle.forEach(function (row, i) {
      if (row.classList.contains("compact") !== compact) {
        row.classList.toggle("compact", compact);
        drawLane(row, data.lanes[i], plotWidth());
      }
    });
  }
  document.getElementById("expand").addEventListener("click", function () { setAll(false); });
  document.getElementById("collapse").addEventListener("click", function () { setAll(true); });

  // -- hover and click ------------------------------------------------------------------
  lanesEl.addEventListener("mousemove", function (e) {
    var text = e.target.getAttribute && e.target.getAttribute("data-tip");
    if (!text) { tip.hidden = true; return; }
    var lane = e.target.closest(".lane");
    tip.textContent = (lane ? lane.getAttribute("data-bundle") + "\n" : "") + text;
    tip.hidden = false;
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  });
  lanesEl.addEventListener("mouseleave", function () { tip.hidden = true; });
  lanesEl.addEventListener("click", function (e) {
    var text = e.target.getAttribute && e.target.getAttribute("data-tip");
    if (!text) return;
    detailText.textContent = e.target.closest(".lane").getAttribute("data-bundle") + "\n" + text;
    details.hidden = false;
  });
  document.getElementById("close").addEventListener("click", function () { details.hidden = true; });
  var resized = null;
  window.addEventListener("resize", function () {
    clearTimeout(resized);
    resized = setTimeout(build, 150);
  });
  build();
})();
