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

/// A clock time, HH:MM:SS, local.
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
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

const BOX = { left: 62, top: 12, width: 300, height: 140 };

// Per container, the point under the pointer ({ title, key }): shown again when the panels are
// drawn again (a live page redraws them at each scrape).
const hovered = new WeakMap();

/// Draws one panel per entry of `panels` (Elastic's heap panels by default) into `container`,
/// replacing what it held. `from` and `to` widen the x axis beyond the points (a time window).
export function drawPanels(container, points, { axis = 'index', panels = PANELS, from, to } = {}) {
  container.replaceChildren();
  if (points.length === 0) return;
  const xs = points.map((p) => p.x);
  const lo = Math.min(from ?? Infinity, ...xs);
  const hi = Math.max(to ?? -Infinity, ...xs);
  const xOf = (x) => (hi > lo ? BOX.left + ((x - lo) / (hi - lo)) * BOX.width : BOX.left + BOX.width / 2);
  for (const panel of panels) container.append(drawPanel(container, panel, points, xOf, axis));
}

function drawPanel(container, panel, points, xOf, axis) {
  const div = el('div', 'panel');
  div.dataset.panel = panel.name ?? panel.title;
  const svg = svgEl('svg', { viewBox: '0 0 400 185', role: 'img', 'aria-label': panel.title });
  const heaps = points.map((p) => p.heap);
  const entries = panel.series.map(([name, get], i) => ({
    name, unit: panel.unit, color: COLORS[i],
    values: heaps.map((h) => (h ? get(h) : undefined)),
  }));
  // Counts (of pauses) beside durations get their own scale, as the right axis does.
  const scaled = panel.countScale ? entries.slice(1) : entries;
  const max = Math.max(0, ...scaled.flatMap((e) => e.values).filter((v) => v !== undefined));
  for (const e of scaled) e.max = max;
  if (panel.countScale) {
    entries[0].unit = '';
    entries[0].max = Math.max(0, ...entries[0].values.filter((v) => v !== undefined));
    entries[0].note = 'own scale';
  }
  if (panel.right) {
    const values = heaps.map((h) => (h ? panel.right[1](h) : undefined));
    const rightMax = Math.max(0, ...values.filter((v) => v !== undefined));
    const unit = panel.right[2] ?? '';
    entries.push({ name: panel.right[0], unit, color: COLORS[entries.length], values, max: rightMax, note: `right, max ${human(rightMax, unit)}` });
  }
  const bottom = BOX.top + BOX.height;
  svg.append(svgEl('line', { x1: BOX.left, y1: bottom, x2: BOX.left + BOX.width, y2: bottom, class: 'axis' }));
  const top = svgEl('text', { x: 4, y: BOX.top + 10, class: 'tick' });
  top.textContent = human(max, panel.unit);
  svg.append(top);
  const from = svgEl('text', { x: BOX.left, y: 172, class: 'tick' });
  const to = svgEl('text', { x: BOX.left + BOX.width, y: 172, class: 'tick', 'text-anchor': 'end' });
  if (axis === 'time') {
    from.textContent = clock(points[0].x);
    to.textContent = points.length > 1 ? clock(points[points.length - 1].x) : '';
  } else {
    from.textContent = 'body 1';
    to.textContent = points.length > 1 ? `body ${points.length}` : '';
  }
  svg.append(from, to);

  // Restarts and failed scrapes, as vertical marks whose title says what happened.
  for (const p of points) {
    if (!p.restart && p.error === undefined) continue;
    const x = xOf(p.x).toFixed(1);
    const mark = svgEl('line', { x1: x, y1: BOX.top, x2: x, y2: bottom, class: p.error !== undefined ? 'marker failed' : 'marker restart' });
    const title = svgEl('title', {});
    title.textContent = p.error !== undefined ? `${p.label}: ${p.error}` : `${p.label}: the service restarted`;
    mark.append(title);
    svg.append(mark);
  }
  for (const e of entries) svg.append(line(e, points, xOf));
  // A window since the process started: a hollow mark on the top edge, its figures in its title.
  if (panel.apart) {
    points.forEach((p) => {
      const window = p.heap && panel.apart(p.heap);
      if (!window) return;
      const mark = svgEl('circle', { cx: xOf(p.x).toFixed(1), cy: BOX.top, r: 4, class: 'apart' });
      const title = svgEl('title', {});
      title.textContent = `${p.label}: the window since the process started (not drawn): ${window.count} pauses, sum ${human(window.sum?.ns, 'ns')}, max ${human(window.max?.ns, 'ns')}`;
      mark.append(title);
      svg.append(mark);
    });
  }

  const legend = el('div', 'legend');
  for (const e of entries) {
    const item = el('span');
    const swatch = el('i');
    swatch.style.background = e.color;
    item.append(swatch, e.note ? `${e.name} (${e.note})` : e.name);
    legend.append(item);
  }
  if (panel.apart && points.some((p) => p.heap && panel.apart(p.heap))) {
    legend.append(el('span', 'note', '○ the first window (since the process started) is marked, not drawn'));
  }
  const tip = el('div', 'tip');
  tip.hidden = true;
  div.append(el('h3', '', panel.title), svg, legend, tip);
  hover(container, panel.name ?? panel.title, svg, tip, entries, points, xOf);
  return div;
}

/// A series as a path broken where it has no value, and a dot on each point that stands alone
/// (a single body, or one between gaps) so that it shows.
function line(entry, points, xOf) {
  const g = svgEl('g', { 'data-series': entry.name });
  const { values, max, color } = entry;
  const yOf = (v) => BOX.top + BOX.height - (max > 0 ? (v / max) * BOX.height : 0);
  let d = '';
  let open = false;
  values.forEach((v, i) => {
    if (v === undefined) { open = false; return; }
    d += `${open ? 'L' : 'M'}${xOf(points[i].x).toFixed(1)},${yOf(v).toFixed(1)}`;
    const alone = values[i - 1] === undefined && values[i + 1] === undefined;
    if (alone) g.append(svgEl('circle', { cx: xOf(points[i].x).toFixed(1), cy: yOf(v).toFixed(1), r: 2.5, fill: color }));
    open = true;
  });
  g.append(svgEl('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 }));
  g.dataset.points = String(values.filter((v) => v !== undefined).length);
  return g;
}

/// Under the pointer: the nearest point's label and, per series, its exact figure from that
/// event (data-value) and a readable one.
function hover(container, title, svg, tip, entries, points, xOf) {
  const guide = svgEl('line', { y1: BOX.top, y2: BOX.top + BOX.height, class: 'guide', visibility: 'hidden' });
  const area = svgEl('rect', { x: BOX.left - 6, y: BOX.top, width: BOX.width + 12, height: BOX.height, class: 'hover' });
  svg.append(guide, area);
  const keyOf = (i) => points[i].key ?? String(i);
  area.addEventListener('pointermove', (event) => {
    // Through the SVG's own transform: the drawing is letterboxed inside the element (the
    // viewBox keeps its aspect), so the element's box is not the drawing's.
    const x = toDrawing(svg, event.clientX, event.clientY).x;
    let best = 0;
    points.forEach((p, i) => { if (Math.abs(xOf(p.x) - x) < Math.abs(xOf(points[best].x) - x)) best = i; });
    hovered.set(container, { title, key: keyOf(best) });
    showPoint(svg, tip, entries, points, xOf, best);
  });
  area.addEventListener('pointerleave', () => {
    hovered.delete(container);
    tip.hidden = true;
    guide.setAttribute('visibility', 'hidden');
  });
  const was = hovered.get(container);
  if (was?.title === title) {
    const index = points.findIndex((_, i) => keyOf(i) === was.key);
    if (index >= 0) showPoint(svg, tip, entries, points, xOf, index);
  }
}

/// A point of the screen (client coordinates) in the drawing's coordinates (the viewBox's).
function toDrawing(svg, clientX, clientY) {
  const screen = svg.getScreenCTM();
  if (!screen) return { x: clientX, y: clientY };
  return new DOMPoint(clientX, clientY).matrixTransform(screen.inverse());
}

/// Shows point `index` under the pointer (also what a test calls through the panel's element).
function showPoint(svg, tip, entries, points, xOf, index) {
  const p = points[index];
  const guide = svg.querySelector('.guide');
  const x = xOf(p.x).toFixed(1);
  guide.setAttribute('x1', x);
  guide.setAttribute('x2', x);
  guide.setAttribute('visibility', 'visible');
  tip.replaceChildren(el('div', 'when', p.label));
  tip.dataset.index = String(index);
  if (p.key !== undefined) tip.dataset.key = p.key;
  if (p.error !== undefined) tip.append(el('div', 'failed', p.error));
  if (p.restart) tip.append(el('div', 'restart', 'the service restarted before this scrape'));
  for (const e of entries) {
    const v = e.values[index];
    if (v === undefined) continue;
    const row = el('div', 'value', `${e.name}: ${human(v, e.unit)} (${v})`);
    row.dataset.series = e.name;
    row.dataset.value = String(v);
    tip.append(row);
  }
  tip.hidden = false;
}
