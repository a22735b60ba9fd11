// distil review: the page. Plain JavaScript, no library, nothing loaded from elsewhere.
"use strict";

const TOKEN = document.querySelector('meta[name="distil-token"]').content;
const CLIENT = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random())).slice(0, 64);
const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");

const state = {
  info: null, frame: null, image: null, labels: [], selected: -1, mode: "select",
  thresholds: [], undo: [], redo: [], history: [], shownAt: 0, drag: null, newClass: 0,
  prompt: null, busy: false, proposals: [],
};

async function api(path, body) {
  const options = { headers: { "x-distil-token": TOKEN } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify({ client: CLIENT, ...body });
  }
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return path.endsWith("/image") ? response.blob() : response.json();
}

function say(message, error = false) {
  $("status").textContent = message;
  $("status").className = error ? "error" : "";
}

function color(classId) {
  return `hsl(${(classId * 137.5) % 360}, 85%, 55%)`;
}

// -- frames -------------------------------------------------------------------------

async function start() {
  state.info = await api("/api/info");
  state.thresholds = state.info.thresholds.slice();
  const list = $("class-list");
  const thresholdClass = $("threshold-class");
  state.info.classes.forEach((name, i) => {
    list.append(new Option(name));
    thresholdClass.append(new Option(name, i));
  });
  $("class-filter").value = state.info.classes[0] || "";
  showThreshold();
  $("text-search").hidden = !state.info.text_model;
  await claim(null);
  setInterval(() => { if (state.frame) api("/api/hold", { frame: state.frame.id }).catch(() => {}); }, 30000);
  window.addEventListener("pagehide", () => {
    navigator.sendBeacon && fetch("/api/release", {
      method: "POST", keepalive: true,
      headers: { "x-distil-token": TOKEN, "content-type": "application/json" },
      body: JSON.stringify({ client: CLIENT }),
    }).catch(() => {});
  });
}

async function claim(after) {
  const answer = await api("/api/claim", { after });
  showProgress(answer.progress);
  if (answer.frame === null) {
    state.frame = null;
    $("frame-name").textContent = "done: no frame left in the queue";
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    return;
  }
  await show(answer.frame);
}

async function show(frameId, proposed) {
  const [frame, blob] = await Promise.all([
    api(`/api/frames/${frameId}`), api(`/api/frames/${frameId}/image`),
  ]);
  const image = new Image();
  image.src = URL.createObjectURL(blob);
  await image.decode();
  if (state.image) URL.revokeObjectURL(state.image.src);
  state.frame = frame;
  state.image = image;
  canvas.width = frame.width;
  canvas.height = frame.height;
  const source = proposed || frame.human || frame.teacher;
  state.labels = source.map((label) => ({ ...label, edited: Boolean(proposed) || frame.human !== null }));
  state.labels.forEach(loadMask);
  state.selected = -1;
  state.undo = [];
  state.redo = [];
  state.prompt = null;
  state.shownAt = performance.now();
  if (state.history[state.history.length - 1] !== frameId) state.history.push(frameId);
  $("frame-name").textContent = frame.name + (frame.reviewed ? " (reviewed)" : "")
    + (proposed ? " (propagated: Enter accepts, x stops)" : "");
  const video = Boolean(frame.video && state.info.video_model);
  $("forward").hidden = $("backward").hidden = !video;
  $("stop").hidden = !state.proposals.length && !proposed;
  const reasons = $("reasons");
  reasons.replaceChildren(...(frame.reasons.length ? frame.reasons : ["(not ranked: every frame)"])
    .map((r) => Object.assign(document.createElement("li"), { textContent: r })));
  draw();
  canvas.focus();
  say("");
}

function showProgress(progress) {
  $("progress").textContent = `${progress.saved} saved, ${progress.left} left of ${progress.queue}`;
}

// -- labels -------------------------------------------------------------------------

function visible(label) {
  if (label.edited || label.origin === null || label.origin === undefined) return true;
  // At the export thresholds, exactly what export writes; moved, the stored scores decide.
  const threshold = state.thresholds[label.class_id];
  if (label.score === null || threshold === state.info.thresholds[label.class_id]) return label.exported;
  return label.score >= threshold;
}

function loadMask(label) {
  if (!label.mask || !label.mask.png) return;
  const image = new Image();
  image.onload = () => { label.maskImage = image; label.tinted = null; draw(); };
  image.src = label.mask.png;
}

function tinted(label) {
  const key = label.class_id;
  if (label.tinted && label.tintedFor === key) return label.tinted;
  const off = document.createElement("canvas");
  off.width = label.maskImage.width;
  off.height = label.maskImage.height;
  const c = off.getContext("2d");
  c.drawImage(label.maskImage, 0, 0);
  c.globalCompositeOperation = "source-in";
  c.fillStyle = color(label.class_id);
  c.fillRect(0, 0, off.width, off.height);
  label.tinted = off;
  label.tintedFor = key;
  return off;
}

function snapshot() {
  state.undo.push(JSON.stringify(state.labels.map(plain)));
  state.redo = [];
}

function plain(label) {
  const { maskImage, tinted, tintedFor, ...rest } = label;
  return rest;
}

function restore(from, to) {
  if (!from.length) return;
  to.push(JSON.stringify(state.labels.map(plain)));
  state.labels = JSON.parse(from.pop());
  state.labels.forEach(loadMask);
  state.selected = Math.min(state.selected, state.labels.length - 1);
  draw();
}

function change(index, update) {
  snapshot();
  Object.assign(state.labels[index], update, { edited: true });
  draw();
}

function addLabel(xyxy, mask) {
  snapshot();
  const label = { xyxy, class_id: state.newClass, score: null, origin: null, exported: true,
    edited: true, mask: mask || null };
  state.labels.push(label);
  loadMask(label);
  state.selected = state.labels.length - 1;
  draw();
  return label;
}

function deleteSelected() {
  if (state.selected < 0) return;
  snapshot();
  state.labels.splice(state.selected, 1);
  state.selected = -1;
  state.prompt = null;
  draw();
}

// -- drawing ------------------------------------------------------------------------

function scale() { return canvas.width / Math.max(1, canvas.clientWidth); }

function draw() {
  if (!state.image) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(state.image, 0, 0);
  const line = Math.max(2, canvas.width / 500);
  ctx.font = `${Math.max(12, Math.round(canvas.width / 60))}px sans-serif`;
  const list = $("labels");
  list.replaceChildren();
  state.labels.forEach((label, i) => {
    if (!visible(label)) return;
    const [x0, y0, x1, y1] = label.xyxy;
    if (label.maskImage) {
      ctx.globalAlpha = 0.45;
      ctx.drawImage(tinted(label), label.mask.at[0], label.mask.at[1]);
      ctx.globalAlpha = 1;
    }
    ctx.strokeStyle = color(label.class_id);
    ctx.lineWidth = i === state.selected ? line * 2 : line;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const name = state.info.classes[label.class_id];
    const text = label.score === null || label.edited ? name : `${name} ${label.score.toFixed(2)}`;
    ctx.fillStyle = color(label.class_id);
    ctx.fillText(text, x0 + line, Math.max(y0 - line, 12));
    if (i === state.selected) {
      const h = 4 * line;
      for (const [x, y] of [[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) ctx.fillRect(x - h / 2, y - h / 2, h, h);
    }
    const item = Object.assign(document.createElement("li"), { textContent: text });
    if (i === state.selected) item.className = "selected";
    item.onclick = () => { state.selected = i; draw(); };
    list.append(item);
  });
  if (state.drag && state.drag.kind === "draw") {
    const [x0, y0, x1, y1] = normalized(state.drag.box);
    ctx.setLineDash([line * 3, line * 2]);
    ctx.strokeStyle = color(state.newClass);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.setLineDash([]);
  }
  for (const [x, y, inside] of state.prompt ? state.prompt.points : []) {
    ctx.fillStyle = inside ? "#2ecc40" : "#ff4136";
    ctx.beginPath();
    ctx.arc(x, y, 3 * line, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function normalized([a, b, c, d]) {
  return [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)];
}

// -- the segmenter --------------------------------------------------------------------

async function ask(points, box) {
  if (!state.info.segmenter) { say("no segmenter is loaded (--segmenter)", true); return null; }
  const started = performance.now();
  say("segmenting…");
  const answer = await api(`/api/frames/${state.frame.id}/prompt`, { points, box });
  say(answer.mask ? `mask in ${Math.round(performance.now() - started)} ms` : "no mask there");
  return answer.mask ? answer : null;
}

async function click(x, y, inside) {
  if (!state.prompt || state.selected < 0 || state.labels[state.selected] !== state.prompt.label) {
    state.prompt = { points: [], label: null };
  }
  state.prompt.points.push([Math.round(x), Math.round(y), inside ? 1 : 0]);
  const answer = await ask(state.prompt.points, null);
  if (!answer) { draw(); return; }
  if (state.prompt.label) {
    const index = state.labels.indexOf(state.prompt.label);
    change(index, { xyxy: answer.xyxy, mask: answer.mask, maskImage: null });
    loadMask(state.labels[index]);
  } else {
    state.prompt.label = addLabel(answer.xyxy, answer.mask);
  }
}

async function maskFromBox(index) {
  const label = state.labels[index];
  const answer = await ask([], label.xyxy);
  if (!answer) return;
  change(index, { mask: answer.mask, maskImage: null });
  loadMask(state.labels[index]);
}

async function findText(phrase) {
  if (!state.frame || !phrase.trim()) return;
  say("finding…");
  const answer = await api(`/api/frames/${state.frame.id}/text`, { phrase, class_id: state.newClass });
  snapshot();
  for (const label of answer.labels) {
    const added = { ...label, edited: true };
    state.labels.push(added);
    loadMask(added);
  }
  say(`${answer.labels.length} found for "${phrase}"`);
  draw();
}

$("phrase").addEventListener("keydown", async (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();
  await findText($("phrase").value).catch((e) => say(e.message, true));
  canvas.focus();
});

// -- saving and moving on -----------------------------------------------------------

async function accept(labels) {
  if (!state.frame || state.busy) return;
  state.busy = true;
  try {
    const kept = (labels || state.labels.filter(visible)).map((l) => ({
      xyxy: l.xyxy, class_id: l.class_id, origin: l.origin, mask: l.mask ? l.mask.id : null,
    }));
    const seconds = (performance.now() - state.shownAt) / 1000;
    const saved = await api(`/api/frames/${state.frame.id}/save`, { labels: kept, seconds });
    if (state.proposals.length) await nextProposal();
    else await claim(state.frame.id);
    showProgress(saved.progress);
    say(`saved ${saved.labels} labels (round ${saved.round})`);
  } catch (e) {
    say(String(e.message || e), true);
  } finally {
    state.busy = false;
  }
}

// -- video: carry the labels through the next stored frames, one to accept at a time ----

async function propagate(backward) {
  if (!state.frame || !state.frame.video || state.busy) return;
  state.busy = true;
  try {
    say("propagating…");
    const labels = state.labels.filter(visible).map((l) => ({
      xyxy: l.xyxy, class_id: l.class_id, origin: l.origin, mask: l.mask ? l.mask.id : null,
    }));
    const answer = await api(`/api/frames/${state.frame.id}/propagate`, { labels, backward });
    state.proposals = answer.frames;
    if (!state.proposals.length) { say("no stored frame there to propagate to"); return; }
    await nextProposal();
    say(`propagated to ${answer.frames.length} frames: Enter accepts each, x stops`);
  } catch (e) {
    say(String(e.message || e), true);
  } finally {
    state.busy = false;
  }
}

async function nextProposal() {
  while (state.proposals.length) {
    const next = state.proposals.shift();
    try {
      await api("/api/hold", { frame: next.id });
    } catch (e) { continue; }  // another tab has it open
    await show(next.id, next.labels);
    return;
  }
  await claim(state.frame.id);
}

function stopPropagating() {
  state.proposals = [];
  $("stop").hidden = true;
  say("propagation stopped");
}

async function skip() {
  if (!state.frame) return;
  const next = state.proposals.length ? nextProposal() : claim(state.frame.id);
  await next.catch((e) => say(e.message, true));
}

async function previous() {
  if (state.history.length < 2) return;
  state.history.pop();
  const frameId = state.history[state.history.length - 1];
  try {
    await api("/api/hold", { frame: frameId });
    await show(frameId);
  } catch (e) { say(e.message, true); }
}

// -- mouse ----------------------------------------------------------------------------

function at(event) {
  const rect = canvas.getBoundingClientRect();
  const s = canvas.width / rect.width;
  return [(event.clientX - rect.left) * s, (event.clientY - rect.top) * s];
}

function hit(x, y) {
  const h = 6 * scale();
  for (let i = state.labels.length - 1; i >= 0; i--) {
    const label = state.labels[i];
    if (!visible(label)) continue;
    const [x0, y0, x1, y1] = label.xyxy;
    const corners = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]];
    const corner = corners.findIndex(([cx, cy]) => Math.abs(cx - x) < h && Math.abs(cy - y) < h);
    if (corner >= 0 && i === state.selected) return { index: i, corner };
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) return { index: i, corner: -1 };
  }
  return null;
}

canvas.addEventListener("mousedown", (event) => {
  if (!state.frame) return;
  const [x, y] = at(event);
  if (state.mode === "point") { state.drag = { kind: "click", x, y, shift: event.shiftKey }; return; }
  const found = hit(x, y);
  if (found) {
    state.selected = found.index;
    const label = state.labels[found.index];
    state.drag = { kind: found.corner >= 0 ? "resize" : "move", corner: found.corner, x, y,
      start: label.xyxy.slice(), moved: false };
  } else {
    state.drag = { kind: "draw", box: [x, y, x, y] };
  }
  draw();
});

canvas.addEventListener("mousemove", (event) => {
  const drag = state.drag;
  if (!drag || drag.kind === "click") return;
  const [x, y] = at(event);
  if (drag.kind === "draw") { drag.box[2] = x; drag.box[3] = y; draw(); return; }
  if (!drag.moved) { snapshot(); drag.moved = true; }
  const label = state.labels[state.selected];
  const [x0, y0, x1, y1] = drag.start;
  const dx = x - drag.x, dy = y - drag.y;
  if (drag.kind === "move") {
    label.xyxy = [x0 + dx, y0 + dy, x1 + dx, y1 + dy];
  } else {
    const box = drag.start.slice();
    box[drag.corner % 2 === 0 ? 0 : 2] += dx;
    box[drag.corner < 2 ? 1 : 3] += dy;
    label.xyxy = normalized(box);
  }
  label.edited = true;
  draw();
});

window.addEventListener("mouseup", async (event) => {
  const drag = state.drag;
  state.drag = null;
  if (!drag) return;
  if (drag.kind === "click") { await click(drag.x, drag.y, !drag.shift).catch((e) => say(e.message, true)); return; }
  if (drag.kind === "draw") {
    const box = normalized(drag.box);
    if (box[2] - box[0] >= 3 && box[3] - box[1] >= 3) {
      const label = addLabel(box.map(Math.round), null);
      if (state.info.segmenter) await maskFromBox(state.labels.indexOf(label)).catch((e) => say(e.message, true));
    }
    draw();
    return;
  }
  if (drag.moved) {
    const label = state.labels[state.selected];
    label.xyxy = clamp(label.xyxy);
    if (label.mask) { label.mask = null; label.maskImage = null; }
    if (state.info.segmenter && state.info.masks) await maskFromBox(state.selected).catch((e) => say(e.message, true));
    draw();
  }
});

function clamp([x0, y0, x1, y1]) {
  const w = canvas.width, h = canvas.height;
  return [Math.max(0, x0), Math.max(0, y0), Math.min(w, x1), Math.min(h, y1)].map((v) => Math.round(v * 10) / 10);
}

// -- keyboard -------------------------------------------------------------------------

function setClass(index) {
  if (index < 0 || index >= state.info.classes.length) return;
  state.newClass = index;
  $("class-filter").value = state.info.classes[index];
  if (state.selected >= 0) change(state.selected, { class_id: index });
}

$("class-filter").addEventListener("change", () => {
  const index = state.info.classes.indexOf($("class-filter").value);
  if (index >= 0) setClass(index);
  canvas.focus();
});

function nudge(dx, dy, resize) {
  if (state.selected < 0) return;
  const [x0, y0, x1, y1] = state.labels[state.selected].xyxy;
  const box = resize ? [x0, y0, Math.max(x0 + 1, x1 + dx), Math.max(y0 + 1, y1 + dy)]
    : [x0 + dx, y0 + dy, x1 + dx, y1 + dy];
  change(state.selected, { xyxy: clamp(box), mask: null, maskImage: null });
}

canvas.addEventListener("keydown", async (event) => {
  if (!state.frame && !["n", "p"].includes(event.key)) return;
  const key = event.key;
  const step = event.altKey ? 1 : Math.max(1, Math.round(canvas.width / 200));
  if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "z") {
    event.shiftKey ? restore(state.redo, state.undo) : restore(state.undo, state.redo);
  } else if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "y") {
    restore(state.redo, state.undo);
  } else if (key === "Enter" || key === "a") {
    await accept();
  } else if (key === "n" || key === "]") {
    await skip();
  } else if (key === "p" || key === "[") {
    await previous();
  } else if (key === "e") {
    await accept([]);
  } else if (key === "Delete" || key === "Backspace") {
    deleteSelected();
  } else if (key === "Tab") {
    const shown = state.labels.map((l, i) => (visible(l) ? i : -1)).filter((i) => i >= 0);
    if (shown.length) state.selected = shown[(shown.indexOf(state.selected) + 1) % shown.length];
    draw();
  } else if (key === "c") {
    $("class-filter").select();
    $("class-filter").focus();
  } else if (/^[1-9]$/.test(key)) {
    setClass(Number(key) - 1);
  } else if (key === "b") {
    const w = canvas.width / 8, h = canvas.height / 8;
    const cx = canvas.width / 2, cy = canvas.height / 2;
    addLabel(clamp([cx - w, cy - h, cx + w, cy + h]), null);
  } else if (key === "m" && state.selected >= 0) {
    await maskFromBox(state.selected).catch((e) => say(e.message, true));
  } else if (key === "s" || key === "v") {
    $("mode").value = state.mode = key === "s" ? "point" : "select";
  } else if (key.startsWith("Arrow")) {
    const dx = key === "ArrowLeft" ? -step : key === "ArrowRight" ? step : 0;
    const dy = key === "ArrowUp" ? -step : key === "ArrowDown" ? step : 0;
    nudge(dx, dy, event.shiftKey);
  } else if (key === "/" && state.info.text_model) {
    $("phrase").select();
    $("phrase").focus();
  } else if (key === "f" || key === "F") {
    await propagate(key === "F");
  } else if (key === "x") {
    stopPropagating();
  } else if (key === "Escape") {
    state.selected = -1;
    state.prompt = null;
    draw();
  } else {
    return;
  }
  event.preventDefault();
});

// -- the threshold slider (redraws here; the server is not asked) -----------------------

function showThreshold() {
  const classId = Number($("threshold-class").value || 0);
  $("threshold").value = state.thresholds[classId];
  $("threshold-value").textContent = Number(state.thresholds[classId]).toFixed(2);
}

$("threshold-class").addEventListener("change", showThreshold);
$("threshold").addEventListener("input", () => {
  const classId = Number($("threshold-class").value || 0);
  state.thresholds[classId] = Number($("threshold").value);
  $("threshold-value").textContent = state.thresholds[classId].toFixed(2);
  draw();
});

$("mode").addEventListener("change", () => { state.mode = $("mode").value; canvas.focus(); });
$("accept").onclick = () => accept();
$("next").onclick = () => skip();
$("prev").onclick = () => previous();
$("empty").onclick = () => accept([]);
$("forward").onclick = () => propagate(false);
$("backward").onclick = () => propagate(true);
$("stop").onclick = () => stopPropagating();
$("undo").onclick = () => restore(state.undo, state.redo);
$("redo").onclick = () => restore(state.redo, state.undo);

start().catch((e) => say(String(e.message || e), true));
