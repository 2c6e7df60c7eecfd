{% raw %}
/* keyscope report: sorting, filtering and per-key detail, built from the JSON blob.
   Text from the data is only ever set with textContent; no innerHTML anywhere. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("ks-data").textContent);
  var table = document.getElementById("key-table");
  var body = document.getElementById("key-rows");
  if (!table || !body) { return; }
  var chunks = Array.prototype.slice.call(body.querySelectorAll(".chunk"));
  var CHUNK = 250;
  var rows = Array.prototype.filter.call(body.querySelectorAll(".r"), function (row) { return /^k\d+$/.test(row.id); });
  function indexOf(row) { return Number(row.id.slice(1)); }
  var LEVELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  var details = {};
  var searchText = null;
  var CONF = { high: 0, medium: 1, low: 2, insufficient: 3 };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function scopeName(i) { return data.scopes[i]; }
  function opName(i) { return i >= 0 ? data.ops[i] : "(no operation)"; }
  function text(i) { return data.text[i]; }
  function when(offset) { return offset === null || offset === undefined ? "" : dayLabel(offset); }

  function tableOf(headers, numeric) {
    var t = el("table"), head = add(t, el("thead")), tr = add(head, el("tr"));
    headers.forEach(function (h, i) { add(tr, el("th", numeric && numeric[i] ? "n" : "", h)); });
    add(t, el("tbody"));
    return t;
  }
  function rowOf(t, cells, numeric) {
    var tr = add(t.tBodies[0], el("tr"));
    cells.forEach(function (c, i) {
      var td = add(tr, el("td", numeric && numeric[i] ? "n" : ""));
      if (c instanceof Node) { td.appendChild(c); } else { td.textContent = String(c); }
    });
    return tr;
  }
  function chip(name, cls, glyph) { return el("span", "ch " + cls, glyph + " " + name); }

  /* The replacement picker: ticked = suggested; an excess scope is dropped unless the
     suggestion already implies it; a scope the key holds that the audit neither suggests
     nor drops (k.k) is kept.  Not the effective grants (k.g): a read that only came with
     a write being dropped is not held, so it stays unticked. */
  function replacementCell(idx, suggested, kept, excess, covered) {
    if (suggested.has(idx)) { return ["on", "☑"]; }
    if (excess.has(idx)) { return covered.has(idx) ? ["imp", "☑ implied"] : ["rm", "☐ drop"]; }
    if (kept.has(idx)) { return ["on", "☑ keep"]; }
    return ["", "☐"];
  }

  function picker(caption, rowsOfGrid, on, replacement) {
    var t = el("table", "picker");
    add(t, el("caption", "", caption));
    var head = add(add(t, el("thead")), el("tr"));
    ["Area", "Read", "Write"].forEach(function (h) { add(head, el("th", "", h)); });
    var tb = add(t, el("tbody"));
    rowsOfGrid.forEach(function (g) {
      var tr = add(tb, el("tr"));
      add(tr, el("td", "", g[0]));
      [g[1], g[2]].forEach(function (idx) {
        if (idx < 0) { add(tr, el("td", "muted", "–")); return; }
        var cell = replacement ? replacement(idx) : on.has(idx) ? ["on", "☑"] : ["", "☐"];
        add(tr, el("td", cell[0], cell[1]));
      });
    });
    return t;
  }

  function chart(k) {
    var days = Math.max(data.days, 1), w = 360, h = 64, pad = 2;
    var levels = new Array(days).fill(0), top = LEVELS.length - 1, i;
    var d = k.d || "", max = k.dm || 0;
    for (i = 0; i < d.length && i < days; i++) { levels[i] = LEVELS.indexOf(d.charAt(i)); }
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("width", String(w));
    svg.setAttribute("height", String(h));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Successful requests per day over " + days + " days: " + num(k.q) + " in all, at most " + num(max) + " a day");
    var base = document.createElementNS(SVG, "line");
    base.setAttribute("x1", "0"); base.setAttribute("x2", String(w));
    base.setAttribute("y1", String(h - 1)); base.setAttribute("y2", String(h - 1));
    svg.appendChild(base);
    var bw = w / days;
    for (i = 0; i < days; i++) {
      if (!levels[i]) { continue; }
      var bh = Math.max(1, (h - pad) * levels[i] / top);
      var r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", (i * bw).toFixed(2));
      r.setAttribute("y", (h - bh).toFixed(2));
      r.setAttribute("width", Math.max(bw - 0.5, 0.5).toFixed(2));
      r.setAttribute("height", bh.toFixed(2));
      var tip = document.createElementNS(SVG, "title");
      tip.textContent = dayLabel(i) + ": about " + num(Math.round(levels[i] * max / top)) + " requests";
      r.appendChild(tip);
      svg.appendChild(r);
    }
    return svg;
  }
  function dayLabel(offset) {
    var start = new Date(data.start + "T00:00:00Z");
    start.setUTCDate(start.getUTCDate() + offset);
    return start.toISOString().slice(0, 10);
  }

  function buildDetail(index) {
    var k = data.keys[index];
    var tr = el("div", "r detail"), td = add(tr, el("div"));
    tr.setAttribute("role", "row");
    td.setAttribute("role", "cell");
    td.setAttribute("aria-colspan", "7");
    var granted = new Set(k.g), used = new Set(k.u), suggested = new Set(k.s);
    var kept = new Set(k.k || []), excess = new Set(k.x || []);
    /* An excess scope that unlocks nothing the suggestion cannot reach is implied by it
       (on this platform area:write includes area:read): no box to untick. */
    var covered = new Set((k.ex || []).filter(function (x) { return !x[1].length; }).map(function (x) { return x[0]; }));

    add(td, el("h3", "", "Scope picker: what it has, what it used, what to tick"));
    if (data.grid.length) {
      var pickers = add(td, el("div", "pickers"));
      add(pickers, picker(k.fa ? "Granted now (full access)" : "Granted now", data.grid, granted, null));
      add(pickers, picker("Used in the window", data.grid, used, null));
      var caption = k.r ? "Suggested (key revoked)" : k.c === "insufficient" ? "Tick for a replacement: not enough data, keeps its grants" : "Tick for the replacement";
      add(pickers, picker(caption, data.grid, suggested, function (idx) {
        return replacementCell(idx, suggested, kept, excess, covered);
      }));
    }
    var others = data.other.filter(function (i) { return granted.has(i) || used.has(i) || suggested.has(i); });
    if (others.length) {
      var p = add(td, el("p", "small", "Other scopes: "));
      others.forEach(function (i) {
        var state = replacementCell(i, suggested, kept, excess, covered)[0];
        add(p, state === "rm" ? chip(scopeName(i), "x", "✗") : state ? chip(scopeName(i), "u", "✓") : chip(scopeName(i), "", "·"));
      });
    }
    add(td, el("p", "small muted", "Confidence: " + k.c + (k.cr ? " (" + k.cr.map(text).join("; ") + ")" : "")));

    var cols = add(td, el("div", "cols"));
    var left = add(cols, el("div")), right = add(cols, el("div"));

    add(left, el("h4", "", "Blast radius"));
    var br = tableOf(["", "Now", "With the suggestion"], [false, true, true]);
    rowOf(br, ["Operations reachable", k.b[0], k.a[0]], [false, true, true]);
    rowOf(br, ["Sensitive operations", k.b[1], k.a[1]], [false, true, true]);
    rowOf(br, ["Risk score (0-100)", k.b[2], k.a[2]], [false, true, true]);
    add(left, br);

    add(right, el("h4", "", "Successful requests per day"));
    add(right, chart(k));
    add(right, el("div", "small muted", dayLabel(0) + " to " + dayLabel(Math.max(data.days - 1, 0))));

    add(td, el("h4", "", "Evidence for each suggested scope"));
    if (k.ev && k.ev.length) {
      var ev = tableOf(["Scope", "Operation", "Requests", "First seen", "Last seen"], [false, false, true, false, false]);
      k.ev.forEach(function (e) {
        e[1].forEach(function (use, n) {
          rowOf(ev, [n === 0 ? scopeName(e[0]) : "", opName(use[0]), num(use[1]), when(use[2]), when(use[3])], [false, false, true, false, false]);
        });
      });
      add(td, ev);
    } else {
      add(td, el("p", "empty", "No successful request in the window."));
    }

    if (k.rp) {
      add(td, el("h4", "", "Replay against the suggested scopes"));
      var rp = k.rp === 1 ? [k.q, 0, 0, []] : k.rp, sentence;
      if (!rp[0] && !rp[2]) {
        sentence = "No successful request in the last " + data.days + " days to replay.";
      } else {
        sentence = "Replayed " + num(rp[0]) + " request" + (rp[0] === 1 ? "" : "s") + " of the last " + data.days +
          " days against the suggested scopes: " + num(rp[1]) + " would have failed.";
        if (rp[2]) { sentence += " " + num(rp[2]) + " could not be replayed (a route the spec does not describe, or an operation without a stated requirement)."; }
      }
      add(td, el("p", rp[1] ? "banner warn" : "", sentence));
      if (rp[3].length) {
        var rt = tableOf(["Operation the suggestion would refuse", "Requests", "First seen", "Last seen"], [false, true, false, false]);
        rp[3].forEach(function (f) { rowOf(rt, [opName(f[0]), num(f[1]), when(f[2]), when(f[3])], [false, true, false, false]); });
        add(td, rt);
      }
    }

    add(td, el("h4", "", "Excess scopes and what they unlock"));
    if (k.ex && k.ex.length) {
      var ul = add(td, el("ul", "compact"));
      k.ex.forEach(function (x) {
        var li = add(ul, el("li"));
        add(li, chip(scopeName(x[0]), "x", "✗"));
        var ops = x[1];
        if (!ops.length) { add(li, el("span", "", " unlocks nothing beyond the suggested scopes (implied by them)")); return; }
        add(li, el("span", "", " unlocks " + ops.length + " operation" + (ops.length === 1 ? "" : "s") + " never called: "));
        var shown = ops.slice(0, 40).map(opName);
        add(li, el("span", "mono small", shown.join(", ") + (ops.length > 40 ? " and " + (ops.length - 40) + " more" : "")));
      });
    } else {
      add(td, el("p", "empty", "None."));
    }

    if (k.dn && k.dn.length) {
      add(td, el("h4", "", "Denied requests (401/403): probing or a missing scope, never counted as use"));
      var dn = tableOf(["Request", "Operation", "Count", "First", "Last", "Would need"], [false, false, true, false, false, false]);
      k.dn.forEach(function (d) {
        var need = d[5].map(function (alt) { return alt.map(scopeName).join(" + "); }).join(" or ");
        rowOf(dn, [text(d[0]), opName(d[1]), num(d[2]), when(d[3]), when(d[4]), need || "unknown"], [false, false, true, false, false, false]);
      });
      add(td, dn);
    }
    if (k.um && k.um.length) {
      add(td, el("h4", "", "Requests that matched no operation"));
      var um = tableOf(["Request", "Count"], [false, true]);
      k.um.forEach(function (u) { rowOf(um, [text(u[0]), num(u[1])], [false, true]); });
      add(td, um);
    }

    add(td, el("h4", "", "Findings"));
    if (k.f && k.f.length) {
      var ft = tableOf(["Severity", "Rule", "Subject", "What"]);
      k.f.forEach(function (f) {
        var sev = el("span"), name = data.severities[f[0]];
        add(sev, el("span", "sev s-" + name, name));
        if (f[4] & 1) { add(sev, el("span", "tag new", "new")); }
        if (f[4] & 2) { add(sev, el("span", "tag supp", "suppressed")); }
        rowOf(ft, [sev, text(f[1]), text(f[2]), text(f[3])]);
      });
      add(td, ft);
    } else {
      add(td, el("p", "empty", "None."));
    }
    return tr;
  }

  function isOpen(row) { return row.querySelector("button.kx").getAttribute("aria-expanded") === "true"; }
  function setOpen(row, open) {
    var index = indexOf(row);
    var button = row.querySelector("button.kx");
    if (open === isOpen(row)) { return; }
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      if (!details[index]) { details[index] = buildDetail(index); }
      row.parentNode.insertBefore(details[index], row.nextSibling);
      details[index].hidden = row.hidden;
    } else if (details[index] && details[index].parentNode) {
      details[index].parentNode.removeChild(details[index]);
    }
  }

  body.addEventListener("click", function (event) {
    var button = event.target.closest("button.kx");
    if (!button) { return; }
    var row = button.closest(".r");
    setOpen(row, !isOpen(row));
  });

  /* ---- sorting ---- */
  /* Sort and filter values come from the data blob, not the DOM. */
  var facts = data.keys.map(function (k) {
    var open = (k.f || []).filter(function (f) { return !(f[4] & 2); });
    var sev = open.reduce(function (low, f) { return Math.min(low, f[0]); }, 99);
    var band = "none";
    if (!k.r) { for (var b = 0; b < data.bands.length; b++) { if (k.b[2] >= data.bands[b][1]) { band = data.bands[b][0]; break; } } }
    var flags = [];
    if (k.fa && !k.r) { flags.push("legacy"); }
    if (open.length) { flags.push("findings"); }
    if (open.some(function (f) { return f[4] & 1; })) { flags.push("new"); }
    if (k.x) { flags.push("excess"); }
    if (k.dn) { flags.push("denied"); }
    return { sev: sev, band: band, flags: " " + flags.join(" ") + " " };
  });
  var keyText = rows.map(function (row) { return row.querySelector("button.kx").textContent; });
  function sortValue(row, field) {
    var i = indexOf(row), k = data.keys[i];
    switch (field) {
      case "id": return keyText[i];
      case "risk": return k.r ? -1 : k.b[2];
      case "conf": return CONF[k.c];
      case "last": return k.l === undefined ? -1e9 : k.l;
      case "req": return k.q;
      case "sev": return facts[i].sev;
    }
    return 0;
  }
  function sortBy(th) {
    var field = th.getAttribute("data-sort");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    if (field !== "id" && th.getAttribute("aria-sort") === null) {
      ascending = field === "sev" || field === "conf";
    }
    Array.prototype.forEach.call(table.querySelectorAll("[role=columnheader]"), function (cell) { cell.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var order = rows.slice().sort(function (a, b) {
      var x = sortValue(a, field), y = sortValue(b, field);
      var c = x < y ? -1 : x > y ? 1 : 0;
      if (c === 0) { return indexOf(a) - indexOf(b); }
      return ascending ? c : -c;
    });
    /* Refill the row groups in the new order, each open key's detail after its row. */
    chunks.forEach(function (chunk, c) {
      var fragment = document.createDocumentFragment();
      order.slice(c * CHUNK, (c + 1) * CHUNK).forEach(function (row) {
        fragment.appendChild(row);
        var d = details[indexOf(row)];
        if (d && isOpen(row)) { fragment.appendChild(d); }
      });
      chunk.appendChild(fragment);
    });
  }
  Array.prototype.forEach.call(table.querySelectorAll("[data-sort] button.sort"), function (button) {
    button.addEventListener("click", function () { sortBy(button.closest("[data-sort]")); });
  });

  /* ---- filtering ---- */
  var query = document.getElementById("q"), band = document.getElementById("f-band");
  var conf = document.getElementById("f-conf"), flag = document.getElementById("f-flag");
  var count = document.getElementById("count");
  function applyFilter() {
    if (searchText === null) {
      searchText = rows.map(function (row) { return row.children[0].textContent.toLowerCase() + " " + row.children[1].textContent.toLowerCase(); });
    }
    var words = query.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row, n) {
      var i = indexOf(row), fact = facts[i];
      var ok = (!band.value || fact.band === band.value) &&
        (!conf.value || data.keys[i].c === conf.value) &&
        (!flag.value || fact.flags.indexOf(" " + flag.value + " ") >= 0) &&
        words.every(function (w) { return searchText[n].indexOf(w) >= 0; });
      row.hidden = !ok;
      var d = details[i];
      if (d) { d.hidden = !ok; }
      if (ok) { shown++; }
    });
    count.textContent = "Showing " + num(shown) + " of " + num(rows.length) + " keys";
    return shown;
  }
  var timer = null;
  query.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(applyFilter, 120); });
  [band, conf, flag].forEach(function (select) { select.addEventListener("change", applyFilter); });
  document.getElementById("expand").addEventListener("click", function () {
    var shown = rows.filter(function (row) { return !row.hidden; });
    shown.slice(0, 500).forEach(function (row) { setOpen(row, true); });
  });
  document.getElementById("collapse").addEventListener("click", function () {
    rows.forEach(function (row) { setOpen(row, false); });
  });
  document.getElementById("controls").hidden = false;
  count.textContent = "Showing " + num(rows.length) + " of " + num(rows.length) + " keys";

  /* ---- links to a key (#k12) open it ---- */
  function openFromHash() {
    var match = /^#k(\d+)$/.exec(location.hash);
    if (!match) { return; }
    var row = document.getElementById("k" + match[1]);
    if (!row || rows.indexOf(row) < 0) { return; }
    if (row.hidden) { query.value = ""; band.value = ""; conf.value = ""; flag.value = ""; applyFilter(); }
    setOpen(row, true);
    row.scrollIntoView();
  }
  window.addEventListener("hashchange", openFromHash);
  openFromHash();

  /* ---- printing: open the shown keys' details when there are few enough ---- */
  var PRINT_LIMIT = 200, openedForPrint = [];
  var note = document.getElementById("print-note");
  window.addEventListener("beforeprint", function () {
    var shown = rows.filter(function (row) { return !row.hidden; });
    if (shown.length <= PRINT_LIMIT) {
      shown.forEach(function (row) { if (!isOpen(row)) { setOpen(row, true); openedForPrint.push(row); } });
      note.textContent = "";
    } else {
      note.textContent = "Per-key details are printed only for keys opened on screen (" + num(shown.length) + " keys shown; filter to " + PRINT_LIMIT + " or fewer to print them all).";
    }
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (row) { setOpen(row, false); });
    openedForPrint = [];
  });
})();
{% endraw %}
