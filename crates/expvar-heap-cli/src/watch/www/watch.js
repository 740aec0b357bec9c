// The page of `expvar-heap watch`: reads the tool's event stream (/events: a `hello`, each target
// and its kept scrapes, then every new scrape) and shows the fleet and one target's panels. All
// a target sends (its address, cmdline, custom variables, error messages) is shown as text.
import { drawPanels, human, clock, setAttr, setText } from './charts.js';
import {
  KINDS, scrapeOf, verdict, bytes, held, memoryLimit, currentProcess, heapFloors, theilSen, GROWTH_BUCKETS, GROWTH_SPAN_MS,
} from './triage.js';

const $ = (id) => document.getElementById(id);
// The windows a person can choose (index.html's buttons), in ms.
const WINDOWS = [300000, 900000, 3600000];

// id -> { id, address, name, cmdline, limit: { memory_limit, memory_limit_variable }, scrapes: [{ t, key, heap, expvar, error, restart }] }
const targets = new Map();
let keep = 360;
let periodMs = 10000;
let skewMs = 0; // the tool's clock minus this page's
// The kept history has been read (the tool sends `live` after it): until then nothing is drawn,
// so that a page opened on a long history draws once, not once a scrape.
let live = false;
let selected;
let windowMs = 'all';
// The target to open once it is named (the URL's, on a reload or a shared link: ids are the
// tool's and change between runs, addresses do not).
let wanted;
let sortKey = 'rank';
let sortDown = false;

// JSON with each number above 2^53 kept as its text (JSON.parse's source access), so that a
// custom variable is shown exactly as the service sent it.
function parseExact(text) {
  return JSON.parse(text, (key, value, context) =>
    (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value) && context?.source
      ? { exact: context.source } : value));
}

// Redraws at most once a frame; the selected target's panels only when it has something new.
let pending = false;
let chartsStale = true;
function schedule(charts = true) {
  chartsStale ||= charts;
  if (pending || !live) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    renderFleet();
    if (chartsStale) renderTarget();
    chartsStale = false;
  });
}

function connect() {
  const source = new EventSource('events');
  source.addEventListener('open', () => setStatus('live', 'live'));
  source.addEventListener('error', () => setStatus('lost', 'connection lost: reconnecting…'));
  source.addEventListener('hello', (e) => {
    // The tool may have been restarted: its ids start again; the target is found by address.
    selected = undefined;
    live = false;
    const hello = JSON.parse(e.data);
    keep = hello.keep;
    periodMs = hello.period_ms;
    skewMs = hello.now_ms - Date.now();
    targets.clear();
    schedule();
  });
  source.addEventListener('target', (e) => {
    const { id, address, name, cmdline, memory_limit: memoryLimit, memory_limit_variable: memoryLimitVariable } = JSON.parse(e.data);
    targets.set(id, {
      id, address: String(address), name: name === undefined ? undefined : String(name), cmdline,
      limit: { memory_limit: memoryLimit, memory_limit_variable: memoryLimitVariable }, scrapes: [],
    });
    if (selected === undefined && wanted === String(address)) selected = id;
    schedule();
  });
  source.addEventListener('live', () => {
    live = true;
    schedule();
  });
  source.addEventListener('gone', (e) => {
    const { id } = JSON.parse(e.data);
    targets.delete(id);
    if (selected === id) selected = undefined;
    schedule();
  });
  // The kept history, many scrapes a frame; then one scrape a frame as it comes.
  source.addEventListener('history', (e) => {
    const { target, scrapes } = parse(e.data);
    for (const record of scrapes) add(target, record);
  });
  source.addEventListener('message', (e) => {
    const { target, scrape } = parse(e.data);
    add(target, scrape);
  });
}

// A frame's JSON: exactly when a number in it may be beyond 2^53 (an integer of 16 digits or
// more) or it has custom variables (shown as the service sent them); else by plain JSON.parse,
// several times faster on a long history.
function parse(data) {
  return /"custom":|[:,[]-?\d{16}/.test(data) ? parseExact(data) : JSON.parse(data);
}

// One scrape of a target, from its record (which has the cmdline when it changed).
function add(id, record) {
  const t = targets.get(id);
  if (!t) return;
  if (record.cmdline !== undefined) t.cmdline = record.cmdline;
  const scrape = scrapeOf(record);
  scrape.rates = ratesSince(lastGoodOf(t.scrapes), scrape);
  t.scrapes.push(scrape);
  if (t.scrapes.length > keep) t.scrapes.splice(0, t.scrapes.length - keep);
  schedule(id === selected);
}

function lastGoodOf(scrapes) {
  for (let i = scrapes.length - 1; i >= 0; i--) if (scrapes[i].heap) return scrapes[i];
  return undefined;
}

// A scrape as the charts draw it, made once.
function pointOf(s) {
  s.point ??= {
    x: s.t, key: s.key, label: clock(s.t), error: s.failed ? s.error : undefined, restart: s.restart, heap: s.heap,
    watch: { rates: s.rates, held: held(s.heap), floor: undefined, limit: undefined },
  };
  return s.point;
}

// A scrape's rates since the good scrape before it, per second: bytes and objects allocated, GC
// cycles, and the share of the time stopped for GC. None across a restart (the counters start
// again), nor when a counter went down (Go's NumGC is a uint32 and wraps).
function ratesSince(before, now) {
  if (!before || !now.heap || now.restart || !(now.t > before.t)) return undefined;
  const seconds = (now.t - before.t) / 1000;
  const per = (get) => {
    const a = get(before.heap);
    const b = get(now.heap);
    return a === undefined || b === undefined || b < a ? undefined : (b - a) / seconds;
  };
  const paused = per((h) => h.gc?.pause?.total?.ns);
  return {
    bytes: per((h) => h.allocations?.total?.bytes),
    objects: per((h) => h.mallocs?.count),
    gc: per((h) => h.gc?.total?.count),
    paused: paused === undefined ? undefined : paused / 1e9,
  };
}

// The panels of one target in `expvar-heap watch`: what a person triaging it reads, over the
// chosen window (docs/watch.md). Each series reads a point's `heap` (the event's golang.heap)
// or its `watch` (what the page derives: rates since the scrape before, the floor of the heap
// in use in its slice of the window, the memory held and the limit).
function watchPanels(limitKnown, slope) {
  const heap = [
    ['in use', (h) => h.allocations?.active?.bytes],
    ['allocated', (h) => h.allocations?.object?.bytes],
    ['goal', (h) => h.gc?.next_gc_limit],
    ['kept by the GC', (h, p) => p.watch.floor],
  ];
  if (limitKnown) heap.push(['held from the system', (h, p) => p.watch.held], ['memory limit', (h, p) => p.watch.limit]);
  const kept = slope === undefined ? '' : `: kept ${slope >= 0 ? '+' : ''}${bytes(slope)}/h`;
  return [
    { title: `Heap${kept}`, name: 'Heap', unit: 'bytes', series: heap },
    { title: 'Allocation rate', unit: 'bytes/s', series: [['bytes', (h, p) => p.watch.rates?.bytes]],
      right: ['objects', (h, p) => p.watch.rates?.objects, '/s'] },
    { title: 'GC cycles per second', unit: '/s', series: [['cycles', (h, p) => p.watch.rates?.gc]],
      right: ['time stopped for GC', (h, p) => p.watch.rates?.paused, 'share'] },
    { title: 'GC pauses per interval', unit: 'ns', series: [
      ['max', (h) => pauseOf(h)?.max?.ns],
      ['p99', (h) => pauseOf(h)?.p99?.ns],
      ['p50', (h) => pauseOf(h)?.p50?.ns]] },
    { title: 'GC CPU since the process started', unit: 'share', series: [['GCCPUFraction', (h) => h.gc?.cpu_fraction]] },
  ];
}

// A pause window of one interval (not one since the process started, which would dwarf them).
function pauseOf(heap) {
  const pause = heap.gc?.pause;
  return pause?.since === 'process_start' ? undefined : pause;
}

function setStatus(className, text) {
  $('status').className = className;
  $('status').textContent = text;
}

// A target's row: its state and figures from its last scrapes; made again when it has a new
// scrape, or a second later (its verdict and age read the clock).
function summary(target) {
  const last = target.scrapes[target.scrapes.length - 1];
  const version = `${target.scrapes.length} ${last?.key} ${Math.floor((Date.now() + skewMs) / 1000)}`;
  if (target.summary?.version !== version) target.summary = { version, row: summarize(target) };
  return target.summary.row;
}

function summarize(target) {
  const scrapes = target.scrapes;
  const good = scrapes.filter((s) => s.heap);
  const now = good[good.length - 1];
  const before = good[good.length - 2];
  const judged = verdict(scrapes, Date.now() + skewMs, scrapes.length >= keep, target.limit);
  const row = { address: target.address, name: target.name, label: target.name ?? target.address,
    verdict: judged.kind, rank: judged.rank, why: judged.reason,
    inUse: undefined, goal: undefined, share: undefined, allocRate: undefined, gcPerMinute: undefined,
    maxPause: undefined, ofLimit: judged.signals.ofLimit, limit: judged.signals.limit, age: undefined,
    trend: good.slice(-SPARK_POINTS).map((s) => [s.t, s.heap.allocations?.active?.bytes]) };
  if (now) {
    const h = now.heap;
    row.inUse = h.allocations?.active?.bytes;
    row.goal = h.gc?.next_gc_limit;
    row.share = row.inUse !== undefined && row.goal ? row.inUse / row.goal : undefined;
    const pause = h.gc?.pause;
    row.maxPause = pause && pause.since !== 'process_start' ? pause.max?.ns : undefined;
    row.age = Date.now() + skewMs - now.t;
    // Rates between the last two good scrapes, unless the service restarted between them.
    if (before && !now.restart && now.t > before.t) {
      const seconds = (now.t - before.t) / 1000;
      const total = (s) => s.heap.allocations?.total?.bytes;
      const count = (s) => s.heap.gc?.total?.count;
      if (total(now) !== undefined && total(before) !== undefined) row.allocRate = (total(now) - total(before)) / seconds;
      if (count(now) !== undefined && count(before) !== undefined) row.gcPerMinute = ((count(now) - count(before)) / seconds) * 60;
    }
  }
  return row;
}

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

// The heap in use of a row's last good scrapes, as a line in a box of SPARK_W x SPARK_H px (its
// own scale: the shape, not the size; the figure beside it says the size).
const SPARK_POINTS = 60;
const SPARK_W = 64;
const SPARK_H = 16;
function sparkline(svg, trend) {
  const points = trend.filter(([, v]) => v !== undefined);
  let path = svg.firstChild;
  if (!path) {
    path = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    svg.append(path);
  }
  if (points.length < 2) {
    path.setAttribute('points', '');
    return;
  }
  const t0 = points[0][0];
  const dt = points[points.length - 1][0] - t0 || 1;
  let lo = Infinity;
  let hi = -Infinity;
  for (const [, v] of points) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const dv = hi - lo || 1;
  const line = points.map(([t, v]) =>
    `${(((t - t0) / dt) * (SPARK_W - 2) + 1).toFixed(1)},${(SPARK_H - 1 - ((v - lo) / dv) * (SPARK_H - 2)).toFixed(1)}`).join(' ');
  setAttr(path, 'points', line);
}

function ago(ms) {
  if (ms === undefined) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

// The fleet's rows, one per target, kept and updated in place (keyed by target), so that a
// click or a text selection survives the updates.
const rowsById = new Map();

function fleetRow(id) {
  let tr = rowsById.get(id);
  if (tr) return tr;
  tr = document.createElement('tr');
  tr.dataset.id = String(id);
  tr.tabIndex = 0;
  const open = () => { selected = id; wanted = targets.get(id)?.address; saveState(); render(); };
  tr.addEventListener('click', () => {
    // A click that ends a text selection selects text, not the target.
    if (String(window.getSelection?.() ?? '') !== '') return;
    open();
  });
  tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
  const names = ['label', 'verdict', 'inUse', 'goal', 'share', 'allocRate', 'gcPerMinute', 'maxPause', 'ofLimit', 'age'];
  for (const name of names) {
    const td = document.createElement('td');
    td.className = name === 'label' ? 'address' : name === 'verdict' ? 'verdict' : 'num';
    td.dataset.cell = name;
    tr.append(td);
  }
  // The target's name (when its entry gives one) over its address.
  const label = tr.cells[0];
  label.append(el('span', 'name'), el('span', 'where'));
  // The heap in use: the figure, and its trend over the last scrapes.
  const inUse = tr.cells[2];
  const spark = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  spark.setAttribute('class', 'spark');
  spark.setAttribute('viewBox', `0 0 ${SPARK_W} ${SPARK_H}`);
  spark.setAttribute('width', String(SPARK_W));
  spark.setAttribute('height', String(SPARK_H));
  spark.setAttribute('aria-hidden', 'true');
  inUse.append(el('span', 'figure'), spark);
  rowsById.set(id, tr);
  return tr;
}

function el(name, className) {
  const node = document.createElement(name);
  node.className = className;
  return node;
}

function renderFleet() {
  const rows = [...targets.values()].map((t) => ({ id: t.id, ...summary(t) }));
  rows.sort((a, b) => {
    const x = a[sortKey];
    const y = b[sortKey];
    if (x === y) return (a.rank - b.rank) || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0) || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * (sortDown ? -1 : 1);
  });
  for (const id of [...rowsById.keys()]) {
    if (!targets.has(id)) {
      rowsById.get(id).remove();
      rowsById.delete(id);
    }
  }
  const body = $('fleet').tBodies[0];
  rows.forEach((r, index) => {
    const tr = fleetRow(r.id);
    setAttr(tr, 'data-verdict', r.verdict);
    tr.classList.toggle('selected', r.id === selected);
    const cells = Object.fromEntries([...tr.cells].map((td) => [td.dataset.cell, td]));
    setText(cells.label.querySelector('.name'), r.name ?? '');
    setText(cells.label.querySelector('.where'), r.address);
    cells.label.classList.toggle('named', r.name !== undefined);
    const verdictText = r.why;
    setAttr(cells.verdict, 'class', `verdict ${r.verdict}`);
    setText(cells.verdict, verdictText);
    setText(cells.inUse.querySelector('.figure'), human(r.inUse, 'bytes'));
    sparkline(cells.inUse.querySelector('svg'), r.trend);
    setText(cells.goal, human(r.goal, 'bytes'));
    setText(cells.share, r.share === undefined ? '–' : `${(r.share * 100).toFixed(0)} %`);
    setText(cells.allocRate, r.allocRate === undefined ? '–' : `${human(r.allocRate, 'bytes')}/s`);
    setText(cells.gcPerMinute, r.gcPerMinute === undefined ? '–' : r.gcPerMinute.toFixed(1));
    setText(cells.maxPause, human(r.maxPause, 'ns'));
    // The share held, over the limit it is of.
    if (!cells.ofLimit.firstChild) cells.ofLimit.append(el('span', 'share'), el('span', 'of'));
    setText(cells.ofLimit.firstChild, r.ofLimit === undefined ? '–' : `${Math.floor(r.ofLimit * 100)} %`);
    setText(cells.ofLimit.lastChild, r.ofLimit === undefined ? '' : `of ${bytes(r.limit)}`);
    setText(cells.age, ago(r.age));
    // Moved only when out of place, so that a row under the pointer stays put between updates.
    if (body.rows[index] !== tr) body.insertBefore(tr, body.rows[index] ?? null);
  });
  for (const th of $('fleet').tHead.rows[0].cells) {
    const sorted = th.dataset.key === sortKey;
    th.classList.toggle('sorted', sorted);
    th.classList.toggle('down', sorted && sortDown);
    setAttr(th, 'aria-sort', sorted ? (sortDown ? 'descending' : 'ascending') : 'none');
  }
  // Counts per verdict, worst first, in the heading and the tab's title.
  const counts = KINDS.map((kind) => [kind, rows.filter((r) => r.verdict === kind).length]).filter(([, n]) => n > 0);
  const say = (list) => list.map(([kind, n]) => `${n} ${LABELS[kind]}`).join(', ');
  setText($('count'), rows.length ? `(${rows.length}: ${say(counts)})` : '(0)');
  // The tab says what is wrong, or how many are ok (and how many are still waiting).
  const trouble = counts.filter(([kind]) => kind !== 'ok' && kind !== 'waiting');
  const calm = counts.filter(([kind]) => kind === 'ok' || kind === 'waiting');
  document.title = `${trouble.length ? say(trouble) : calm.length ? say(calm) : 'no targets'} · expvar-heap watch`;
}

// How a count of each verdict is said.
const LABELS = {
  down: 'down', never: 'never answered', limit: 'near memory limit', thrashing: 'GC thrashing', growing: 'heap growing',
  restarted: 'restarted', nomemstats: 'no memstats', waiting: 'waiting', ok: 'ok',
};

// Custom variables as dotted paths and their values as text.
function flatten(value, path, out) {
  if (value && typeof value === 'object' && !Array.isArray(value) && !('exact' in value && Object.keys(value).length === 1)) {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else {
    out.push([path, value]);
  }
  return out;
}

function shown(value) {
  if (value && typeof value === 'object' && 'exact' in value && Object.keys(value).length === 1) return value.exact;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

let chartedVariable;

function renderTarget() {
  const target = targets.get(selected);
  $('target').hidden = !target;
  if (!target) return;
  const scrapes = target.scrapes;
  const lastGood = lastGoodOf(scrapes);
  $('address').textContent = target.name ? `${target.name} · ${target.address}` : target.address;
  $('cmdline').textContent = Array.isArray(target.cmdline) ? target.cmdline.join(' ') : '';
  $('cmdline').parentElement.hidden = !Array.isArray(target.cmdline);
  const end = Date.now() + skewMs;
  const from = windowMs === 'all' ? undefined : end - windowMs;
  const inWindow = scrapes.filter((s) => from === undefined || s.t >= from);
  // The floor of the heap in use per eighth of the window, over the process running now, and
  // its slope: the heap the GC keeps (a leak is that floor rising). Drawn from two scrapes a
  // slice, its slope said over GROWTH_SPAN_MS or more, as the verdict reads it: fewer scrapes
  // over a shorter span are the sawtooth itself.
  const process = currentProcess(inWindow);
  const floors = process.length >= 2 * GROWTH_BUCKETS ? heapFloors(process) : [];
  const span = process.length ? process[process.length - 1].t - process[0].t : 0;
  const slope = floors.length >= 2 && span >= GROWTH_SPAN_MS ? theilSen(floors.map((f) => [f.t, f.floor])) : undefined;
  const limit = memoryLimit(scrapes, target.limit);
  // Each scrape's point is made once, when first drawn; what depends on the window (the floor
  // of its slice, the limit) is set again at each draw.
  const points = inWindow.map(pointOf);
  for (const p of points) {
    p.watch.floor = undefined;
    p.watch.limit = p.heap ? limit : undefined;
  }
  let slice = 0;
  for (const s of process) {
    while (slice < floors.length && s.t > floors[slice].to) slice++;
    if (slice < floors.length && s.t >= floors[slice].from) s.point.watch.floor = floors[slice].floor;
  }
  const section = $('target');
  section.dataset.scrapes = String(scrapes.length);
  section.dataset.last = scrapes.length ? scrapes[scrapes.length - 1].key : '';
  $('kept').textContent = `${scrapes.length} scrapes kept (at most ${keep})`;
  // Nothing to draw is said as a sentence, not as empty axes.
  const lastScrape = scrapes[scrapes.length - 1];
  if (!inWindow.some((s) => s.heap)) {
    const failed = scrapes.filter((s) => s.failed).length;
    const sentence = scrapes.length === 0 ? 'Waiting for its first scrape.'
      : !lastGood ? `No scrape of it gave figures yet (${failed} of ${scrapes.length} failed). The last one: ${lastScrape.error ?? 'no heap figures in the body'}.`
        : `No scrape in this window gave figures; the last good one was at ${clock(lastGood.t)}. The last scrape: ${lastScrape.error ?? 'no heap figures in the body'}.`;
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = sentence;
    $('panels').replaceChildren(p);
  } else {
    drawPanels($('panels'), points, {
      axis: 'time', from, to: from === undefined ? undefined : end,
      panels: watchPanels(limit !== undefined, slope === undefined ? undefined : slope * 3600 * 1000),
    });
  }
  for (const b of $('windows').querySelectorAll('button')) b.classList.toggle('on', b.dataset.window === String(windowMs));

  let lastExpvar;
  for (let i = scrapes.length - 1; i >= 0 && !lastExpvar; i--) if (scrapes[i].expvar) lastExpvar = scrapes[i];
  $('custom').hidden = !lastExpvar;
  if (!lastExpvar) return;
  const variables = flatten(lastExpvar.expvar.custom ?? {}, '', []);
  $('variables').tBodies[0].replaceChildren(...variables.map(([name, value]) => {
    const tr = document.createElement('tr');
    const numeric = typeof value === 'number';
    if (numeric) {
      tr.className = 'number';
      tr.addEventListener('click', () => { chartedVariable = name; render(); });
    }
    tr.append(cell(name), cell(shown(value)));
    return tr;
  }));
  if (chartedVariable === undefined) {
    $('custom-chart').replaceChildren();
    return;
  }
  const get = (expvar) => {
    let v = expvar?.custom;
    for (const part of chartedVariable.split('.')) v = v?.[part];
    return typeof v === 'number' ? v : undefined;
  };
  const customPoints = inWindow.map((s) => ({ x: s.t, key: s.key, label: clock(s.t), heap: s.expvar ? { value: get(s.expvar) } : undefined, restart: s.restart }));
  drawPanels($('custom-chart'), customPoints, {
    axis: 'time', from, to: from === undefined ? undefined : end,
    panels: [{ title: chartedVariable, unit: '', series: [[chartedVariable, (h) => h.value]] }],
  });
}

function render() {
  schedule(true);
}

// The open target (by address) and the window, in the URL's fragment, so that a reload or a
// shared link opens them again: #target=http%3A%2F%2F127.0.0.1%3A6060&window=300000.
function saveState() {
  const state = new URLSearchParams();
  if (wanted !== undefined) state.set('target', wanted);
  if (windowMs !== 'all') state.set('window', String(windowMs));
  const hash = state.toString();
  history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
}

function loadState() {
  const state = new URLSearchParams(location.hash.slice(1));
  wanted = state.get('target') ?? undefined;
  const w = Number(state.get('window'));
  windowMs = WINDOWS.includes(w) ? w : 'all';
}

function main() {
  for (const th of $('fleet').tHead.rows[0].cells) {
    th.tabIndex = 0;
    const sortBy = () => {
      if (sortKey === th.dataset.key) sortDown = !sortDown;
      else { sortKey = th.dataset.key; sortDown = false; }
      render();
    };
    th.addEventListener('click', sortBy);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(); } });
  }
  for (const b of $('windows').querySelectorAll('button')) {
    b.addEventListener('click', () => {
      windowMs = b.dataset.window === 'all' ? 'all' : Number(b.dataset.window);
      saveState();
      render();
    });
  }
  loadState();
  window.addEventListener('hashchange', () => {
    loadState();
    selected = [...targets.values()].find((t) => t.address === wanted)?.id;
    render();
  });
  // Ages move on with no new scrape.
  setInterval(() => schedule(false), 1000);
  connect();
  document.body.dataset.ready = 'true';
}

main();
