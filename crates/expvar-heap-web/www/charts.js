// The panels of Elastic's heap dashboard, drawn in SVG from golang.heap events: one module for
// the playground (pasted bodies) and `expvar-heap watch` (live scrapes). Everything a target or a
// body says is put in the page as text (textContent), never as markup.
//
// A point is { x, label, key, heap, error, restart }: x is a time in ms (axis 'time') or an index
// (axis 'index'); label names it under the pointer, key (optional) identifies its event; heap is the event's golang.heap (undefined for
// a failed scrape); error, the message of a failed scrape; restart, whether the service restarted
// before it. Values are read with JSON.parse: exact up to 2^53, which every figure drawn here is.

export const PANELS = [
  { title: 'Heap memory', unit: 'bytes', series: [
    ['in use', (h) => h.allocations?.active?.bytes],
    ['allocated', (h) => h.allocations?.object?.bytes],
    ['idle', (h) => h.allocations?.idle?.bytes],
    ['released', (h) => h.system?.released?.bytes]] },
  { title: 'System memory', unit: 'bytes', series: [
    ['total', (h) => h.system?.total?.bytes],
    ['stack', (h) => h.system?.stack?.bytes]] },
  { title: 'Next GC limit', unit: 'bytes', series: [
    ['next GC', (h) => h.gc?.next_gc_limit],
    ['heap in use', (h) => h.allocations?.active?.bytes]] },
  { title: 'GC count', unit: 'cycles', series: [['total GCs', (h) => h.gc?.total?.count]],
    right: ['CPU fraction', (h) => h.gc?.cpu_fraction] },
  // A window that spans the process's life (since: process_start, a collector's first body) is
  // no interval: drawn on the line it would dwarf the others, so it is marked apart.
  { title: 'GC pauses per interval', unit: 'ns', series: [
    ['count', (h) => interval(h)?.count],
    ['sum', (h) => interval(h)?.sum?.ns],
    ['max', (h) => interval(h)?.max?.ns],
    ['avg', (h) => interval(h)?.avg?.ns]],
    countScale: true,
    apart: (h) => (h.gc?.pause?.since === 'process_start' ? h.gc.pause : undefined) },
];

function interval(heap) {
  const pause = heap.gc?.pause;
  return pause?.since === 'process_start' ? undefined : pause;
}

export const COLORS = ['#0b64dd', '#e0742a', '#2a9d5c', '#8a4fd0', '#b8860b', '#b4232a'];

export function human(value, unit) {
  if (value === undefined || value === null) return '–';
  if (unit === 'bytes/s') return `${human(value, 'bytes')}/s`;
  if (value === 0 && unit !== 'bytes' && unit !== 'bytes/s' && unit !== 'ns') return unit === 'share' ? '0 %' : unit === '/s' ? '0/s' : '0';
  if (unit === '/s') return `${value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(3)}/s`;
  if (unit === 'share') return `${(value * 100).toFixed(value >= 0.01 || value === 0 ? 1 : 3)} %`;
  if (unit === 'ns') {
    if (value >= 1e9) return `${(value / 1e9).toFixed(2)} s`;
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)} ms`;
    return `${(value / 1e3).toFixed(0)} µs`;
  }
  if (unit !== 'bytes') return value >= 1e6 ? value.toExponential(2) : String(Math.round(value * 1000) / 1000);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (value >= 1024 && u < units.length - 1) { value /= 1024; u++; }
  return `${value.toFixed(value < 10 && u ? 1 : 0)} ${units[u]}`;
}

/// A clock time, HH:MM:SS, local, from 00:00:00 to 23:59:59 (not the locale's: `hour12: false`
/// makes 24:02:37 of two minutes past midnight in some engines).
export function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function svgEl(name, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function el(name, className, text) {
  const e = document.createElement(name);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const BOX = { left: 62, top: 12, width: 290, height: 140 };
const BOTTOM = BOX.top + BOX.height;
const RIGHT = BOX.left + BOX.width;

// Per container: the point under the pointer ({ name, key, clientX }), shown again when the
// panels are drawn again (a live page redraws them at each scrape); the series hidden from each
// panel's legend (panel name -> Set of series names); and the panels drawn, kept between draws.
const hovered = new WeakMap();
const hiddenSeries = new WeakMap();
const charts = new WeakMap();
let resizes = 0;
if (typeof window !== 'undefined') window.addEventListener('resize', () => { resizes++; });

/// Draws one panel per entry of `panels` (Elastic's heap panels by default) into `container`.
/// `from` and `to` widen the x axis beyond the points (a time window): its edges are labelled
/// with their true times. Drawn again with the same panels and series (a live page, at each
/// scrape), each panel is kept (its element, legend, tooltip and listeners) and only what moved
/// is set again: the lines, the axes, the marks.
///
/// A series' value is `get(heap, point)`: the point's `heap`, and the point for what a page
/// derives beside it.
export function drawPanels(container, points, { axis = 'index', panels = PANELS, from, to } = {}) {
  if (points.length === 0) {
    charts.delete(container);
    container.replaceChildren(el('p', 'empty', axis === 'time' ? 'No scrape of this target in this window yet.' : 'No heap event to draw.'));
    return;
  }
  let lo = from ?? Infinity;
  let hi = to ?? -Infinity;
  for (const p of points) {
    if (p.x < lo) lo = p.x;
    if (p.x > hi) hi = p.x;
  }
  const xOf = (x) => (hi > lo ? BOX.left + ((x - lo) / (hi - lo)) * BOX.width : BOX.left + BOX.width / 2);
  if (!hiddenSeries.has(container)) hiddenSeries.set(container, new Map());
  const hidden = hiddenSeries.get(container);
  const hiddenOf = (panel) => hidden.get(panel.name ?? panel.title) ?? new Set();
  // What the kept panels were built for: their names, series and what each legend hides.
  const signature = JSON.stringify([axis, panels.map((panel) => [panel.name ?? panel.title,
    panel.series.map(([name]) => name), panel.right?.[0], [...hiddenOf(panel)]])]);
  let state = charts.get(container);
  const frame = { container, points, xOf, axis, lo, hi, redraw: () => drawPanels(container, points, { axis, panels, from, to }) };
  if (!state || state.signature !== signature || state.drawn[0]?.div.parentNode !== container) {
    state = { signature, drawn: [] };
    charts.set(container, state);
    container.replaceChildren(...panels.map((panel) => {
      const drawn = buildPanel(container, panel, hiddenOf(panel));
      state.drawn.push(drawn);
      return drawn.div;
    }));
  }
  state.frame = frame;
  frame.drawn = state.drawn;
  // Pixels a unit of the drawing takes on screen (the panels are all as wide; 1 when the page is
  // not laid out), read again only after the window was resized: reading it lays the page out.
  if (state.pixels === undefined || state.resizes !== resizes) {
    state.pixels = state.drawn[0].svg.getScreenCTM()?.a || undefined;
    state.resizes = resizes;
  }
  frame.pixels = state.pixels ?? 1;
  panels.forEach((panel, i) => fillPanel(frame, panel, state.drawn[i]));
  // Shown again under the pointer, in the same panel, if its point is still drawn.
  const was = hovered.get(container);
  if (was) {
    const index = points.findIndex((p, i) => keyOf(points, i) === was.key);
    const panel = state.drawn.find((d) => d.name === was.name);
    if (index >= 0 && panel) showPoint(frame, panel, index, was.clientX);
    else for (const d of state.drawn) hideTip(d);
  }
}

function keyOf(points, i) {
  return points[i].key ?? String(i);
}

/// 0 and 3 to 5 round ticks up to at least `max`, in steps of 1, 2, 2.5 or 5 times a power of 10
/// of the unit a person reads (KiB, MiB ... for bytes): { top, ticks }.
export function niceTicks(max, unit) {
  if (!(max > 0)) return { top: 1, ticks: [0] };
  let base = 1;
  if (unit === 'bytes' || unit === 'bytes/s') while (max / base >= 1024 && base < 1024 ** 4) base *= 1024;
  const raw = max / base / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * magnitude * base;
  const steps = Math.max(1, Math.ceil(max / step - 1e-9));
  const ticks = [];
  for (let i = 0; i <= steps; i++) ticks.push(i * step);
  return { top: steps * step, ticks };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const TIME_STEPS = [1, 2, 5, 10, 15, 30].map((n) => n * SECOND)
  .concat([1, 2, 5, 10, 15, 30].map((n) => n * MINUTE), [1, 2, 3, 6, 12, 24].map((n) => n * HOUR));

/// Round times between `lo` and `hi` (ms), at most 6 (a span of seconds or more has 2 or more), at a step of the clock (10 s, 1 min, 15 min,
/// 1 h ...) in the page's time zone: [{ t, label }].
export function timeTicks(lo, hi) {
  const span = hi - lo;
  if (!(span > 0)) return [];
  const step = TIME_STEPS.find((s) => span / s <= 5) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const offset = new Date(lo).getTimezoneOffset() * MINUTE;
  const ticks = [];
  for (let local = Math.ceil((lo - offset) / step) * step; local + offset <= hi; local += step) {
    const t = local + offset;
    const d = new Date(t);
    const parts = [d.getHours(), d.getMinutes()].concat(step < MINUTE ? [d.getSeconds()] : []);
    ticks.push({ t, label: parts.map((n) => String(n).padStart(2, '0')).join(':') });
  }
  return ticks;
}

function text(x, y, content, attrs = {}) {
  const t = svgEl('text', { x: x.toFixed(1), y: y.toFixed(1), class: 'tick', ...attrs });
  t.textContent = content;
  return t;
}

// A panel's element, built once for its series: title, drawing (its layers, each filled by
// fillPanel), legend and tooltip, and the pointer's listeners.
function buildPanel(container, panel, hidden) {
  const name = panel.name ?? panel.title;
  const div = el('div', 'panel');
  div.dataset.panel = name;
  const svg = svgEl('svg', { viewBox: '0 0 400 185', role: 'img', 'aria-label': panel.title });
  const layer = (className) => svgEl('g', { class: className });
  const layers = { axes: layer('axes'), time: layer('time'), lines: layer('lines'), apart: layer('apart'), empty: layer('empty') };
  const guide = svgEl('line', { y1: BOX.top, y2: BOTTOM, class: 'guide', visibility: 'hidden' });
  const area = svgEl('rect', { x: BOX.left - 6, y: BOX.top, width: BOX.width + 12, height: BOX.height, class: 'hover' });
  // Restarts and outages over the pointer's area, so that the pointer reaches their titles.
  const marks = layer('marks');
  svg.append(layers.axes, layers.time, layers.lines, layers.apart, layers.empty, guide, area, marks);
  layers.marks = marks;
  const lines = new Map();
  const series = panel.series.map(([s]) => s).concat(panel.right ? [panel.right[0]] : []);
  for (const s of series) {
    const g = svgEl('g', { 'data-series': s });
    g.append(svgEl('path', { class: 'dots', fill: 'none', 'stroke-width': 5, 'stroke-linecap': 'round' }),
      svgEl('path', { fill: 'none', 'stroke-width': 2 }));
    lines.set(s, g);
    if (!hidden.has(s)) layers.lines.append(g);
  }
  // The legend: a button per series, which hides it (and takes it out of the scale) or shows it.
  const legend = el('div', 'legend');
  series.forEach((s, i) => {
    const off = hidden.has(s);
    const item = el('button', off ? 'off' : '');
    item.type = 'button';
    item.dataset.series = s;
    item.setAttribute('aria-pressed', String(!off));
    item.title = off ? `show ${s}` : `hide ${s}`;
    const swatch = el('i');
    swatch.style.background = COLORS[i];
    const note = panel.countScale && i === 0 ? 'own scale' : panel.right && i === series.length - 1 ? 'right axis' : undefined;
    item.append(swatch, note ? `${s} (${note})` : s);
    item.addEventListener('click', () => {
      const set = new Set(hidden);
      if (set.has(s)) set.delete(s); else set.add(s);
      hiddenSeries.get(container).set(name, set);
      charts.get(container)?.frame.redraw();
    });
    legend.append(item);
  });
  const apartNote = el('span', 'note', '○ the first window (since the process started) is marked, not drawn');
  apartNote.hidden = true;
  if (panel.apart) legend.append(apartNote);
  const tip = el('div', 'tip');
  tip.hidden = true;
  const title = el('h3', '', panel.title);
  div.append(title, svg, legend, tip);
  const drawn = { name, div, svg, tip, title, layers, lines, guide, apartNote, hidden, entries: [], ticks: '' };
  hover(container, drawn, area);
  return drawn;
}

// Sets what a panel shows for these points: its scale, axes, lines and marks.
function fillPanel(frame, panel, drawn) {
  const { points, xOf } = frame;
  const { svg, layers, hidden } = drawn;
  setText(drawn.title, panel.title);
  setAttr(svg, 'aria-label', panel.title);
  const valuesOf = (get) => points.map((p) => (p.heap ? get(p.heap, p) : undefined));
  const entries = panel.series.map(([series, get], i) => ({
    name: series, unit: panel.unit, color: COLORS[i], hidden: hidden.has(series), values: valuesOf(get),
  }));
  // Counts (of pauses) beside durations get their own scale, as the right axis does.
  const scaled = (panel.countScale ? entries.slice(1) : entries).filter((e) => !e.hidden);
  const left = niceTicks(maxOf(scaled.map((e) => e.values)), panel.unit);
  for (const e of entries) e.max = left.top;
  if (panel.countScale) {
    entries[0].unit = '';
    entries[0].max = maxOf([entries[0].values]);
  }
  let right;
  if (panel.right) {
    const unit = panel.right[2] ?? '';
    const values = valuesOf(panel.right[1]);
    const isHidden = hidden.has(panel.right[0]);
    right = niceTicks(maxOf([values]), unit);
    entries.push({ name: panel.right[0], unit, color: COLORS[entries.length], values, max: right.top, hidden: isHidden });
    right.unit = unit;
    if (isHidden) right = undefined;
  }
  drawn.entries = entries;
  // Gridlines and ticks: the left axis's units, the right one's when the panel has one; set
  // again only when the scale changed.
  const ticks = JSON.stringify([left, right]);
  if (ticks !== drawn.ticks) {
    drawn.ticks = ticks;
    const axes = [];
    const yOf = (v, top) => BOTTOM - (top > 0 ? (v / top) * BOX.height : 0);
    for (const v of left.ticks) {
      const y = yOf(v, left.top);
      axes.push(svgEl('line', { x1: BOX.left, y1: y.toFixed(1), x2: RIGHT, y2: y.toFixed(1), class: v === 0 ? 'axis' : 'grid' }));
      axes.push(text(BOX.left - 4, y + 3.5, human(v, panel.unit), { 'text-anchor': 'end', 'data-axis': 'left' }));
    }
    if (right) {
      for (const v of right.ticks) axes.push(text(RIGHT + 4, yOf(v, right.top) + 3.5, human(v, right.unit), { 'data-axis': 'right' }));
    }
    layers.axes.replaceChildren(...axes);
  }
  reconcile(layers.time, timeAxis(frame));
  const marked = marks(points, xOf);
  if (marked.length || layers.marks.firstChild) layers.marks.replaceChildren(...marked);
  for (const e of entries) if (!e.hidden) drawLine(drawn.lines.get(e.name), e, points, xOf, frame.pixels);
  // A window since the process started: a hollow mark on the top edge, its figures in its title.
  const apart = [];
  if (panel.apart) {
    points.forEach((p) => {
      const window = p.heap && panel.apart(p.heap);
      if (!window) return;
      const mark = svgEl('circle', { cx: xOf(p.x).toFixed(1), cy: BOX.top, r: 4, class: 'apart' });
      const title = svgEl('title', {});
      title.textContent = `${p.label}: the window since the process started (not drawn): ${window.count} pauses, sum ${human(window.sum?.ns, 'ns')}, max ${human(window.max?.ns, 'ns')}`;
      mark.append(title);
      apart.push(mark);
    });
  }
  if (apart.length || layers.apart.firstChild) layers.apart.replaceChildren(...apart);
  drawn.apartNote.hidden = apart.length === 0;
  const empty = scaled.every((e) => e.values.every((v) => v === undefined)) && entries.some((e) => !e.hidden);
  if (empty || layers.empty.firstChild) {
    layers.empty.replaceChildren(...(empty ? [text(BOX.left + BOX.width / 2, BOX.top + BOX.height / 2,
      points.some((p) => p.heap) ? 'no figure of these yet' : 'no scrape gave figures', { 'text-anchor': 'middle', class: 'tick empty' })] : []));
  }
}

function maxOf(columns) {
  let max = 0;
  for (const values of columns) for (const v of values) if (v > max) max = v;
  return max;
}

/// Sets an attribute, or a node's text, only when it changes (a live page sets most of them
/// again unchanged at each scrape, and each set costs the browser a style pass).
export function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

export function setText(node, content) {
  if (node.textContent !== content) node.textContent = content;
}

// Outages (runs of failed scrapes) as shaded bands, restarts as dashed lines; what happened is
// in their titles and in the tip of the scrape under the pointer.
function marks(points, xOf) {
  const out = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (p.error !== undefined) {
      let j = i;
      while (j + 1 < points.length && points[j + 1].error !== undefined) j++;
      const x1 = xOf(p.x);
      const x2 = j + 1 < points.length ? xOf(points[j + 1].x) : xOf(points[j].x);
      const band = svgEl('rect', { x: (x1 - 1.5).toFixed(1), y: BOX.top, width: Math.max(3, x2 - x1 + 1.5).toFixed(1), height: BOX.height, class: 'marker failed' });
      const title = svgEl('title', {});
      const span = j > i ? `${p.label} to ${points[j].label} (${j - i + 1} scrapes)` : p.label;
      title.textContent = `${span}: ${points[j].error}`;
      band.append(title);
      out.push(band);
      i = j;
    } else if (p.restart) {
      // The dashed line, and a wider one that cannot be seen but takes the pointer (its title).
      const x = xOf(p.x).toFixed(1);
      const mark = svgEl('g', { class: 'marker restart' });
      mark.append(svgEl('line', { x1: x, y1: BOX.top, x2: x, y2: BOTTOM, class: 'seen' }),
        svgEl('line', { x1: x, y1: BOX.top, x2: x, y2: BOTTOM, class: 'hit' }));
      const title = svgEl('title', {});
      title.textContent = `${p.label}: the service restarted`;
      mark.append(title);
      out.push(mark);
    }
  }
  return out;
}

/// The x axis: its true edges labelled (the window's, or the first and last body's), and round
/// times between them when it is a time axis, each with a gridline: as `reconcile` takes them.
function timeAxis(frame) {
  const { axis, points, lo, hi, xOf } = frame;
  const labelY = 172;
  const tick = (x, content, attrs) => ({ tag: 'text', attrs: { x: x.toFixed(1), y: labelY.toFixed(1), class: 'tick', ...attrs }, text: content });
  const out = [];
  if (axis !== 'time') {
    out.push(tick(BOX.left, 'body 1', { 'data-edge': 'from' }));
    if (points.length > 1) out.push(tick(RIGHT, `body ${points.length}`, { 'text-anchor': 'end', 'data-edge': 'to' }));
    return out;
  }
  out.push(tick(BOX.left, clock(lo), { 'data-edge': 'from', 'data-t': String(lo) }));
  if (hi > lo) out.push(tick(RIGHT, clock(hi), { 'text-anchor': 'end', 'data-edge': 'to', 'data-t': String(hi) }));
  // A label's room: an edge's label (HH:MM:SS) takes about 50 of the 400 units.
  let lastLabel = BOX.left + 50;
  for (const { t, label } of timeTicks(lo, hi)) {
    const x = xOf(t);
    out.push({ tag: 'line', attrs: { x1: x.toFixed(1), y1: String(BOX.top), x2: x.toFixed(1), y2: String(BOTTOM + 3), class: 'grid' } });
    if (x - 20 > lastLabel && x + 20 < RIGHT - 50) {
      out.push(tick(x, label, { 'text-anchor': 'middle', 'data-t': String(t) }));
      lastLabel = x + 20;
    }
  }
  return out;
}

/// Sets the children of `layer` to `specs` ({ tag, attrs, text }), keeping the elements it has
/// where their tag is the same: a live page moves its time axis at each scrape, and an element
/// set again costs the browser less than a new one.
function reconcile(layer, specs) {
  specs.forEach((spec, i) => {
    let node = layer.children[i];
    if (!node || node.localName !== spec.tag) {
      node = svgEl(spec.tag, {});
      layer.insertBefore(node, layer.children[i] ?? null);
    }
    for (const [k, v] of Object.entries(spec.attrs)) setAttr(node, k, v);
    for (const { name } of [...node.attributes]) if (!(name in spec.attrs)) node.removeAttribute(name);
    if ((spec.text ?? '') !== node.textContent) node.textContent = spec.text ?? '';
  });
  while (layer.children.length > specs.length) layer.lastChild.remove();
}

/// A series (into its group `g`, which keeps its two paths) as a path broken where it has no
/// value, and a dot on each point that stands alone (a single body, or one between gaps) so
/// that it shows: each dot a zero-length stroke with round caps in one second path (a series
/// with a value every other scrape has thousands). Both thinned to two vertices per pixel on
/// screen (`pixels`: a unit of the drawing's): the lowest and the highest value there, in their
/// order, so that no spike is lost however many points fall on a pixel.
function drawLine(g, entry, points, xOf, pixels) {
  const { values, max, color } = entry;
  const yOf = (v) => BOTTOM - (max > 0 ? (v / max) * BOX.height : 0);
  let count = 0;
  // A path of columns: each the lowest and highest point of one pixel, gathered as they come.
  const columns = (vertex) => {
    let d = '';
    let open = false;
    let column;
    const flush = () => {
      if (!column) return;
      const { lo, hi } = column;
      for (const i of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) {
        d += vertex(open, xOf(points[i].x).toFixed(1), yOf(values[i]).toFixed(1));
        open = true;
      }
      column = undefined;
    };
    return {
      add(i, key) {
        if (column && column.key !== key) flush();
        if (!column) column = { key, lo: i, hi: i };
        if (values[i] < values[column.lo]) column.lo = i;
        if (values[i] > values[column.hi]) column.hi = i;
      },
      gap() {
        flush();
        open = false;
      },
      end() {
        flush();
        return d;
      },
    };
  };
  const line = columns((open, x, y) => `${open ? 'L' : 'M'}${x},${y}`);
  const dots = columns((open, x, y) => `M${x},${y}h0`);
  let alone = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === undefined) {
      line.gap();
      continue;
    }
    count++;
    const key = Math.round(xOf(points[i].x) * pixels);
    if (values[i - 1] === undefined && values[i + 1] === undefined) {
      dots.add(i, key);
      alone++;
    }
    line.add(i, key);
  }
  const [dotPath, path] = g.children;
  setAttr(path, 'd', line.end());
  setAttr(path, 'stroke', color);
  setAttr(dotPath, 'd', dots.end());
  setAttr(dotPath, 'stroke', color);
  setAttr(g, 'data-points', String(count));
  setAttr(g, 'data-dots', String(alone));
}

/// Under the pointer: the nearest point, its guide in every panel of the container (a shared
/// crosshair), and beside the pointer its label and, per series, its exact figure from that
/// event (data-value) and a readable one. The listeners read the points last drawn.
function hover(container, panel, area) {
  area.addEventListener('pointermove', (event) => {
    const frame = charts.get(container)?.frame;
    if (!frame || !frame.drawn.includes(panel)) return;
    const { points, xOf } = frame;
    // Through the SVG's own transform: the drawing is letterboxed inside the element (the
    // viewBox keeps its aspect), so the element's box is not the drawing's.
    const x = toDrawing(panel.svg, event.clientX, event.clientY).x;
    let best = 0;
    points.forEach((p, i) => { if (Math.abs(xOf(p.x) - x) < Math.abs(xOf(points[best].x) - x)) best = i; });
    hovered.set(container, { name: panel.name, key: keyOf(points, best), clientX: event.clientX });
    showPoint(frame, panel, best, event.clientX);
  });
  area.addEventListener('pointerleave', () => {
    hovered.delete(container);
    for (const d of charts.get(container)?.drawn ?? []) hideTip(d);
  });
}

function hideTip(drawn) {
  drawn.tip.hidden = true;
  drawn.guide.setAttribute('visibility', 'hidden');
}

/// A point of the screen (client coordinates) in the drawing's coordinates (the viewBox's).
function toDrawing(svg, clientX, clientY) {
  const screen = svg.getScreenCTM();
  if (!screen) return { x: clientX, y: clientY };
  return new DOMPoint(clientX, clientY).matrixTransform(screen.inverse());
}

/// Shows point `index`: the guide in every panel, the tip in `panel` beside the pointer (at
/// `clientX`; at the point when there is none), the other panels' tips hidden.
function showPoint(frame, panel, index, clientX) {
  const { points, xOf } = frame;
  const p = points[index];
  const x = xOf(p.x).toFixed(1);
  for (const d of frame.drawn) {
    d.guide.setAttribute('x1', x);
    d.guide.setAttribute('x2', x);
    d.guide.setAttribute('visibility', 'visible');
    if (d !== panel) d.tip.hidden = true;
  }
  const { tip, entries, div, svg } = panel;
  tip.replaceChildren(el('div', 'when', p.label));
  tip.dataset.index = String(index);
  if (p.key !== undefined) tip.dataset.key = p.key;
  if (p.error !== undefined) tip.append(el('div', 'failed', p.error));
  if (p.restart) tip.append(el('div', 'restart', 'the service restarted before this scrape'));
  for (const e of entries) {
    const v = e.values[index];
    if (v === undefined || e.hidden) continue;
    const row = el('div', 'value');
    const swatch = el('i');
    swatch.style.background = e.color;
    row.append(swatch, `${e.name}: ${human(v, e.unit)} (${v})`);
    row.dataset.series = e.name;
    row.dataset.value = String(v);
    tip.append(row);
  }
  tip.hidden = false;
  // Beside the pointer, on the side with more room.
  const box = div.getBoundingClientRect();
  const screen = svg.getScreenCTM();
  const at = clientX ?? (screen ? new DOMPoint(Number(x), 0).matrixTransform(screen).x : box.left + box.width / 2);
  const within = at - box.left;
  tip.style.top = '1.6rem';
  if (within < box.width / 2) {
    tip.style.left = `${Math.round(within + 14)}px`;
    tip.style.right = '';
  } else {
    tip.style.left = '';
    tip.style.right = `${Math.round(box.width - within + 14)}px`;
  }
}
