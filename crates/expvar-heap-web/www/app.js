// The playground: the transform runs in WebAssembly (expvar_heap_web.js, made by wasm-bindgen);
// this file only reads input, shows the events and draws the charts.
import init, { process } from './expvar_heap_web.js';

const $ = (id) => document.getElementById(id);
let lastEvents = [];

// Indents JSON text without parsing it into JavaScript values, so every number is shown exactly
// as the transform wrote it (JSON.parse would round integers above 2^53).
function indentJson(text) {
  let out = '';
  let depth = 0;
  let inString = false;
  const newline = () => '\n' + '  '.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') { inString = true; out += c; }
    else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      if (text[i + 1] === close) { out += c + close; i++; continue; }
      depth++; out += c + newline();
    } else if (c === '}' || c === ']') { depth--; out += newline() + c; }
    else if (c === ',') out += ',' + newline();
    else if (c === ':') out += ': ';
    else out += c;
  }
  return out;
}

function render() {
  const started = performance.now();
  let events;
  try {
    // Typed events: the text, whether it has error.message, its dataset (the page never reads
    // these from the text, where a custom variable may look like them).
    events = process($('text').value, $('namespace').value, $('tags').value,
      $('preserve').checked, $('datasets').value, Date.now())
      .map((e) => ({ json: e.json, hasError: e.hasError, dataset: e.dataset }));
  } catch (error) {
    $('status').textContent = String(error);
    $('status').className = 'error';
    return;
  }
  const took = performance.now() - started;
  lastEvents = events;
  const list = $('events');
  list.replaceChildren();
  let errors = 0;
  events.forEach((event, i) => {
    const box = document.createElement('article');
    box.className = 'event';
    const title = document.createElement('h3');
    title.textContent = `#${i + 1} ${event.dataset}`;
    box.append(title);
    if (event.hasError) {
      errors++;
      box.classList.add('error');
      title.textContent += ' (error event)';
      const message = document.createElement('p');
      message.className = 'message';
      message.textContent = JSON.parse(event.json).error.message; // a string: parsing is exact here
      box.append(message);
    }
    const pre = document.createElement('pre');
    pre.textContent = indentJson(event.json);
    box.append(pre);
    list.append(box);
  });
  $('summary').textContent = events.length ? `(${events.length}, ${errors} with error.message)` : '';
  $('status').className = '';
  $('status').textContent = events.length ? `transformed in ${took.toFixed(1)} ms` : 'paste a body to begin';
  drawCharts(events.filter((e) => e.dataset === 'golang.heap').map((e) => e.json));
}

// Charts: numbers for drawing only (precision beyond 2^53 does not matter on a chart).
const PANELS = [
  { title: 'Heap memory', unit: 'bytes', series: [
    ['in use', (h) => h.allocations?.active?.bytes],
    ['allocated', (h) => h.allocations?.object?.bytes],
    ['idle', (h) => h.allocations?.idle?.bytes]] },
  { title: 'System memory', unit: 'bytes', series: [
    ['total', (h) => h.system?.total?.bytes],
    ['stack', (h) => h.system?.stack?.bytes],
    ['released', (h) => h.system?.released?.bytes]] },
  { title: 'Next GC limit', unit: 'bytes', series: [['next GC', (h) => h.gc?.next_gc_limit]] },
  { title: 'GC count', unit: 'cycles', series: [['total GCs', (h) => h.gc?.total?.count]],
    right: ['CPU fraction', (h) => h.gc?.cpu_fraction] },
  // A window that spans the process's life (since: process_start, the first body's) is no
  // interval: it would dwarf the others, so it is left out of the chart (the event keeps it).
  { title: 'GC pauses per interval', unit: 'ns', series: [
    ['sum', (h) => interval(h)?.sum?.ns],
    ['max', (h) => interval(h)?.max?.ns],
    ['avg', (h) => interval(h)?.avg?.ns]],
    note: 'The first body’s window (since the process started) is not drawn.' },
];

function interval(heap) {
  const pause = heap.gc?.pause;
  return pause?.since === 'process_start' ? undefined : pause;
}
const COLORS = ['#0b64dd', '#e0742a', '#2a9d5c', '#8a4fd0'];

function human(value, unit) {
  if (unit === 'ns') return value >= 1e6 ? `${(value / 1e6).toFixed(2)} ms` : `${(value / 1e3).toFixed(0)} µs`;
  if (unit !== 'bytes') return value >= 1e6 ? value.toExponential(2) : String(Math.round(value * 1000) / 1000);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (value >= 1024 && u < units.length - 1) { value /= 1024; u++; }
  return `${value.toFixed(value < 10 && u ? 1 : 0)} ${units[u]}`;
}

function svgEl(name, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function polyline(values, max, color, box) {
  const { left, top, width, height } = box;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  let d = '';
  values.forEach((v, i) => {
    if (v === undefined) return;
    const x = left + i * step;
    const y = top + height - (max > 0 ? (v / max) * height : 0);
    d += `${d ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return svgEl('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, 'data-points': values.length });
}

function drawCharts(heapEvents) {
  const heaps = heapEvents.map((e) => JSON.parse(e).golang?.heap ?? {});
  const panels = $('panels');
  panels.replaceChildren();
  if (heaps.length === 0) return;
  for (const panel of PANELS) {
    const div = document.createElement('div');
    div.className = 'panel';
    const h = document.createElement('h3');
    h.textContent = panel.title;
    const svg = svgEl('svg', { viewBox: '0 0 400 180', role: 'img', 'aria-label': panel.title });
    const box = { left: 62, top: 10, width: 300, height: 140 };
    const all = panel.series.map(([, get]) => heaps.map(get));
    const max = Math.max(0, ...all.flat().filter((v) => v !== undefined));
    svg.append(svgEl('line', { x1: box.left, y1: box.top + box.height, x2: box.left + box.width, y2: box.top + box.height, stroke: '#c5ccd8' }));
    const label = svgEl('text', { x: 4, y: box.top + 10, 'font-size': 11, fill: '#5d6677' });
    label.textContent = human(max, panel.unit);
    svg.append(label);
    const axis = svgEl('text', { x: box.left, y: 172, 'font-size': 11, fill: '#5d6677' });
    axis.textContent = `body 1 … ${heaps.length}`;
    svg.append(axis);
    const legend = document.createElement('div');
    legend.className = 'legend';
    const entries = panel.series.map(([name], i) => [name, all[i], COLORS[i], max]);
    if (panel.right) {
      const values = heaps.map(panel.right[1]);
      const rightMax = Math.max(0, ...values.filter((v) => v !== undefined));
      entries.push([`${panel.right[0]} (right, max ${human(rightMax, '')})`, values, COLORS[3], rightMax]);
    }
    for (const [name, values, color, scale] of entries) {
      svg.append(polyline(values, scale, color, box));
      const item = document.createElement('span');
      item.innerHTML = `<i style="background:${color}"></i>`;
      item.append(name);
      legend.append(item);
    }
    div.append(h, svg, legend);
    if (panel.note) {
      const note = document.createElement('p');
      note.className = 'note';
      note.textContent = panel.note;
      div.append(note);
    }
    panels.append(div);
  }
}

async function loadSample(entry) {
  const texts = await Promise.all(entry.files.map((f) => fetch(`samples/${f}`).then((r) => r.text())));
  $('text').value = texts.join('\n');
  render();
}

async function readFiles(files) {
  const texts = await Promise.all([...files].map((f) => f.text()));
  $('text').value = texts.join('\n');
  render();
}

async function main() {
  await init({ module_or_path: new URL('expvar_heap_web_bg.wasm', import.meta.url) });
  const samples = await fetch('samples/index.json').then((r) => r.json());
  for (const [i, sample] of samples.entries()) {
    const option = new Option(sample.name, String(i));
    $('sample').append(option);
  }
  $('sample').addEventListener('change', (e) => e.target.value && loadSample(samples[Number(e.target.value)]));
  $('files').addEventListener('change', (e) => readFiles(e.target.files));
  const text = $('text');
  text.addEventListener('dragover', (e) => { e.preventDefault(); text.classList.add('dragging'); });
  text.addEventListener('dragleave', () => text.classList.remove('dragging'));
  text.addEventListener('drop', (e) => { e.preventDefault(); text.classList.remove('dragging'); readFiles(e.dataTransfer.files); });
  let pending;
  const soon = () => { clearTimeout(pending); pending = setTimeout(render, 120); };
  for (const id of ['text', 'namespace', 'tags']) $(id).addEventListener('input', soon);
  for (const id of ['datasets', 'preserve']) $(id).addEventListener('change', render);
  $('copy').addEventListener('click', async () => {
    await navigator.clipboard.writeText(lastEvents.map((e) => e.json + '\n').join(''));
    $('status').textContent = `copied ${lastEvents.length} events`;
  });
  $('download').addEventListener('click', () => {
    const blob = new Blob(lastEvents.map((e) => e.json + '\n'), { type: 'application/x-ndjson' });
    const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: 'golang-events.ndjson' });
    a.click();
    URL.revokeObjectURL(a.href);
  });
  document.body.dataset.ready = 'true';
  render();
}

main();
