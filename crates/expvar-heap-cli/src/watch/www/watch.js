// The page of `expvar-heap watch`: reads the tool's event stream (/events: a `hello`, each target
// and its kept scrapes, then every new scrape) and shows the fleet and one target's panels. All
// a target sends (its address, cmdline, custom variables, error messages) is shown as text.
import { drawPanels, human, clock } from './charts.js';

const $ = (id) => document.getElementById(id);

// id -> { id, address, scrapes: [{ t, key, heap, expvar, error, restart }] }
const targets = new Map();
let keep = 360;
let periodMs = 10000;
let skewMs = 0; // the tool's clock minus this page's
let selected;
let windowMs = 'all';
let sortKey = 'address';
let sortDown = false;

// JSON with each number above 2^53 kept as its text (JSON.parse's source access), so that a
// custom variable is shown exactly as the service sent it.
function parseExact(text) {
  return JSON.parse(text, (key, value, context) =>
    (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value) && context?.source
      ? { exact: context.source } : value));
}

// One scrape from its events: the heap event's figures, or why it failed.
function scrapeOf(events) {
  const scrape = { t: undefined, key: undefined, heap: undefined, expvar: undefined, error: undefined, restart: false };
  for (const { has_error: hasError, event } of events) {
    scrape.t ??= Date.parse(event['@timestamp']);
    scrape.key ??= event['@timestamp'];
    if (hasError && scrape.error === undefined) scrape.error = String(event.error?.message ?? 'error');
    const dataset = event.data_stream?.dataset;
    if (dataset === 'golang.heap' && event.golang?.heap?.allocations) scrape.heap = event.golang.heap;
    if (dataset === 'golang.expvar' && event.golang?.expvar) scrape.expvar = event.golang.expvar;
  }
  scrape.restart = scrape.heap?.gc?.pause?.since === 'restart';
  // An event with error.message and figures is a usable scrape with one bad field.
  scrape.failed = scrape.error !== undefined && scrape.heap === undefined && scrape.expvar === undefined;
  return scrape;
}

// Redraws at most once a frame; the selected target's panels only when it has something new.
let pending = false;
let chartsStale = true;
function schedule(charts = true) {
  chartsStale ||= charts;
  if (pending) return;
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
    const hello = JSON.parse(e.data);
    keep = hello.keep;
    periodMs = hello.period_ms;
    skewMs = hello.now_ms - Date.now();
    targets.clear();
    schedule();
  });
  source.addEventListener('target', (e) => {
    const { id, address } = JSON.parse(e.data);
    targets.set(id, { id, address: String(address), scrapes: [] });
    schedule();
  });
  source.addEventListener('gone', (e) => {
    const { id } = JSON.parse(e.data);
    targets.delete(id);
    if (selected === id) selected = undefined;
    schedule();
  });
  source.addEventListener('message', (e) => {
    const { target, events } = parseExact(e.data);
    const t = targets.get(target);
    if (!t) return;
    t.scrapes.push(scrapeOf(events));
    if (t.scrapes.length > keep) t.scrapes.splice(0, t.scrapes.length - keep);
    schedule(target === selected);
  });
}

function setStatus(className, text) {
  $('status').className = className;
  $('status').textContent = text;
}

// A target's row: its state and figures from its last scrapes.
function summary(target) {
  const scrapes = target.scrapes;
  const last = scrapes[scrapes.length - 1];
  const good = scrapes.filter((s) => s.heap);
  const now = good[good.length - 1];
  const before = good[good.length - 2];
  const row = { address: target.address, state: 'waiting', why: '', inUse: undefined, goal: undefined, share: undefined,
    allocRate: undefined, gcPerMinute: undefined, maxPause: undefined, cpuFraction: undefined, age: undefined };
  if (last?.failed) {
    row.state = 'failing';
    row.why = last.error;
  } else if (last) {
    const recent = scrapes.slice(-Math.max(1, Math.ceil(60000 / periodMs)));
    row.state = recent.some((s) => s.restart) ? 'restarted' : 'up';
  }
  if (now) {
    const h = now.heap;
    row.inUse = h.allocations?.active?.bytes;
    row.goal = h.gc?.next_gc_limit;
    row.share = row.inUse !== undefined && row.goal ? row.inUse / row.goal : undefined;
    row.cpuFraction = h.gc?.cpu_fraction;
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

function ago(ms) {
  if (ms === undefined) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function renderFleet() {
  const rows = [...targets.values()].map((t) => ({ id: t.id, ...summary(t) }));
  rows.sort((a, b) => {
    const x = a[sortKey];
    const y = b[sortKey];
    if (x === y) return a.address < b.address ? -1 : 1;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * (sortDown ? -1 : 1);
  });
  const body = $('fleet').tBodies[0];
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.id = String(r.id);
    tr.dataset.state = r.state;
    if (r.id === selected) tr.className = 'selected';
    const state = cell(r.state, `state ${r.state}`);
    if (r.why) {
      const why = document.createElement('span');
      why.className = 'why';
      why.textContent = r.why;
      state.append(why);
    }
    tr.append(
      cell(r.address, 'address'), state,
      cell(human(r.inUse, 'bytes'), 'num'), cell(human(r.goal, 'bytes'), 'num'),
      cell(r.share === undefined ? '–' : `${(r.share * 100).toFixed(0)} %`, 'num'),
      cell(r.allocRate === undefined ? '–' : `${human(r.allocRate, 'bytes')}/s`, 'num'),
      cell(r.gcPerMinute === undefined ? '–' : r.gcPerMinute.toFixed(1), 'num'),
      cell(human(r.maxPause, 'ns'), 'num'),
      cell(r.cpuFraction === undefined ? '–' : `${(r.cpuFraction * 100).toFixed(3)} %`, 'num'),
      cell(ago(r.age), 'num'));
    tr.addEventListener('click', () => { selected = r.id; render(); });
    return tr;
  }));
  for (const th of $('fleet').tHead.rows[0].cells) {
    th.classList.toggle('sorted', th.dataset.key === sortKey);
    th.classList.toggle('down', th.dataset.key === sortKey && sortDown);
  }
  $('count').textContent = `(${rows.length})`;
}

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
  const lastGood = [...scrapes].reverse().find((s) => s.heap);
  $('address').textContent = target.address;
  $('cmdline').textContent = (lastGood?.heap?.cmdline ?? []).join(' ');
  const end = Date.now() + skewMs;
  const from = windowMs === 'all' ? undefined : end - windowMs;
  const inWindow = scrapes.filter((s) => from === undefined || s.t >= from);
  const points = inWindow.map((s) => ({
    x: s.t, key: s.key, label: clock(s.t), heap: s.heap, error: s.failed ? s.error : undefined, restart: s.restart,
  }));
  const section = $('target');
  section.dataset.scrapes = String(scrapes.length);
  section.dataset.last = scrapes.length ? scrapes[scrapes.length - 1].key : '';
  $('kept').textContent = `${scrapes.length} scrapes kept (at most ${keep})`;
  drawPanels($('panels'), points, { axis: 'time', from, to: from === undefined ? undefined : end });
  for (const b of $('windows').querySelectorAll('button')) b.classList.toggle('on', b.dataset.window === String(windowMs));

  const lastExpvar = [...scrapes].reverse().find((s) => s.expvar);
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

function main() {
  for (const th of $('fleet').tHead.rows[0].cells) {
    th.addEventListener('click', () => {
      if (sortKey === th.dataset.key) sortDown = !sortDown;
      else { sortKey = th.dataset.key; sortDown = false; }
      render();
    });
  }
  for (const b of $('windows').querySelectorAll('button')) {
    b.addEventListener('click', () => {
      windowMs = b.dataset.window === 'all' ? 'all' : Number(b.dataset.window);
      render();
    });
  }
  // Ages move on with no new scrape.
  setInterval(() => schedule(false), 1000);
  connect();
  document.body.dataset.ready = 'true';
}

main();
