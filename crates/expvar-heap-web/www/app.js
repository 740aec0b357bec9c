// The playground: the transform runs in WebAssembly (expvar_heap_web.js, made by wasm-bindgen);
// this file only reads input, shows the events and draws the charts (with charts.js, which
// `expvar-heap watch` draws with too).
import init, { process } from './expvar_heap_web.js';
import { drawPanels } from './charts.js';

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
  drawCharts(events);
}

// The charts: one point per heap event. Bodies pasted together carry no time of their own (the
// page gives them all the same one), so they are drawn on the index axis; a failed body is a
// marked point with no figure.
function drawCharts(events) {
  const points = events.filter((e) => e.dataset === 'golang.heap').map((e, i) => {
    const event = JSON.parse(e.json);
    const error = e.hasError ? event.error?.message : undefined;
    return { x: i, label: `body ${i + 1}`, heap: event.golang?.heap, error, restart: event.golang?.heap?.gc?.pause?.since === 'restart' };
  });
  drawPanels($('panels'), points, { axis: 'index' });
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
