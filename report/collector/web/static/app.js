// The collector's web page: network-verdict timelines (uPlot), with the service
// verdicts of each network beside them, most-blocked domains and recent measurements, all drawn from the public API of this same collector.
"use strict";

// Network verdicts in the order of the story they tell, with their colours.
const VERDICTS = ["online", "throttled", "partial_shutdown", "whitelist", "full_shutdown", "local_failure"];
const COLORS = {
  online: "#3a9d48",
  throttled: "#f1c40f",
  partial_shutdown: "#e67e22",
  whitelist: "#8e44ad",
  full_shutdown: "#c0392b",
  local_failure: "#95a5a6",
};
const STEP = { day: 86400, hour: 3600 };

// The messaging and circumvention nettests, and their service verdicts
// (docs/methodology-services.md), drawn under each network's band.
const SERVICES = ["whatsapp", "telegram", "signal", "facebook_messenger", "tor", "dnscheck"];
const SERVICE_VERDICTS = ["ok", "degraded", "blocked", "inconclusive"];
const SERVICE_COLORS = { ok: "#3a9d48", degraded: "#e67e22", blocked: "#c0392b", inconclusive: "#95a5a6" };

// window.vantage exposes what was drawn, for people and for the browser test.
const state = (window.vantage = { renders: 0, timelines: [], services: [], plots: [] });

const $ = (id) => document.getElementById(id);

async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
  const resp = await fetch(path + (q.toString() ? "?" + q : ""));
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function filters() {
  return {
    probe_cc: $("f-cc").value,
    probe_asn: $("f-asn").value,
    since: $("f-since").value,
    until: $("f-until").value,
  };
}

function fillSelect(sel, values, keepFirst) {
  const current = sel.value;
  while (sel.options.length > (keepFirst ? 1 : 0)) sel.remove(sel.options.length - 1);
  for (const v of values) sel.add(new Option(v, v));
  if (values.includes(current)) sel.value = current;
}

async function loadCountries() {
  const agg = await api("/api/v1/aggregate", { by: "probe_cc", order: "count" });
  const ccs = agg.results.map((r) => r.probe_cc).filter(Boolean);
  fillSelect($("f-cc"), ccs, false);
  const wanted = new URLSearchParams(location.search).get("probe_cc");
  if (wanted && ccs.includes(wanted.toUpperCase())) $("f-cc").value = wanted.toUpperCase();
}

async function loadNetworks() {
  const cc = $("f-cc").value;
  const agg = await api("/api/v1/aggregate", { probe_cc: cc, by: "probe_asn", order: "count" });
  fillSelect($("f-asn"), agg.results.map((r) => r.probe_asn).filter(Boolean), true);
}

// bandsOf turns aggregate rows into, per band, the dominant verdict of each time
// bucket: labelsOf names the bands a row counts in (its network, the country).
function bandsOf(rows, grain, verdicts, labelsOf) {
  const counts = new Map(); // label -> bucket -> verdict -> count
  const add = (label, t, v, n) => {
    if (!counts.has(label)) counts.set(label, new Map());
    const byT = counts.get(label);
    if (!byT.has(t)) byT.set(t, {});
    byT.get(t)[v] = (byT.get(t)[v] || 0) + n;
  };
  for (const r of rows) {
    if (!verdicts.includes(r.verdict)) continue;
    const t = Date.parse(r[grain] + (grain === "day" ? "T00:00:00Z" : "")) / 1000;
    for (const label of labelsOf(r)) add(label, t, r.verdict, r.count);
  }
  const bands = [];
  for (const [label, byT] of counts) {
    const dominant = new Map();
    for (const [t, c] of byT) {
      dominant.set(t, verdicts.reduce((best, v) => ((c[v] || 0) > (c[best] || 0) ? v : best), verdicts[0]));
    }
    bands.push({ label, dominant, verdicts });
  }
  return bands;
}

// networkBands: one band per network, and the country's summing them all.
function networkBands(rows, grain) {
  const country = $("f-cc").value + " (all networks)";
  const bands = bandsOf(rows, grain, VERDICTS, (r) => [country, r.probe_asn]);
  for (const b of bands) b.country = b.label === country;
  return bands;
}

// serviceBands: per network (and for the country), one band per service measured.
function serviceBands(rows, grain) {
  const country = $("f-cc").value + " (all networks)";
  const rowsOf = rows.filter((r) => SERVICES.includes(r.test_name));
  const bands = bandsOf(rowsOf, grain, SERVICE_VERDICTS,
    (r) => [country + "\n" + r.test_name, r.probe_asn + "\n" + r.test_name]);
  for (const b of bands) {
    [b.network, b.service] = b.label.split("\n");
    b.label = b.service;
    b.isService = true;
  }
  return bands;
}

function axisOf(bands, grain) {
  const f = filters();
  const step = STEP[grain];
  let lo = Infinity;
  let hi = -Infinity;
  for (const b of bands) for (const t of b.dominant.keys()) { lo = Math.min(lo, t); hi = Math.max(hi, t); }
  if (f.since) lo = Math.min(lo, Date.parse(f.since) / 1000);
  if (f.until) hi = Math.max(hi, Date.parse(f.until) / 1000 - step);
  const xs = [];
  for (let t = Math.floor(lo / step) * step; t <= hi && xs.length < 5000; t += step) xs.push(t);
  // One empty bucket more: each bar is drawn from its bucket's start to the next.
  if (xs.length) xs.push(xs[xs.length - 1] + step);
  return xs;
}

function plotBand(el, band, xs, width, showAxis) {
  const verdicts = band.verdicts;
  const colors = band.isService ? SERVICE_COLORS : COLORS;
  const data = [xs];
  for (const v of verdicts) data.push(xs.map((t) => (band.dominant.get(t) === v ? 1 : null)));
  const opts = {
    width,
    height: (band.country ? 40 : band.isService ? 14 : 28) + (showAxis ? 24 : 0),
    legend: { show: false },
    cursor: { y: false, points: { show: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    // Fixed side padding keeps every band on the same time axis, with or without labels.
    padding: [2, 16, 0, 16],
    scales: { x: { time: true }, y: { range: [0, 1] } },
    axes: [{ show: showAxis, size: 24, font: "11px system-ui" }, { show: false }],
    series: [{}].concat(verdicts.map((v) => ({
      label: v,
      fill: colors[v],
      stroke: colors[v],
      width: 0,
      points: { show: false },
      paths: uPlot.paths.bars({ size: [1, Infinity], gap: 0, align: 1 }),
    }))),
  };
  return new uPlot(opts, data, el);
}

async function renderTimelines() {
  const f = filters();
  const grain = $("f-grain").value;
  const [agg, svc] = await Promise.all([
    api("/api/v1/aggregate", {
      test_name: "connectivity", probe_cc: f.probe_cc, probe_asn: f.probe_asn,
      since: f.since, until: f.until, by: grain + ",probe_asn,verdict",
    }),
    api("/api/v1/aggregate", {
      probe_cc: f.probe_cc, probe_asn: f.probe_asn,
      since: f.since, until: f.until, by: grain + ",probe_asn,test_name,verdict",
    }),
  ]);
  for (const p of state.plots) p.destroy();
  state.plots = [];
  state.timelines = [];
  state.services = [];
  const box = $("timelines");
  box.replaceChildren();
  const bands = networkBands(agg.results, grain);
  const services = serviceBands(svc.results, grain);
  if (bands.length === 0 && services.length === 0) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "No connectivity measurements match these filters.";
    box.append(p);
    return;
  }
  const xs = axisOf(bands.concat(services), grain);
  const width = Math.max(300, box.clientWidth - 160);
  // Each network's band, then its services' bands in SERVICES order; networks with
  // service measurements only still get their service bands.
  const country = $("f-cc").value + " (all networks)";
  const networks = [...new Set(bands.map((b) => b.label).concat(services.map((b) => b.network)))];
  networks.sort((a, b) => ((b === country) - (a === country)) || a.localeCompare(b));
  const rows = [];
  for (const n of networks) {
    const band = bands.find((b) => b.label === n);
    if (band) rows.push(band);
    const own = services.filter((b) => b.network === n);
    own.sort((a, b) => SERVICES.indexOf(a.service) - SERVICES.indexOf(b.service));
    rows.push(...own);
  }
  for (const [i, band] of rows.entries()) {
    const row = document.createElement("div");
    row.className = "timeline" + (band.country ? " country" : "") + (band.isService ? " service" : "");
    row.dataset.label = band.isService ? band.network : band.label;
    if (band.isService) row.dataset.service = band.service;
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = band.label;
    const chart = document.createElement("div");
    chart.className = "chart";
    row.append(label, chart);
    box.append(row);
    const plot = plotBand(chart, band, xs, width, band.country || i === rows.length - 1);
    state.plots.push(plot);
    const drawn = { label: band.label, series: plot.series.length - 1, buckets: band.dominant.size };
    if (band.isService) {
      state.services.push({ network: band.network, service: band.service, ...drawn,
        verdicts: Object.fromEntries(band.dominant) });
    } else {
      state.timelines.push(drawn);
    }
  }
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

async function renderBlocked() {
  const f = filters();
  const agg = await api("/api/v1/aggregate", {
    test_name: "web_connectivity", verdict: "blocked", probe_cc: f.probe_cc, probe_asn: f.probe_asn,
    since: f.since, until: f.until, by: "domain,method", order: "count", limit: "20",
  });
  const tbody = $("blocked").tBodies[0];
  tbody.replaceChildren();
  for (const r of agg.results) {
    const tr = document.createElement("tr");
    cell(tr, r.domain);
    cell(tr, r.method);
    cell(tr, r.count);
    tbody.append(tr);
  }
}

async function renderRecent() {
  const f = filters();
  const list = await api("/api/v1/measurements", { ...f, limit: "25" });
  const tbody = $("recent").tBodies[0];
  tbody.replaceChildren();
  for (const m of list.results) {
    const tr = document.createElement("tr");
    const a = document.createElement("a");
    a.href = m.measurement_url;
    a.textContent = m.measurement_start_time;
    tr.append(document.createElement("td"));
    tr.firstChild.append(a);
    cell(tr, m.probe_cc);
    cell(tr, m.probe_asn);
    cell(tr, m.test_name);
    cell(tr, m.input, "input").title = m.input || "";
    cell(tr, m.verdict, m.verdict === "blocked" ? "v-blocked" : "");
    cell(tr, m.method);
    tbody.append(tr);
  }
}

async function render() {
  try {
    await Promise.all([renderTimelines(), renderBlocked(), renderRecent()]);
  } catch (err) {
    $("timelines").replaceChildren(Object.assign(document.createElement("p"), { className: "empty", textContent: "Error: " + err.message }));
  }
  state.renders++;
  document.body.dataset.renders = String(state.renders);
}

function legend() {
  for (const [id, verdicts, colors] of [["legend", VERDICTS, COLORS], ["service-legend", SERVICE_VERDICTS, SERVICE_COLORS]]) {
    for (const v of verdicts) {
      const li = document.createElement("li");
      li.textContent = v;
      li.style.setProperty("--c", colors[v]);
      $(id).append(li);
    }
  }
}

async function main() {
  legend();
  const q = new URLSearchParams(location.search);
  for (const k of ["since", "until"]) if (q.get(k)) $("f-" + k).value = q.get(k);
  await loadCountries();
  await loadNetworks();
  if (q.get("probe_asn")) $("f-asn").value = q.get("probe_asn").toUpperCase();
  $("f-cc").addEventListener("change", async () => { await loadNetworks(); $("f-asn").value = ""; render(); });
  for (const id of ["f-asn", "f-since", "f-until", "f-grain"]) $(id).addEventListener("change", render);
  await render();
}

main();
