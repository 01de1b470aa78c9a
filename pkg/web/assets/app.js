// spx archive page: coverage calendar, live pipeline, recent errors.
// Everything comes from the JSON API beside this file; nothing external.
"use strict";

const LEGEND = [
  ["success", "success"], ["partial", "partial"], ["failed", "failed"],
  ["no_data", "no data"], ["pending", "queued / processing"],
  ["missing", "missing"], ["future", "not closed yet"],
];
const MONTHS = ["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"];

const state = { info: null, year: null, days: "", errors: "", selected: null, terminal: null, health: null };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
const $ = (id) => document.getElementById(id);

async function api(path, opts) {
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({ error: "bad reply from " + path }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function fmtInt(n) { return Number(n || 0).toLocaleString("en-US"); }
function fmtBytes(n) {
  n = Number(n || 0);
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
// A job key as the CLI prints it: greeks.SPXW.20240102.20240105.
function jobKey(k) {
  if (typeof k === "string") return k;
  const c = (d) => String(d || "").replaceAll("-", "");
  return [k.Dataset, k.Root, c(k.Date), c(k.Expiration)].join(".");
}
function fmtTime(t) { return t ? new Date(t).toLocaleString() : "-"; }

function renderLegend() {
  const ul = $("legend");
  ul.replaceChildren(...LEGEND.map(([c, label]) =>
    el("li", {}, el("span", { class: "cell " + c }), label)));
}

function cellTitle(d) {
  let t = d.date + " — " + (d.status || (d.cell === "future" ? "not closed yet" : "missing"));
  if (d.early_close) t += " (early close)";
  if (d.status) {
    t += "\nrows " + fmtInt(d.rows) + ", " + fmtBytes(d.bytes) + ", jobs " + d.jobs_done + "/" + d.jobs_total;
    if (d.retry_count) t += ", retries " + d.retry_count;
  }
  if (d.error_message) t += "\nerror: " + d.error_message;
  return t;
}

async function loadCalendar() {
  const cov = await api("/api/calendar?year=" + state.year);
  const grid = el("div", { class: "cal", "data-year": String(cov.year) });
  grid.append(el("span"));
  for (let d = 1; d <= 31; d++) grid.append(el("span", { class: "dh", text: d % 5 === 0 || d === 1 ? String(d) : "" }));
  const byDate = new Map(cov.days.map((d) => [d.date, d]));
  for (let m = 0; m < 12; m++) {
    grid.append(el("span", { class: "mh", text: MONTHS[m] }));
    for (let day = 1; day <= 31; day++) {
      const iso = cov.year + "-" + String(m + 1).padStart(2, "0") + "-" + String(day).padStart(2, "0");
      const d = byDate.get(iso);
      if (!d) { grid.append(el("span", { class: "cell off" })); continue; }
      const b = el("button", {
        class: "cell " + d.cell + (d.early_close ? " early" : "") + (state.selected === iso ? " selected" : ""),
        type: "button", title: cellTitle(d), "data-date": iso, "data-cell": d.cell,
        "data-status": d.status || "",
      });
      b.setAttribute("aria-label", cellTitle(d));
      b.addEventListener("click", () => openDay(d));
      grid.append(b);
    }
  }
  $("calendar").replaceChildren(grid);
  const counts = LEGEND.filter(([c]) => cov.counts[c]).map(([c, label]) => cov.counts[c] + " " + label).join(", ");
  $("calendar").append(el("p", { class: "muted", text: cov.year + ": " + cov.days.length + " sessions — " + counts }));
}

async function openDay(d) {
  state.selected = d.date;
  document.querySelectorAll(".cell.selected").forEach((c) => c.classList.remove("selected"));
  const c = document.querySelector('.cell[data-date="' + d.date + '"]');
  if (c) c.classList.add("selected");
  $("day").hidden = false;
  $("day").dataset.date = d.date;
  $("day-title").textContent = d.date + " — " + (d.status || d.cell);
  $("day-summary").textContent = d.status
    ? fmtInt(d.rows) + " rows, " + fmtBytes(d.bytes) + ", jobs " + d.jobs_done + "/" + d.jobs_total +
      (d.retry_count ? ", retried " + d.retry_count + "×" : "") + (d.error_message ? " — " + d.error_message : "")
    : "no record for this trading day";
  $("retry-result").textContent = "";
  const jobs = await api("/api/jobs?date=" + d.date);
  const retryable = jobs.some((j) => j.outcome === "failed" || j.outcome === "dead");
  const btn = $("retry");
  btn.hidden = !(state.info && state.info.retry && (retryable || d.status === "failed" || d.status === "partial"));
  btn.disabled = false;
  $("jobs").tBodies[0].replaceChildren(...jobs.map((j) => el("tr", { "data-outcome": j.outcome },
    el("td", { text: jobKey(j.key) }), el("td", { text: j.outcome }),
    el("td", { class: "num", text: fmtInt(j.rows) }), el("td", { class: "num", text: fmtBytes(j.bytes) }),
    el("td", { class: "num", text: String(j.attempts) }),
    el("td", { class: "err", text: j.last_error ? (j.error_class ? j.error_class + ": " : "") + j.last_error : "" }))));
  if (jobs.length === 0) $("jobs").tBodies[0].append(el("tr", {}, el("td", { text: "no jobs recorded", colSpan: 6 })));
}

async function retryDay() {
  const date = $("day").dataset.date;
  const btn = $("retry");
  btn.disabled = true;
  try {
    const r = await api("/api/retry", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ date }) });
    $("retry-result").textContent = "queued " + r.jobs + " job" + (r.jobs === 1 ? "" : "s") + " again";
    $("retry-result").dataset.jobs = String(r.jobs);
    await loadCalendar();
  } catch (e) {
    $("retry-result").textContent = "retry failed: " + e.message;
    btn.disabled = false;
  }
}

// renderTerminal shows the Theta Terminal's state in the header badge and
// the Terminal card: while it is not up, planning and fetching wait for it,
// and the card says why. t is nil when nothing here watches the terminal.
function renderTerminal() {
  const t = state.terminal, h = state.health;
  const badge = $("terminal-badge"), line = $("terminal-state");
  badge.hidden = !t;
  line.hidden = !t;
  if (!t) return;
  const since = t.since ? " since " + fmtTime(t.since) : "";
  const api = t.api ? " (" + t.api + ")" : "";
  const p50 = h && h.requests > 0 && h.latency_ms ? " · p50 " + Math.round(h.latency_ms.p50 || 0) + " ms" : "";
  badge.dataset.state = t.state;
  badge.textContent = "terminal " + t.state + (t.state === "up" ? api + p50 : since);
  badge.title = t.state === "up" ? (t.url || "") : (t.last_error || "");
  line.dataset.state = t.state;
  const parts = [el("strong", { text: t.state }), api + since];
  if (t.state === "up") {
    if (t.url) parts.push(" at " + t.url);
  } else if (t.state === "unknown") {
    parts.push(": not checked yet");
  } else {
    parts.push(": planning and fetching wait for it");
    if (t.last_error) parts.push(el("span", { class: "why", text: t.last_error }));
  }
  line.replaceChildren(...parts);
}

// renderNATSStore shows in the header whether the NATS store has room:
// while it is full, fetchers take no job until writers make room or space
// is freed.
function renderNATSStore(st) {
  const b = $("nats-store");
  b.hidden = !st;
  if (!st) return;
  b.dataset.full = String(st.full);
  b.textContent = st.full ? "NATS store full" + (st.since ? " since " + fmtTime(st.since) : "") : "NATS store ok";
  const staged = "staged " + fmtBytes(st.staged_bytes || 0) + (st.staged_limit_bytes ? " of " + fmtBytes(st.staged_limit_bytes) : "");
  b.title = st.full ? (st.reason || "") + " · fetchers wait for writers to make room, or for space to be freed" : staged;
}

function renderLive(rep) {
  state.terminal = rep.terminal || null;
  state.health = rep.running && rep.stats ? rep.stats.terminal : null;
  renderTerminal();
  renderNATSStore(rep.nats_store);
  $("live-off").hidden = rep.running;
  $("live-on").hidden = !rep.running;
  if (!rep.running) {
    $("live-off").textContent = rep.error ? rep.error : "pipeline not running";
    return;
  }
  const s = rep.stats;
  $("queues").tBodies[0].replaceChildren(...(s.queues || []).map((q) => el("tr", { "data-stage": q.stage },
    el("td", { text: q.stage }), el("td", { class: "num", text: fmtInt(q.pending) }),
    el("td", { class: "num", text: fmtInt(q.in_flight) }), el("td", { class: "num", text: fmtInt(q.dead) }))));
  $("workers").replaceChildren(...(s.workers || []).map((w) => el("li", { text: w.role + ": " + w.connected + " connected" })));
  renderThroughput(s.throughput || []);
  const t = s.terminal || {};
  const l = t.latency_ms || {};
  const errs = Object.entries(t.errors_per_min || {}).map(([k, v]) => k + " " + v.toFixed(1) + "/min").join(", ") || "none";
  $("terminal-health").replaceChildren(
    el("dt", { text: "window" }), el("dd", { text: t.window || "-" }),
    el("dt", { text: "responses" }), el("dd", { text: fmtInt(t.requests) }),
    el("dt", { text: "latency p50 / p95" }), el("dd", { text: Math.round(l.p50 || 0) + " / " + Math.round(l.p95 || 0) + " ms" }),
    el("dt", { text: "errors" }), el("dd", { text: errs }));
}

// renderThroughput draws rows/s and MB/s as two charts, each scaled to its
// own peak: in one chart the two lines have the same shape whenever every
// job writes about as many bytes per row, and the second hid the first.
function renderThroughput(pts) {
  const last = pts.length ? pts[pts.length - 1] : { rows_per_sec: 0, bytes_per_sec: 0 };
  const peak = (key) => Math.max(0, ...pts.map((p) => p[key]));
  $("rate-rows").textContent = fmtInt(Math.round(last.rows_per_sec));
  $("peak-rows").textContent = "peak " + fmtInt(Math.round(peak("rows_per_sec")));
  $("rate-bytes").textContent = (last.bytes_per_sec / 1e6).toFixed(2);
  $("peak-bytes").textContent = "peak " + (peak("bytes_per_sec") / 1e6).toFixed(2);
  const span = pts.length > 1 ? (new Date(pts[pts.length - 1].time) - new Date(pts[0].time)) / 1000 : 0;
  $("rate-window").textContent = span > 0 ? "last " + Math.round(span / 60) + " min, newest at the right" : "";
  drawSpark($("spark-rows"), pts, "rows_per_sec");
  drawSpark($("spark-bytes"), pts, "bytes_per_sec");
}

function drawSpark(svg, pts, key) {
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (pts.length < 2) return;
  const max = Math.max(1, ...pts.map((p) => p[key]));
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.map((p, i) => (i * 300 / (pts.length - 1)).toFixed(1) + "," + (38 - 36 * p[key] / max).toFixed(1)).join(" "));
  svg.append(line);
}

async function loadErrors() {
  const errs = await api("/api/errors?limit=20");
  $("errors-none").hidden = errs.length > 0;
  $("error-list").replaceChildren(...errs.map((e) => {
    const what = e.job || e.date || "";
    const li = el("li", { "data-type": e.type },
      el("div", {}, el("span", { class: "muted", text: fmtTime(e.time) + " · " + e.type + (what ? " · " : "") }),
        e.date ? el("button", { class: "link", type: "button", text: what, onclick: () => openDate(e.date) }) : what),
      el("div", { class: "msg", text: e.message }),
      el("div", { class: "advice", text: e.advice }));
    return li;
  }));
}

async function openDate(iso) {
  const y = Number(iso.slice(0, 4));
  if (y !== state.year && state.info.years.includes(y)) {
    state.year = y;
    $("year").value = String(y);
    await loadCalendar();
  }
  const c = document.querySelector('.cell[data-date="' + iso + '"]');
  if (c) c.click();
}

async function loadStatus() {
  const s = await api("/api/status?errors=0");
  state.terminal = s.terminal || null;
  renderTerminal();
  renderNATSStore(s.nats_store);
  const days = Object.entries(s.days).map(([k, v]) => v + " " + k.replace("_", " ")).join(", ") || "none";
  $("summary").textContent = s.days_total + " days recorded (" + days + ") · " + fmtInt(s.rows) + " rows · " + fmtBytes(s.bytes) +
    (s.last_activity ? " · last activity " + fmtTime(s.last_activity) : "");
}

async function onUpdate(rep) {
  renderLive(rep);
  if (rep.errors !== state.errors && rep.days === state.days) {
    // A terminal outage changes the error log but no day.
    state.errors = rep.errors;
    await loadErrors();
  }
  if (rep.days !== state.days) {
    state.errors = rep.errors;
    state.days = rep.days;
    await Promise.all([loadCalendar(), loadErrors(), loadStatus()]);
    if (state.selected && !$("day").hidden) {
      const c = document.querySelector('.cell[data-date="' + state.selected + '"]');
      if (c) c.click();
    }
  }
}

function connect() {
  const es = new EventSource("/api/stream");
  es.addEventListener("update", (ev) => {
    $("conn").textContent = "live";
    $("conn").classList.add("live");
    onUpdate(JSON.parse(ev.data)).catch(showError);
  });
  es.onerror = () => { $("conn").textContent = "reconnecting"; $("conn").classList.remove("live"); };
}

function showError(e) { $("summary").textContent = "error: " + e.message; }

async function main() {
  renderLegend();
  state.info = await api("/api/info");
  const sel = $("year");
  sel.replaceChildren(...state.info.years.map((y) => el("option", { value: String(y), text: String(y) })));
  state.year = state.info.years[state.info.years.length - 1];
  sel.value = String(state.year);
  sel.addEventListener("change", () => { state.year = Number(sel.value); loadCalendar().catch(showError); });
  $("retry").addEventListener("click", retryDay);
  $("day-close").addEventListener("click", () => { $("day").hidden = true; state.selected = null; });
  await Promise.all([loadCalendar(), loadErrors(), loadStatus()]);
  document.body.dataset.ready = "1";
  connect();
}

main().catch(showError);
