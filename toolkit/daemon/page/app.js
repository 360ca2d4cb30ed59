// emoedge's device page: plain JavaScript, no libraries, nothing from the internet.
//
// Access: the token lives in sessionStorage (this tab only, gone when it closes) and
// goes out as `Authorization: Bearer` on every request, never in a URL, where history,
// logs and Referer headers would keep it. The browser's EventSource cannot send that
// header, nor can an <img> showing MJPEG, so both streams are read with fetch() and
// parsed here (readEvents, readPreview).
//
// Load on the device: the page polls /v1/latest twice a second and /v1/status every
// 2 s, and stops polling (and the preview) while the tab is hidden; the history is
// re-read once a minute and grows in between from the stream's minute events.
"use strict";

const TOKEN_KEY = "emoedge.token";
const LATEST_MS = 500;
const STATUS_MS = 2000;
const HISTORY_MS = 60000;
const RETRY_MS = 2000;
const EVENTS_KEPT = 60;
const MAX_PAGES = 10; // 24 h of minutes is three pages of /v1/aggregates
// Okabe and Ito's colour-blind-safe palette, one colour per FER+ label.
const COLOURS = {
  neutral: "#8c8c8c", happiness: "#e69f00", surprise: "#f0e442", sadness: "#0072b2",
  anger: "#d55e00", disgust: "#009e73", fear: "#cc79a7", contempt: "#56b4e9",
};
const SPARE_COLOURS = ["#999933", "#882255", "#44aa99", "#332288", "#aa4499"];

const $ = (id) => document.getElementById(id);

let token = sessionStorage.getItem(TOKEN_KEY) || "";
let generation = 0; // bumped on sign-out: loops of an older generation end
let status = null;
let labels = [];
let hours = 1;
let history = null;
let latest = null;
let paused = false;
let pending = [];
let lastError = null;
let previewWanted = true;
let previewAbort = null;
let previewLive = false;
let eventsLive = false; // the event stream has answered; until then the note says it is connecting

class Unauthorized extends Error {}

// -- talking to the daemon ----------------------------------------------------------
async function request(path, signal) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(path, { headers, cache: "no-store", signal });
  if (response.status === 401) throw new Unauthorized(path);
  if (!response.ok) {
    let detail = "";
    try { detail = (await response.json()).error || ""; } catch (_) { /* not JSON */ }
    throw new Error(`${path}: HTTP ${response.status}${detail ? ` (${detail})` : ""}`);
  }
  return response;
}

const getJson = async (path) => (await request(path)).json();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function connection(text, bad) {
  const el = $("conn");
  el.textContent = text;
  el.classList.toggle("bad", Boolean(bad));
}

function failed(error, what) {
  if (error instanceof Unauthorized) {
    signOut("The daemon no longer accepts this token; enter the current one.");
    return;
  }
  if (error.name === "AbortError") return;
  connection(`Cannot reach the daemon (${what}): ${error.message}`, true);
}

// Run `step` every `ms` while signed in and the tab is visible.
function every(ms, step, what) {
  const mine = generation;
  const tick = async () => {
    if (mine !== generation) return;
    if (!document.hidden) {
      try { await step(); } catch (error) { failed(error, what); }
    }
    if (mine === generation) setTimeout(tick, ms);
  };
  tick();
}

// -- signing in -----------------------------------------------------------------------
function showLogin(message) {
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  connection(message ? "Signed out" : "This daemon needs its token", false);
  $("token").focus();
}

function signOut(message) {
  generation += 1;
  stopPreview();
  token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin(message);
}

async function signIn(event) {
  event.preventDefault();
  const given = $("token").value.trim();
  if (!given) {
    $("login-error").textContent = "Enter the token first.";
    return;
  }
  token = given;
  try {
    status = await getJson("/v1/status");
  } catch (error) {
    token = "";
    $("login-error").textContent = error instanceof Unauthorized
      ? "The daemon refused this token." : `Cannot reach the daemon: ${error.message}`;
    $("token").select();
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  begin();
}

async function start() {
  try {
    status = await getJson("/v1/status");
  } catch (error) {
    if (error instanceof Unauthorized) {
      token = "";
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("");
      return;
    }
    connection(`Cannot reach the daemon: ${error.message}; trying again`, true);
    setTimeout(start, RETRY_MS);
    return;
  }
  begin();
}

function begin() {
  generation += 1;
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = !token;
  showStatus(status);
  note(); // the mode is known from the status: say it before the event stream answers
  every(STATUS_MS, async () => showStatus(await getJson("/v1/status")), "status");
  every(LATEST_MS, async () => showLatest(await getJson("/v1/latest")), "latest frame");
  every(HISTORY_MS, loadHistory, "history");
  readEvents(generation);
}

// -- Now and Health -------------------------------------------------------------------
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

const count = (n, noun) => `${Number(n || 0).toLocaleString("en")} ${noun}${n === 1 ? "" : "s"}`;
const sentence = (text) => `${String(text).trim().replace(/[.\s]+$/, "")}.`;
const clock = (epoch) => new Date(epoch * 1000).toLocaleTimeString([], { hour12: false });

function colour(label) {
  if (COLOURS[label]) return COLOURS[label];
  let index = labels.indexOf(label);
  if (index < 0) { labels.push(label); index = labels.length - 1; }
  return SPARE_COLOURS[index % SPARE_COLOURS.length];
}

function textOn(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 ? "#000000" : "#ffffff";
}

const aggregatesOnly = () => Boolean(status && status.privacy === "aggregates");

function showStatus(s) {
  status = s;
  const build = s.build || {};
  if (build.labels && build.labels.length) {
    for (const label of build.labels) if (!labels.includes(label)) labels.push(label);
  }
  const source = s.source || {};
  const state = $("state");
  state.textContent = source.state || s.state;
  state.className = `badge ${source.state || s.state}`;
  $("source").textContent = source.spec || "";
  const total = s.timings_ms && s.timings_ms.total;
  $("fps").textContent = `${Number(s.fps || 0).toFixed(1)} fps${total ? ` · ${total.toFixed(0)} ms a frame` : ""}`;
  $("model").textContent = s.model || "?";
  $("build").textContent = [build.target, `${build.format || ""} ${build.precision || ""}`.trim(),
    build.runtime, build.detector].filter(Boolean).join(" · ");
  $("build").title = build.path || "";
  $("uptime").textContent = duration(s.uptime_s || 0);
  $("device").textContent = s.model ? `· ${s.model} on ${build.target || "?"}` : "";
  $("privacy").hidden = !aggregatesOnly();
  $("frame").hidden = aggregatesOnly();
  if (source.last_error) lastError = { text: source.last_error, time: source.last_error_at };
  else if (source.error) lastError = { text: source.error, time: Date.now() / 1000 };
  showHealth(s);
  showPreviewControl(s);
  connection(`Live · updated ${clock(Date.now() / 1000)}`, false);
}

function showHealth(s) {
  const source = s.source || {};
  $("dropped").textContent = String(s.dropped_frames ?? 0);
  $("reconnects").textContent = String(source.reconnects ?? 0);
  $("loop-errors").textContent = String(s.loop_errors ?? 0);
  $("written").textContent = `${count(s.events_written, "change")}, ${count(s.minutes_written, "minute")}`;
  const mqtt = s.mqtt || {};
  $("mqtt").textContent = mqtt.connected ? `connected · ${mqtt.published} sent`
    : (mqtt.published || mqtt.failed ? "disconnected" : "off");
  $("viewers").textContent = String(s.sse_clients ?? 0);

  let words;
  const state = source.state || s.state;
  if (state === "reconnecting") {
    const retry = source.retry_in_s != null ? ` Next try in ${Number(source.retry_in_s).toFixed(0)} s.` : "";
    words = `No frames: ${sentence(source.error || "the source stopped")}${retry}`;
  } else if (state === "starting") {
    words = "Starting: opening the source.";
  } else if (state === "stopped") {
    words = "The daemon is stopping.";
  } else {
    words = "Frames are flowing.";
    if (s.dropped_frames) words += ` The source dropped ${s.dropped_frames} frames the pipeline could not keep up with.`;
  }
  if (s.loop_errors) words += ` The pipeline failed on ${s.loop_errors} frames (the daemon's log says why).`;
  if (state === "running" || state === "starting") {
    words += lastError
      ? ` Last error, ${duration(Date.now() / 1000 - lastError.time)} ago: ${sentence(lastError.text)}`
      : ` No source errors since ${"last_error" in source ? "the daemon started" : "this page opened"}.`;
  }
  const el = $("health-words");
  el.textContent = words;
  el.classList.toggle("bad", state === "reconnecting" || state === "stopped");
}

function showLatest(data) {
  latest = data;
  const list = $("faces");
  list.replaceChildren();
  const caption = $("frame-caption");
  if (aggregatesOnly()) {
    const counts = Object.entries(data.counts || {}).sort((a, b) => b[1] - a[1]);
    const n = typeof data.faces === "number" ? data.faces : 0;
    caption.textContent = `${n} ${n === 1 ? "face" : "faces"} in the latest frame (counts only).`;
    for (const [label, count] of counts) list.append(item(label, `${label}: ${count}`));
    return;
  }
  const faces = Array.isArray(data.faces) ? data.faces : [];
  for (const face of faces) {
    list.append(item(face.label, `#${face.track_id} ${face.label} ${Math.round(face.score * 100)}%`));
  }
  const when = data.time ? ` at ${clock(data.time)}` : "";
  caption.textContent = data.frame_index == null ? "Waiting for the first frame…"
    : `${faces.length} ${faces.length === 1 ? "face" : "faces"} in frame ${data.frame_index}${when}`
      + (previewLive ? " · annotated preview" : " · boxes drawn from /v1/latest");
  if (!previewLive) drawBoxes(data);
}

function item(label, text) {
  const li = document.createElement("li");
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = colour(label);
  li.append(swatch, document.createTextNode(text));
  return li;
}

function theme(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// A canvas whose bitmap matches its CSS size (sharp on phones); returns its 2D context.
function fitCanvas(canvas, aspect) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, aspect ? width / aspect : canvas.clientHeight);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width, height };
}

function drawBoxes(data) {
  const canvas = $("frame");
  const faces = Array.isArray(data.faces) ? data.faces : [];
  let [fw, fh] = data.frame_size || [0, 0];
  if (!fw || !fh) { // an older daemon: fit the boxes
    fw = Math.max(640, ...faces.map((f) => f.box[0] + f.box[2]));
    fh = Math.max(480, ...faces.map((f) => f.box[1] + f.box[3]));
  }
  canvas.style.aspectRatio = `${fw} / ${fh}`;
  const { ctx, width, height } = fitCanvas(canvas, fw / fh);
  const scale = Math.min(width / fw, height / fh);
  ctx.fillStyle = theme("--frame-bg");
  ctx.fillRect(0, 0, width, height);
  ctx.font = "600 14px system-ui, sans-serif";
  ctx.textBaseline = "top";
  if (!faces.length) {
    ctx.fillStyle = theme("--frame-fg");
    ctx.fillText("No faces in the latest frame", 12, 12);
  }
  for (const face of faces) {
    const [x, y, w, h] = face.box.map((v) => v * scale);
    const fill = colour(face.label);
    ctx.strokeStyle = fill;
    ctx.lineWidth = 3;
    ctx.strokeRect(x, y, w, h);
    const text = `#${face.track_id} ${face.label} ${Math.round(face.score * 100)}%`;
    const tw = ctx.measureText(text).width + 8;
    const ty = y >= 20 ? y - 20 : y; // above the box, or inside it at the top edge
    const tx = Math.min(Math.max(0, x), Math.max(0, width - tw));
    ctx.fillStyle = fill;
    ctx.fillRect(tx, ty, tw, 20);
    ctx.fillStyle = textOn(fill);
    ctx.fillText(text, tx + 4, ty + 3);
  }
  canvas.dataset.mode = "boxes";
  canvas.dataset.faces = String(faces.length);
}

// -- the MJPEG preview, read with fetch() so the token goes in a header ---------------
function showPreviewControl(s) {
  const available = Boolean(s.preview) && !aggregatesOnly();
  const button = $("preview-toggle");
  button.hidden = !available;
  if (available && previewWanted && !previewAbort && !document.hidden) readPreview(generation);
  if ((!available || !previewWanted) && previewAbort) stopPreview();
}

function stopPreview() {
  if (previewAbort) previewAbort.abort();
  previewAbort = null;
  previewLive = false;
}

function indexOf(bytes, pattern, from) {
  outer: for (let i = from; i <= bytes.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

const HEAD_END = [13, 10, 13, 10];

async function readPreview(mine) {
  const abort = new AbortController();
  previewAbort = abort;
  const canvas = $("frame");
  try {
    const response = await request("/v1/preview.mjpeg", abort.signal);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done || mine !== generation) break;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
      let jpeg = null;
      for (;;) { // each part: --boundary, headers, blank line, Content-Length bytes
        const end = indexOf(buffer, HEAD_END, 0);
        if (end < 0) break;
        const head = decoder.decode(buffer.subarray(0, end));
        const length = Number((/content-length:\s*(\d+)/i.exec(head) || [])[1]);
        if (!length) { buffer = buffer.slice(end + 4); continue; }
        if (buffer.length < end + 4 + length) break;
        jpeg = buffer.slice(end + 4, end + 4 + length);
        buffer = buffer.slice(Math.min(buffer.length, end + 4 + length + 2));
      }
      if (jpeg) { // only the newest frame of a chunk is drawn
        const bitmap = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
        canvas.style.aspectRatio = `${bitmap.width} / ${bitmap.height}`;
        const { ctx, width, height } = fitCanvas(canvas, bitmap.width / bitmap.height);
        ctx.drawImage(bitmap, 0, 0, width, height);
        bitmap.close();
        previewLive = true;
        canvas.dataset.mode = "preview";
      }
    }
  } catch (error) {
    failed(error, "preview");
  } finally {
    if (previewAbort === abort) { previewAbort = null; previewLive = false; }
  }
}

// -- Events: /v1/events read with fetch(), parsed as server-sent events ----------------
async function readEvents(mine) {
  let retry = RETRY_MS;
  while (mine === generation) {
    try {
      const response = await request("/v1/events");
      eventsLive = true;
      note();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done || mine !== generation) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let kind = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) kind = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            else if (line.startsWith("retry:")) retry = Number(line.slice(6)) || RETRY_MS;
          }
          if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
        }
      }
    } catch (error) {
      eventsLive = false;
      if (error instanceof Unauthorized) { failed(error, "events"); return; }
      note(`Event stream interrupted (${error.message}); reconnecting…`);
    }
    if (mine === generation) await sleep(retry);
  }
}

function onEvent(kind, data) {
  if (kind === "minute") addMinute(data);
  if (kind === "state" && data.error) lastError = { text: data.error, time: data.time };
  const shown = kind === "track" || kind === "state" || (kind === "minute" && aggregatesOnly());
  if (!shown) return;
  if (paused) {
    pending.unshift(data);
    pending.length = Math.min(pending.length, EVENTS_KEPT);
    note();
    return;
  }
  addEvents([data]);
}

function describe(event) {
  if (event.type === "state") {
    return { label: null, text: event.error ? `Source ${event.state}: ${event.error}` : `Source ${event.state}` };
  }
  if (event.type === "minute") {
    return { label: null, text: `Minute ${clock(event.minute)}: ${count(event.faces, "face observation")} in ${count(event.frames, "frame")}` };
  }
  const score = event.score != null ? ` ${Math.round(event.score * 100)}%` : "";
  const text = {
    start: `#${event.track_id} appeared: ${event.label}${score}`,
    change: `#${event.track_id} ${event.previous} → ${event.label}${score}`,
    end: `#${event.track_id} left (last ${event.label})`,
  }[event.kind] || `#${event.track_id} ${event.kind} ${event.label}`;
  return { label: event.label, text };
}

function addEvents(events) {
  const list = $("event-list");
  const empty = list.querySelector(".empty");
  if (empty) empty.remove();
  for (const event of events.slice().reverse()) { // oldest first, so the newest ends on top
    const { label, text } = describe(event);
    const li = document.createElement("li");
    const time = document.createElement("time");
    const when = event.time || event.minute || Date.now() / 1000;
    time.dateTime = new Date(when * 1000).toISOString();
    time.textContent = clock(when);
    const what = document.createElement("span"); // swatch and words wrap as one
    what.className = "what";
    if (label) {
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour(label);
      what.append(swatch);
    }
    what.append(document.createTextNode(text));
    li.append(time, what);
    li.dataset.kind = event.type;
    list.prepend(li);
  }
  while (list.children.length > EVENTS_KEPT) list.lastElementChild.remove();
}

function note(text) {
  const el = $("events-note");
  if (text) { el.textContent = text; return; }
  if (paused) {
    el.textContent = `Paused · ${pending.length} new`;
  } else {
    const arrive = eventsLive ? "arrive here" : "will arrive here (connecting…)";
    el.textContent = aggregatesOnly()
      ? `Per-person track events are off in aggregates-only mode; minute totals ${arrive}.`
      : eventsLive ? "Live: track changes as they happen." : "Connecting to the event stream…";
  }
}

function togglePause() {
  paused = !paused;
  const button = $("pause");
  button.setAttribute("aria-pressed", String(paused));
  button.textContent = paused ? "Resume" : "Pause";
  if (!paused && pending.length) {
    addEvents(pending);
    pending = [];
  }
  note();
}

// -- The last hours: /v1/aggregates, paged, drawn as a stacked chart -------------------
async function loadHistory() {
  const until = Date.now() / 1000;
  const since = until - hours * 3600;
  const rows = [];
  let next = since;
  for (let page = 0; page < MAX_PAGES && next != null; page++) {
    const data = await getJson(`/v1/aggregates?since=${next.toFixed(3)}&until=${until.toFixed(3)}`);
    rows.push(...data.minutes);
    next = data.next;
  }
  history = { since, until, rows };
  drawChart();
}

function addMinute(row) {
  if (!history) return;
  const now = Date.now() / 1000;
  const shift = now - history.until;
  history.until = now;
  history.since += shift;
  history.rows = history.rows.filter((r) => r.minute >= history.since && r.minute !== row.minute);
  history.rows.push({ minute: row.minute, frames: row.frames, faces: row.faces, tracks: row.tracks, counts: row.counts || {} });
  drawChart();
}

function drawChart() {
  if (!history) return;
  const canvas = $("chart");
  const { ctx, width, height } = fitCanvas(canvas, null);
  const { since, until, rows } = history;
  const left = 44, right = 8, top = 24, gap = 30, bottom = 22;
  const plotW = Math.max(10, width - left - right);
  const shareH = Math.round((height - top - gap - bottom) * 0.68);
  const facesH = height - top - gap - bottom - shareH;
  const facesTop = top + shareH + gap;
  const fg = theme("--fg"), muted = theme("--muted"), grid = theme("--grid");
  ctx.clearRect(0, 0, width, height);
  ctx.font = "12px system-ui, sans-serif";

  // Buckets of whole minutes, at least 3 px wide, so 24 h still reads on a phone.
  const span = until - since;
  const bucket = 60 * Math.max(1, Math.ceil(span / 60 / (plotW / 3)));
  const buckets = new Map();
  for (const row of rows) {
    const key = Math.floor(row.minute / bucket) * bucket;
    const b = buckets.get(key) || { frames: 0, faces: 0, tracks: 0, counts: {} };
    b.frames += row.frames;
    b.faces += row.faces;
    b.tracks = Math.max(b.tracks, row.tracks);
    for (const [label, n] of Object.entries(row.counts)) {
      b.counts[label] = (b.counts[label] || 0) + n;
      colour(label);
    }
    buckets.set(key, b);
  }
  const x = (t) => left + ((t - since) / span) * plotW;
  const barW = Math.max(1, (bucket / span) * plotW - (bucket / span * plotW > 4 ? 1 : 0));
  let peak = 0;
  for (const b of buckets.values()) peak = Math.max(peak, b.frames ? b.faces / b.frames : 0);
  peak = peak > 0 ? Math.ceil(peak * 2) / 2 : 1;

  // Grid and axes.
  ctx.strokeStyle = grid;
  ctx.fillStyle = muted;
  ctx.lineWidth = 1;
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  for (const f of [0, 0.5, 1]) {
    const y = top + shareH * (1 - f);
    ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + plotW, y + 0.5); ctx.stroke();
    ctx.fillText(`${f * 100}%`, left - 6, y);
  }
  for (const f of [0, 1]) {
    const y = facesTop + facesH * (1 - f);
    ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + plotW, y + 0.5); ctx.stroke();
    ctx.fillText(f ? String(peak) : "0", left - 6, y);
  }
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillStyle = fg;
  ctx.fillText("Emotions (share of face observations)", left, top - 6);
  ctx.fillText("Faces in view (mean per frame)", left, facesTop - 6);
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  ctx.fillStyle = muted;
  const ticks = hours === 1 ? 4 : hours === 6 ? 6 : 8;
  for (let i = 0; i <= ticks; i++) {
    const t = since + (span * i) / ticks;
    const label = new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
    ctx.textAlign = i === 0 ? "left" : i === ticks ? "right" : "center";
    ctx.fillText(label, x(t), height - bottom + 6);
  }

  // Bars: stacked label shares above, faces per frame below.
  const order = labels.slice();
  for (const [key, b] of buckets) {
    const bx = x(key);
    const total = Object.values(b.counts).reduce((a, n) => a + n, 0);
    if (total > 0) {
      let y = top + shareH;
      for (const label of order) {
        const n = b.counts[label] || 0;
        if (!n) continue;
        const h = (n / total) * shareH;
        ctx.fillStyle = colour(label);
        ctx.fillRect(bx, y - h, barW, h);
        y -= h;
      }
    }
    const perFrame = b.frames ? b.faces / b.frames : 0;
    const h = (perFrame / peak) * facesH;
    ctx.fillStyle = theme("--accent");
    ctx.fillRect(bx, facesTop + facesH - h, barW, h);
  }
  canvas.dataset.minutes = String(rows.length);
  canvas.dataset.buckets = String(buckets.size);
  legend();
  summarise(rows);
}

function legend() {
  const list = $("legend");
  list.replaceChildren(...labels.map((label) => item(label, label)));
  const faces = document.createElement("li");
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = theme("--accent");
  faces.append(swatch, document.createTextNode("faces in view"));
  list.append(faces);
}

function summarise(rows) {
  const el = $("chart-summary");
  if (!rows.length) {
    el.textContent = `Nothing logged in the last ${hours} h yet (a minute is written when it ends).`;
    return;
  }
  const totals = {};
  let faces = 0, frames = 0;
  for (const row of rows) {
    faces += row.faces;
    frames += row.frames;
    for (const [label, n] of Object.entries(row.counts)) totals[label] = (totals[label] || 0) + n;
  }
  const sum = Object.values(totals).reduce((a, n) => a + n, 0) || 1;
  const top = Object.entries(totals).sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([label, n]) => `${label} ${Math.round((100 * n) / sum)}%`).join(", ");
  el.textContent = `Last ${hours} h: ${count(rows.length, "minute")} logged, ${count(faces, "face observation")} in ${count(frames, "frame")}`
    + (top ? `; most shown: ${top}.` : ".");
}

function setRange(event) {
  const button = event.target.closest("button[data-hours]");
  if (!button) return;
  hours = Number(button.dataset.hours);
  for (const other of document.querySelectorAll(".range button")) {
    other.setAttribute("aria-pressed", String(other === button));
  }
  loadHistory().catch((error) => failed(error, "history"));
}

// -- wiring ---------------------------------------------------------------------------
function redraw() {
  if (history) drawChart();
  if (latest && !previewLive && !aggregatesOnly()) drawBoxes(latest);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut(""));
  $("pause").addEventListener("click", togglePause);
  $("preview-toggle").addEventListener("click", () => {
    previewWanted = !previewWanted;
    const button = $("preview-toggle");
    button.setAttribute("aria-pressed", String(previewWanted));
    button.textContent = previewWanted ? "Preview: on" : "Preview: off";
    if (status) showPreviewControl(status);
    if (!previewWanted && latest) drawBoxes(latest);
  });
  document.querySelector(".range").addEventListener("click", setRange);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopPreview();
    else if (status) showPreviewControl(status);
  });
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(redraw, 150);
  });
  const list = $("event-list");
  const empty = document.createElement("li");
  empty.className = "empty";
  empty.textContent = "No events yet: they appear as tracks start, change and end.";
  list.append(empty);
  start();
});
