// Front end of workbench's section labeler (an anywidget ES module, bundled by esbuild).
//
// Python is the source of truth: this page draws the traitlets the kernel sets (track, labels,
// suggestions, message, error, ...) and sends every edit to the kernel as a message
// ({action: "update", id, start_beat, end_beat}, ...); the kernel applies it through
// workbench.labels and sets the traitlets again. Waveform, spectrogram, regions (drag, resize),
// timeline, zoom and minimap are wavesurfer.js v7 and its plugins.
import WaveSurfer from "wavesurfer.js";
import RegionsPlugin from "wavesurfer.js/dist/plugins/regions.esm.js";
import TimelinePlugin from "wavesurfer.js/dist/plugins/timeline.esm.js";
import ZoomPlugin from "wavesurfer.js/dist/plugins/zoom.esm.js";
import MinimapPlugin from "wavesurfer.js/dist/plugins/minimap.esm.js";
import SpectrogramPlugin from "wavesurfer.js/dist/plugins/spectrogram.esm.js";

const CSS = `
.wb-lab { font: 13px/1.4 system-ui, sans-serif; color: #111827; outline: none; }
.wb-lab button, .wb-lab select { font: inherit; margin: 2px; padding: 2px 8px; border: 1px solid #6b7280;
  border-radius: 4px; background: #f9fafb; color: #111827; cursor: pointer; }
.wb-lab button:disabled { opacity: .45; cursor: default; }
.wb-lab .wb-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; margin: 3px 0; }
.wb-lab .wb-chip { border: 2px solid transparent; font-weight: 600; }
.wb-lab .wb-chip.wb-chosen { border-color: #111827; box-shadow: 0 0 0 2px #fff inset; }
.wb-lab .wb-wave { position: relative; border: 1px solid #d1d5db; }
.wb-lab .wb-ruler-wrap { height: 18px; }
.wb-lab .wb-msg { min-height: 1.4em; color: #14532d; }
.wb-lab .wb-err { min-height: 1.4em; color: #991b1b; font-weight: 600; }
.wb-lab .wb-sugg-list { display: flex; flex-wrap: wrap; gap: 4px; }
.wb-lab .wb-sugg { border: 2px dashed #6b7280; border-radius: 4px; padding: 1px 4px; }
.wb-lab .wb-status { font-weight: 600; }
.wb-lab [part~="region"].wb-selected { outline: 3px solid #111827; outline-offset: -3px; }
.wb-lab .wb-region-tag { font-weight: 700; padding: 0 4px; border-radius: 3px; font-size: 12px;
  pointer-events: none; white-space: nowrap; }
`;

const MAX_PX_PER_S = 70;
const MAX_CANVAS_PX = 30000; // the spectrogram is one canvas: stay under the browsers' 32767 px width limit
const WAVE_H = 140;
const SPEC_H = 80;
const DECODE_SR = 16000; // the browser decodes the audio at this rate (wavesurfer's default 8 kHz cuts the spectrogram at 4 kHz)
const TAG = "position:relative;top:18px;font-weight:700;padding:0 4px;border-radius:3px;font-size:12px;white-space:nowrap;pointer-events:none";

function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return el;
}

function bytesOf(dv) {
  if (!dv) return null;
  if (dv instanceof DataView) return new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  if (dv instanceof ArrayBuffer) return new Uint8Array(dv);
  return dv.buffer ? new Uint8Array(dv.buffer, dv.byteOffset || 0, dv.byteLength) : null;
}

/** Peaks as sent by the kernel: int8 pairs (max, min) per bin, scaled by 127. */
function peaksOf(dv) {
  const b = bytesOf(dv);
  if (!b) return null;
  const i8 = new Int8Array(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(i8.length);
  for (let i = 0; i < i8.length; i++) out[i] = i8[i] / 127;
  return out;
}

/** Index of the value in sorted ``times`` nearest to ``t``. */
function nearest(times, t) {
  let lo = 0, hi = times.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid; else hi = mid;
  }
  return Math.abs(times[lo] - t) <= Math.abs(times[hi] - t) ? lo : hi;
}

// A suggestion's confidence in words: the novelty fallback (no active section model: none trained, or one
// trained and not exported; suggest_note says which) has none, its
// labels are guesses; a model's is its calibrated percent, "?" / "(uncertain)" under its threshold.
function confidenceWords(s, short) {
  if ((s.model || "").startsWith("novelty")) return short ? "guess" : "a guess (no active section model)";
  return `${Math.round(s.confidence * 100)}%` + (s.uncertain ? (short ? "?" : " (uncertain)") : "");
}

// A region's tag texts, longest first: the full text, the label alone, its first letters; the
// region shows the first that fits its width, none when even that does not (its tooltip has the full text).
function tagTexts(label, full) {
  return [...new Set([full, label, label.length > 4 ? `${label.slice(0, 3)}…` : label])];
}

let measureCtx = null;
// Width in CSS px of ``text`` in the tags' font (bold 12 px) plus their 4-px padding either side.
function tagWidth(text, family) {
  measureCtx = measureCtx || document.createElement("canvas").getContext("2d");
  measureCtx.font = `700 12px ${family}`;
  return Math.ceil(measureCtx.measureText(text).width) + 8;
}

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function render({ model, el }) {
  // data-lm-suppress-shortcuts: JupyterLab leaves the keys to the labeler (1-7, space, Escape, ctrl+z)
  const root = h("div", { class: "wb-lab", tabindex: "0", "data-lm-suppress-shortcuts": "true" });
  root.appendChild(h("style", { text: CSS }));
  el.appendChild(root);
  const send = (msg) => model.send(msg);
  const labels = () => model.get("label_names");
  const colors = () => model.get("label_colors");
  const textColors = () => model.get("label_text_colors");

  // ---- controls --------------------------------------------------------------------------
  const trackSel = h("select", { class: "wb-track", title: "track" });
  trackSel.addEventListener("change", () => send({ action: "track", id: Number(trackSel.value) }));
  const status = h("span", { class: "wb-status" });
  const statusSel = h("select", { class: "wb-status-select", title: "track status" });
  statusSel.addEventListener("change", () => send({ action: "status", status: statusSel.value }));
  const nextUnl = h("button", { class: "wb-next-unlabelled", text: "next unlabelled ⇥",
    onclick: () => send({ action: "next", which: "unlabelled" }) });
  const nextUnc = h("button", { class: "wb-next-uncertain", text: "least certain ⇥",
    onclick: () => send({ action: "next", which: "uncertain" }) });
  root.appendChild(h("div", { class: "wb-bar" }, [h("b", { text: "track" }), trackSel, status, statusSel, nextUnl, nextUnc]));

  const play = h("button", { class: "wb-play", text: "▶ play", title: "play / pause (space)" });
  const playHere = h("button", { class: "wb-play-selected", text: "▶ selected", title: "play the selected label" });
  const time = h("span", { class: "wb-time", text: "0:00.0" });
  const zoomOut = h("button", { class: "wb-zoom-out", text: "−", title: "zoom out" });
  const zoomIn = h("button", { class: "wb-zoom-in", text: "+", title: "zoom in (or ctrl + wheel)" });
  const zoomFit = h("button", { class: "wb-zoom-fit", text: "fit", title: "whole track" });
  const zoomVal = h("span", { class: "wb-zoom", text: "" });
  const snapSel = h("select", { class: "wb-snap", title: "snap edges to" }, [
    h("option", { value: "beat", text: "snap: beats" }), h("option", { value: "bar", text: "snap: bars" })]);
  const undo = h("button", { class: "wb-undo", text: "↶ undo", title: "ctrl+z", onclick: () => send({ action: "undo" }) });
  const redo = h("button", { class: "wb-redo", text: "↷ redo", title: "ctrl+shift+z", onclick: () => send({ action: "redo" }) });
  const nudgeL = h("button", { class: "wb-nudge-left", text: "bar −1 beat", title: "move the downbeats one beat earlier",
    onclick: () => send({ action: "shift", beats: -1 }) });
  const nudgeR = h("button", { class: "wb-nudge-right", text: "bar +1 beat", title: "move the downbeats one beat later",
    onclick: () => send({ action: "shift", beats: 1 }) });
  const gridL = h("button", { class: "wb-grid-earlier", text: "−10 ms", title: "move every beat 10 ms earlier",
    onclick: () => send({ action: "nudge", offset_ms: -10 }) });
  const gridR = h("button", { class: "wb-grid-later", text: "+10 ms", title: "move every beat 10 ms later",
    onclick: () => send({ action: "nudge", offset_ms: 10 }) });
  root.appendChild(h("div", { class: "wb-bar" }, [play, playHere, time, h("span", { text: " zoom" }), zoomOut, zoomIn,
    zoomFit, zoomVal, snapSel, undo, redo, h("span", { text: " grid" }), nudgeL, nudgeR, gridL, gridR]));

  const chips = h("div", { class: "wb-bar wb-labels" });
  const del = h("button", { class: "wb-delete", text: "delete selected", title: "Delete",
    onclick: () => { const id = model.get("selected_id"); if (id != null) send({ action: "delete", id }); } });
  root.appendChild(chips);

  const rulerEl = h("div", { class: "wb-ruler-wrap" });
  const waveEl = h("div", { class: "wb-wave" });
  const timelineEl = h("div", { class: "wb-timeline" });
  const miniEl = h("div", { class: "wb-minimap" });
  root.append(miniEl, waveEl, timelineEl);

  const suggBar = h("div", { class: "wb-bar wb-suggestions" });
  const overlapSel = h("select", { class: "wb-overlap", title: "when a suggestion overlaps your labels" }, [
    h("option", { value: "keep", text: "overlap: keep mine" }), h("option", { value: "replace", text: "overlap: replace" }),
    h("option", { value: "split", text: "overlap: split" })]);
  const acceptAll = h("button", { class: "wb-accept-all", text: "accept all",
    onclick: () => send({ action: "accept_all", overlap: overlapSel.value }) });
  const suggList = h("div", { class: "wb-sugg-list" });
  suggBar.append(h("b", { text: "suggestions" }), overlapSel, acceptAll, suggList);
  root.appendChild(suggBar);
  const msg = h("div", { class: "wb-msg", role: "status" });
  const err = h("div", { class: "wb-err", role: "alert" });
  root.append(msg, err);

  // ---- wavesurfer ------------------------------------------------------------------------
  const regions = RegionsPlugin.create();
  const ruler = RegionsPlugin.create();
  const ws = WaveSurfer.create({
    container: waveEl, height: WAVE_H, waveColor: "#64748b", progressColor: "#334155", cursorColor: "#dc2626",
    cursorWidth: 2, minPxPerSec: 1, sampleRate: DECODE_SR, fillParent: true, autoScroll: true, autoCenter: true, dragToSeek: false,
    plugins: [
      regions, ruler,
      TimelinePlugin.create({ container: timelineEl, height: 16,
        formatTimeCallback: (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}` }),
      ZoomPlugin.create({ scale: 0.25, maxZoom: MAX_PX_PER_S }),
      MinimapPlugin.create({ container: miniEl, height: 28, waveColor: "#cbd5e1", progressColor: "#94a3b8",
        overlayColor: "rgba(37, 99, 235, 0.25)" }),
    ],
  });
  // the spectrogram needs the decoded audio (not the peaks): registered once the audio is in
  let spectro = null;
  // inside the waveform's scroll wrapper (no container), so it zooms and scrolls with it
  const makeSpectrogram = () => SpectrogramPlugin.create({ height: SPEC_H, labels: false,
    scale: "mel", frequencyMax: DECODE_SR / 2, fftSamples: 512 });
  let grid = { beats: [], downbeats: [], times: [], bars: [] };
  let duration = 0;
  let loadedAudioFor = null;
  let trackKey = null;
  let peaksReadyFor = null;
  const dragging = new Map(); // region id -> {raw start/end, shown start/end}
  const shown = new Map();

  function fmt(s) {
    return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}`;
  }
  function beatTimes() {
    return grid.times;
  }
  function snapTime(t) {
    if (model.get("snap") === "bar" && grid.bars.length) {
      const i = nearest(grid.bars.map((b) => grid.times[b]), t);
      return grid.bars[i];
    }
    return nearest(beatTimes(), t);
  }
  // a label edge on beat i: beat 0 starts the track (0 s), as the last index ends it
  // (the kernel's BeatGrid.span_s; stored labels arrive with these times)
  function edgeTime(i) {
    return i <= 0 ? 0 : grid.times[Math.min(i, grid.times.length - 1)];
  }
  function setGrid(track) {
    const times = [...track.beats_s, track.duration_s];
    grid = { beats: track.beats_s, downbeats: track.downbeats, times,
      bars: [...track.downbeats, track.beats_s.length] };
  }
  let rulerStep = 0;
  function drawRuler() {
    const bars = model.get("track").bar_numbers || [];
    const n = grid.downbeats.length;
    const barS = n > 1 ? (grid.times[grid.downbeats[n - 1]] - grid.times[grid.downbeats[0]]) / (n - 1) : 2;
    const px = (ws.options.minPxPerSec || 1) * barS;
    let step = 1;
    while (step * px < 34 && step < 256) step *= 2;
    if (step === rulerStep && ruler.getRegions().length) return;
    rulerStep = step;
    ruler.clearRegions();
    grid.downbeats.forEach((b, i) => {
      const bar = bars[i] ?? i + 1;
      if ((bar - 1) % step !== 0) return;
      const r = ruler.addRegion({ id: `bar${bar}`, start: grid.times[b], color: "rgba(17, 24, 39, 0.7)", drag: false,
        resize: false, content: h("span", { class: "wb-bar-num", text: String(bar),
          style: "font-size:10px;font-weight:600;color:#111827;background:rgba(255,255,255,0.85);padding:0 2px" }) });
      if (r.element) Object.assign(r.element.style, { pointerEvents: "none", height: "16px" });
    });
  }

  function regionParts(id) {
    return { kind: id.startsWith("s") ? "suggestion" : "label", key: Number(id.slice(1)) };
  }
  const tags = []; // [tag element, start_s, end_s, texts]: refitted to their regions on every zoom
  function fitTags() {
    const pxs = pxPerS(), family = getComputedStyle(root).fontFamily;
    for (const [tag, start, end, texts] of tags) {
      const room = (end - start) * pxs - 4; // a region's width in px, less its border
      const text = texts.find((t) => tagWidth(t, family) <= room);
      tag.textContent = text || "";
      tag.style.display = text ? "" : "none";
    }
  }
  function fitTag(tag, r, label, full) {
    if (r.element) r.element.title = full;
    tags.push([tag, r.start, r.end, tagTexts(label, full)]);
  }
  function drawRegions() {
    if (!duration) return;
    regions.clearRegions();
    shown.clear();
    tags.length = 0;
    const sel = model.get("selected_id");
    for (const l of model.get("rows")) {
      const color = colors()[l.label];
      // an accepted guess (no section model) has no confidence: a tick, no "0%"
      const full = `${l.label}${l.source === "model" ? " ✓" + (l.confidence == null ? "" : Math.round(l.confidence * 100) + "%") : ""}`;
      const tag = h("span", { class: "wb-region-tag", text: full,
        style: `background:${color};color:${textColors()[l.label]};${TAG}` });
      const r = regions.addRegion({ id: `l${l.id}`, start: l.start_s, end: l.end_s, color: alpha(color, 0.28), content: tag,
        drag: true, resize: true, minLength: 0.2 });
      fitTag(tag, r, l.label, full);
      shown.set(r.id, { start: r.start, end: r.end });
      if (r.element) {
        r.element.style.height = spectro ? `${Math.floor((100 * WAVE_H) / (WAVE_H + SPEC_H))}%` : "62%";
        r.element.dataset.label = l.label;
        r.element.dataset.id = String(l.id);
        r.element.classList.add("wb-region");
        if (l.id === sel) {
          r.element.classList.add("wb-selected");
          Object.assign(r.element.style, { outline: "3px solid #111827", outlineOffset: "-3px" });
        }
      }
    }
    model.get("suggestions").forEach((s, i) => {
      const color = colors()[s.label];
      const full = `${s.label} ${confidenceWords(s, true)}`;
      const tag = h("span", { class: "wb-region-tag", text: full,
        style: `background:${color};color:${textColors()[s.label]};${TAG}` });
      const r = regions.addRegion({ id: `s${i}`, start: s.start_s, end: s.end_s, color: alpha(color, 0.12), content: tag,
        drag: false, resize: false });
      fitTag(tag, r, s.label, full);
      if (r.element) {
        const top = spectro ? Math.ceil((100 * WAVE_H) / (WAVE_H + SPEC_H)) : 64;
        Object.assign(r.element.style, { top: `${top}%`, height: `${100 - top}%`, border: `2px dashed ${color}` });
        r.element.classList.add("wb-suggestion-region");
        r.element.dataset.label = s.label;
        r.element.dataset.index = String(i);
      }
    });
    fitTags();
  }

  // One redraw per batch of kernel changes, in a later task: the plugin appends a new region's
  // element in a timeout, so a region removed in the task that made it would come back as a ghost.
  let redrawTimer = null;
  function redraw() {
    if (redrawTimer === null) redrawTimer = setTimeout(() => { redrawTimer = null; drawRegions(); }, 0);
  }
  let rulerTimer = null;
  function redrawRuler() {
    if (rulerTimer === null) rulerTimer = setTimeout(() => { rulerTimer = null; drawRuler(); }, 0);
  }

  regions.on("region-update", (r, side) => {
    const { kind } = regionParts(r.id);
    if (kind !== "label") return;
    let d = dragging.get(r.id);
    const last = shown.get(r.id) || { start: r.start, end: r.end };
    if (!d) { d = { start: last.start, end: last.end }; dragging.set(r.id, d); }
    d.start += r.start - last.start;
    d.end += r.end - last.end;
    let sb, eb;
    if (!side) { // moved: snap the start, keep the length in beats
      const len = nearest(grid.times, last.end) - nearest(grid.times, last.start);
      sb = snapTime(d.start);
      eb = Math.min(sb + len, grid.times.length - 1);
      sb = eb - len;
    } else {
      sb = side === "start" ? snapTime(d.start) : nearest(grid.times, last.start);
      eb = side === "end" ? snapTime(d.end) : nearest(grid.times, last.end);
      if (eb <= sb) { if (side === "start") sb = eb - 1; else eb = sb + 1; }
    }
    const next = { start: edgeTime(sb), end: edgeTime(eb) };
    shown.set(r.id, next);
    r.setOptions(next);
    time.textContent = `${fmt(next.start)}–${fmt(next.end)}`;
  });
  regions.on("region-updated", (r) => {
    const { kind, key } = regionParts(r.id);
    if (kind !== "label") return;
    dragging.delete(r.id);
    const s = shown.get(r.id) || { start: r.start, end: r.end };
    send({ action: "update", id: key, start_beat: nearest(grid.times, s.start), end_beat: nearest(grid.times, s.end) });
  });
  regions.on("region-clicked", (r, e) => {
    e.stopPropagation();
    const { kind, key } = regionParts(r.id);
    if (kind === "label") send({ action: "select", id: key });
    else send({ action: "select_suggestion", index: key });
    ws.setTime(r.start);
    root.focus({ preventScroll: true });
  });
  // draw a new label: drag on empty waveform (the plugin's drag selection), snapped by the kernel
  regions.enableDragSelection({ color: "rgba(37, 99, 235, 0.25)" });
  regions.on("region-created", (r) => {
    if (r.id.startsWith("l") || r.id.startsWith("s")) return;
    // the plugin starts a drawn region 5 px wide and then adds the pointer's travel: take the 5 px off
    const sb = snapTime(r.start), eb = snapTime(r.end - 5 / pxPerS());
    setTimeout(() => r.remove(), 0); // after the plugin's own deferred append
    if (eb > sb) send({ action: "add", label: model.get("current_label"), start_beat: sb, end_beat: eb });
  });

  ws.on("ready", () => {
    const t = model.get("track");
    duration = ws.getDuration();
    const first = peaksReadyFor !== trackKey; // the peaks' paint (the audio's decode fires "ready" again)
    if (first) {
      peaksReadyFor = trackKey;
      root.dataset.ready = String(t.id);
      if (t.sent_ms) root.dataset.paintMs = String(Date.now() - t.sent_ms);
      root.dataset.readyAt = String(Date.now());
    }
    rulerStep = 0;
    redrawRuler();
    redraw();
    zoomVal.textContent = `${pxPerS().toFixed(1)} px/s`;
    root.dataset.zoom = pxPerS().toFixed(2);
    send({ action: "painted", track_id: t.id, key: trackKey, paint_ms: t.sent_ms ? Date.now() - t.sent_ms : null,
      audio: !first });
  });
  ws.on("timeupdate", (t) => { time.textContent = fmt(t); });
  ws.on("play", () => { play.textContent = "❚❚ pause"; });
  ws.on("pause", () => { play.textContent = "▶ play"; });
  ws.on("zoom", () => {
    if (duration) redrawRuler();
    fitTags();
    zoomVal.textContent = `${pxPerS().toFixed(1)} px/s`;
    root.dataset.zoom = pxPerS().toFixed(2);
  });
  // The tags are fitted to their regions' widths in px: refit whenever wavesurfer has redrawn (its width may be
  // known only after "ready", on a slow or loaded machine), not only on zoom.
  ws.on("redrawcomplete", fitTags);
  // wavesurfer drops its decoded data while it loads the next audio, and zoom() then throws "No audio loaded":
  // the zoom buttons wait, disabled, until the audio is drawn.
  ws.on("load", () => { for (const b of [zoomIn, zoomOut, zoomFit]) b.disabled = true; });
  ws.on("ready", () => { for (const b of [zoomIn, zoomOut, zoomFit]) b.disabled = false; });
  ws.on("error", (e) => { err.textContent = `audio: ${e && e.message ? e.message : e}`; });
  play.addEventListener("click", () => ws.playPause());
  playHere.addEventListener("click", () => {
    const r = regions.getRegions().find((x) => x.id === `l${model.get("selected_id")}`);
    if (r) r.play(true); else ws.play();
  });
  const maxZoom = () => Math.min(MAX_PX_PER_S, MAX_CANVAS_PX / Math.max(1, duration));
  const zoomTo = (px) => { if (ws.getDecodedData()) ws.zoom(Math.max(1, Math.min(maxZoom(), px))); }; // none while audio loads
  // the px/s shown now (a track fitted to the width has more than minPxPerSec)
  const pxPerS = () => (duration ? ws.getWrapper().clientWidth / duration : ws.options.minPxPerSec || 1);
  zoomIn.addEventListener("click", () => zoomTo(pxPerS() * 2));
  zoomOut.addEventListener("click", () => zoomTo(pxPerS() / 2));
  zoomFit.addEventListener("click", () => zoomTo(waveEl.clientWidth / Math.max(1, duration)));
  snapSel.addEventListener("change", () => model.set("snap", snapSel.value) || model.save_changes());

  function loadTrack() {
    const t = model.get("track");
    if (!t || t.id == null) return;
    trackKey = `${t.id}:${t.sent_ms}`;
    setGrid(t);
    duration = 0;
    root.dataset.ready = "";
    regions.clearRegions();
    ruler.clearRegions();
    if (spectro) { spectro.destroy(); spectro = null; }
    const peaks = peaksOf(model.get("peaks"));
    loadedAudioFor = null;
    ws.load("", peaks ? [peaks] : undefined, t.duration_s).then(loadAudio).catch((e) => {
      err.textContent = `waveform: ${e.message || e}`;
    });
  }
  function loadAudio() {
    const t = model.get("track");
    const audio = bytesOf(model.get("audio"));
    // after the peaks' paint only: two loads at once would race
    if (!audio || !audio.length || model.get("audio_track_id") !== t.id || loadedAudioFor === trackKey
        || peaksReadyFor !== trackKey) return;
    loadedAudioFor = trackKey;
    root.dataset.audioArrivedAt = String(Date.now());
    const px = ws.options.minPxPerSec;
    const at = ws.getCurrentTime();
    ws.loadBlob(new Blob([audio], { type: model.get("audio_mime") })).then(() => {
      root.dataset.audio = String(t.id);
      root.dataset.audioAt = String(Date.now());
      if (!spectro) spectro = ws.registerPlugin(makeSpectrogram());
      ws.zoom(px);
      ws.setTime(at);
    }).catch((e) => { err.textContent = `audio: ${e.message || e}`; });
  }

  // ---- rendering of the kernel's state ---------------------------------------------------
  function drawChips() {
    chips.replaceChildren(h("b", { text: "label" }));
    labels().forEach((name, i) => {
      const b = h("button", { class: `wb-chip wb-label-${name}`, text: `${i + 1} ${name}`,
        title: `key ${i + 1}: draw new labels as ${name}, or relabel the selected one`,
        style: `background:${colors()[name]};color:${textColors()[name]}` });
      if (name === model.get("current_label")) b.classList.add("wb-chosen");
      b.addEventListener("click", () => choose(name));
      chips.appendChild(b);
    });
    chips.appendChild(del);
    del.disabled = model.get("selected_id") == null;
  }
  // at once on the page (a label button pressed next must not relabel), then in the kernel
  function deselect() {
    model.set("selected_id", null);
    model.save_changes();
  }
  function choose(name) {
    const id = model.get("selected_id");
    if (id != null) send({ action: "relabel", id, label: name });
    else send({ action: "choose", label: name });
  }
  function drawTracks() {
    const opts = model.get("tracks");
    const words = (s) => s.replace(/_/g, " "); // "in_progress" is stored; "in progress" is said
    trackSel.replaceChildren(...opts.map((o) => h("option", { value: String(o.id), text: `${o.name} · ${words(o.status)}` })));
    const t = model.get("track");
    if (t && t.id != null) trackSel.value = String(t.id);
    const cur = opts.find((o) => t && o.id === t.id);
    status.textContent = cur ? words(cur.status) : "";
    statusSel.replaceChildren(...model.get("statuses").map((s) => h("option", { value: s, text: `mark ${words(s)}` })));
    if (cur) statusSel.value = cur.status;
  }
  function drawSuggestions() {
    const sugg = model.get("suggestions");
    // what "(uncertain)" means, in the model's words ("uncertain: confidence under 80 %, ..."), once under the list
    // whenever a model's suggestions are listed (as the older labeler does), also when none is uncertain;
    // then which model made them (suggest_note)
    const rule = (sugg.find((s) => s.uncertain_rule) || {}).uncertain_rule;
    const note = model.get("suggest_note");
    suggList.replaceChildren(...sugg.map((s, i) => h("span", { class: "wb-sugg", "data-index": String(i),
      "data-label": s.label, style: `border-color:${colors()[s.label]}`, title: s.uncertain ? s.uncertain_rule || "" : "" }, [
      `${s.label} ${s.bars} · ${confidenceWords(s, false)} `,
      h("button", { class: "wb-accept", text: "accept", onclick: () => send({ action: "accept", index: i, overlap: overlapSel.value }) }),
      h("button", { class: "wb-reject", text: "reject", onclick: () => send({ action: "reject", index: i }) }),
    ])), ...(rule ? [h("span", { class: "wb-uncertain-rule", text: rule })] : []),
    ...(note ? [h("span", { class: "wb-sugg-note", text: note })] : []));
    if (!sugg.length) suggList.textContent = model.get("suggest_note") || "none";
    acceptAll.disabled = !sugg.length;
  }
  function drawMessages() {
    msg.textContent = model.get("message");
    err.textContent = model.get("error");
    undo.disabled = !model.get("can_undo");
    redo.disabled = !model.get("can_redo");
    root.dataset.revision = String(model.get("revision"));
  }

  model.on("change:track", () => { loadTrack(); drawTracks(); });
  model.on("change:audio", loadAudio);
  model.on("change:audio_track_id", loadAudio);
  model.on("change:rows", redraw);
  model.on("change:suggestions", () => { redraw(); drawSuggestions(); });
  model.on("change:selected_id", () => { redraw(); drawChips(); });
  model.on("change:current_label", drawChips);
  model.on("change:tracks", drawTracks);
  model.on("change:message", drawMessages);
  model.on("change:error", drawMessages);
  model.on("change:revision", drawMessages);
  model.on("change:can_undo", drawMessages);
  model.on("change:snap", () => { snapSel.value = model.get("snap"); });

  // ---- keyboard: only while the pointer or focus is on the widget ---------------------------
  root.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLSelectElement || e.target instanceof HTMLInputElement) return;
    const k = e.key;
    let done = true;
    if (k === " ") ws.playPause();
    else if (/^[1-7]$/.test(k)) choose(labels()[Number(k) - 1]);
    else if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "z") send({ action: e.shiftKey ? "redo" : "undo" });
    else if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "y") send({ action: "redo" });
    else if (k === "Delete" || k === "Backspace") { const id = model.get("selected_id"); if (id != null) send({ action: "delete", id }); }
    else if (k === "Escape") deselect();
    else if (k === "+" || k === "=") zoomTo(pxPerS() * 2);
    else if (k === "-") zoomTo(pxPerS() / 2);
    else done = false;
    if (done) { e.preventDefault(); e.stopPropagation(); }
  });
  waveEl.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
  // keys keep working after a button (a button that disables itself would drop the focus to the page)
  root.addEventListener("click", (e) => { if (e.target instanceof HTMLButtonElement) root.focus({ preventScroll: true }); });
  // click on the picture (not on a label) seeks; "play from here" = click then space
  ws.on("interaction", () => { if (model.get("selected_id") != null) deselect(); });

  drawChips();
  drawTracks();
  drawSuggestions();
  drawMessages();
  snapSel.value = model.get("snap");
  loadTrack();
  // a test or benchmark can reach the instance
  root.wavesurfer = ws;
  root.regionsPlugin = regions;
  return () => ws.destroy();
}

export default { render };
