// The verdict on one target of `expvar-heap watch`, from the scrapes the page keeps of it: what is
// wrong with it, said in a sentence, and how bad that is. Pure functions of the scrapes (no page,
// no clock of its own), so that Node tests them on sequences of figures as Go writes them. Each
// threshold is named below and explained in docs/watch.md.
//
// A scrape is { t, heap, expvar, failed, error, answered, restart, noMemstats, heapEvent }: `heap`
// the `golang.heap` figures of a good scrape, `failed` a scrape that gave no figures (its `error`
// says why; `answered` when a body came back all the same, kept in `event.original`), `restart` a
// heap event whose pause window starts at a restart, `heapEvent` whether the run makes heap events
// at all (not with `--dataset expvar`).

// One scrape from its record on the stream (the tool's watch/hub.rs `record`: `t` the
// @timestamp, `heap` the heap event's golang.heap, `heap_event`, `custom` the expvar event's
// custom variables, `expvar`, `error` the first error message, `answered`).
export function scrapeOf(record) {
  const scrape = {
    t: Date.parse(record.t), key: record.t, heap: undefined, expvar: undefined,
    error: record.error === undefined ? undefined : String(record.error), restart: false,
    answered: record.answered === true, heapEvent: record.heap_event === true,
  };
  // A heap event with figures; one with only an error message has none.
  if (record.heap?.allocations) scrape.heap = record.heap;
  if (record.expvar === true) scrape.expvar = { custom: record.custom ?? {} };
  scrape.restart = scrape.heap?.gc?.pause?.since === 'restart';
  // A body that has no memstats (the core says "memstats is missing") came from a service that
  // answered: no failed scrape, but one with no heap figures.
  scrape.noMemstats = scrape.heap === undefined && /memstats is missing/.test(scrape.error ?? '');
  // An event with error.message and figures is a usable scrape with one bad field.
  scrape.failed = scrape.error !== undefined && scrape.heap === undefined && scrape.expvar === undefined
    && !scrape.noMemstats;
  return scrape;
}

// The verdicts, worst first: the fleet table sorts by this order.
export const KINDS = ['down', 'never', 'limit', 'thrashing', 'growing', 'restarted', 'nomemstats', 'waiting', 'ok'];

// Restarts are counted over this span.
export const RESTART_SPAN_MS = 15 * 60 * 1000;
// GC rates are taken over the last minute of scrapes, and over no less than RATE_MIN_MS (a
// scrape's time is when it started, its counters are read when its body came: two scrapes close
// together can be far off).
export const RATE_SPAN_MS = 60 * 1000;
export const RATE_MIN_MS = 10 * 1000;
// GC thrashing: at least this many cycles a second (Go's pacer starts a cycle when the heap has
// grown by GOGC % over what the last one kept, so this many a second means the program allocates
// its live heap over again 20 times a second, or that a memory limit holds the goal down). The
// share of time stopped for GC is said with it, but is no verdict of its own: on a starved host
// (more runnable threads than cores) every stop-the-world pause stretches to tens of ms, and a
// healthy service then shows several % of its time stopped.
export const THRASH_GC_PER_S = 20;
// Near its memory limit: the memory the runtime holds from the system for the heap and the
// goroutine stacks (HeapSys - HeapReleased + StackSys: the bulk of what GOMEMLIMIT counts; the
// runtime's own metadata, a few %, is not in the heap event) is at least this share of the limit
// the target declares. Above the GOMEMLIMIT of 90 to 95 % of a container's limit that services
// are commonly given, so that a runtime holding itself at its GOMEMLIMIT is not called out, and
// one past it (its live heap alone over what that limit allows) is.
export const LIMIT_SHARE = 0.95;
// The heap the GC keeps is growing when, over at least this span of one process ...
export const GROWTH_SPAN_MS = 5 * 60 * 1000;
// ... its floor (the lowest heap in use between collections, read as the lowest `object.bytes` of
// each of GROWTH_BUCKETS slices of the span) rose steadily: the Theil-Sen slope of the floors
// (robust to the sawtooth and to one odd slice) is positive, at least GROWTH_RISING of the
// slice-to-slice steps rose, and the slope over the span adds up to at least GROWTH_SHARE of
// where the floor started and GROWTH_MIN_BYTES (not the last floor minus the first: a heap that
// grew once at start, as a cache fills, then stayed, is no leak).
export const GROWTH_BUCKETS = 8;
export const GROWTH_RISING = 0.7;
export const GROWTH_SHARE = 0.1;
export const GROWTH_MIN_BYTES = 4 * 1024 * 1024;

// A figure with its unit, as a person reads it.
export function bytes(n) {
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  for (const unit of ['B', 'KiB', 'MiB', 'GiB', 'TiB']) {
    if (v < 1024 || unit === 'TiB') return `${sign}${unit === 'B' ? v.toFixed(0) : v.toFixed(1)} ${unit}`;
    v /= 1024;
  }
  return `${sign}${v} B`;
}

export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

// HH:MM:SS of a time in ms, in the page's time zone.
export function clockOf(t) {
  const d = new Date(t);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

// The slope (per ms) through points [x, y] by Theil-Sen: the median of the pairwise slopes.
export function theilSen(points) {
  const slopes = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dx = points[j][0] - points[i][0];
      if (dx > 0) slopes.push((points[j][1] - points[i][1]) / dx);
    }
  }
  if (slopes.length === 0) return undefined;
  slopes.sort((a, b) => a - b);
  const mid = slopes.length >> 1;
  return slopes.length % 2 ? slopes[mid] : (slopes[mid - 1] + slopes[mid]) / 2;
}

// The good scrapes of the process that is running now: those after its last restart.
export function currentProcess(scrapes) {
  const good = scrapes.filter((s) => s.heap);
  let start = 0;
  for (let i = good.length - 1; i > 0; i--) {
    if (good[i].restart) {
      start = i;
      break;
    }
  }
  return good.slice(start);
}

// GC cycles per second and the share of time paused, between the first good scrape of the last
// RATE_SPAN_MS (of this process) and the last.
export function gcRates(process) {
  const last = process[process.length - 1];
  if (!last) return undefined;
  const first = process.find((s) => s.t >= last.t - RATE_SPAN_MS && s !== last);
  if (!first || last.t - first.t < RATE_MIN_MS) return undefined;
  const seconds = (last.t - first.t) / 1000;
  const count = (s) => s.heap.gc?.total?.count;
  const paused = (s) => s.heap.gc?.pause?.total?.ns;
  if (count(first) === undefined || count(last) === undefined) return undefined;
  const cycles = count(last) - count(first);
  const pausedNs = (paused(last) ?? 0) - (paused(first) ?? 0);
  if (cycles < 0 || pausedNs < 0) return undefined;
  return { perSecond: cycles / seconds, pausedShare: pausedNs / 1e9 / seconds, seconds };
}

// The floors of the heap in use of `process` (good scrapes of one process, in time order): its
// span cut into `buckets` equal slices of time, and of each slice that holds a scrape, its middle
// `t`, its bounds `from` and `to`, and the lowest `object.bytes` (HeapAlloc) in it.
export function heapFloors(process, buckets = GROWTH_BUCKETS) {
  if (process.length === 0) return [];
  const from = process[0].t;
  const span = process[process.length - 1].t - from;
  const width = span / buckets;
  const lows = new Array(buckets).fill(undefined);
  for (const s of process) {
    const v = s.heap.allocations?.object?.bytes;
    if (v === undefined) continue;
    const k = width > 0 ? Math.min(buckets - 1, Math.floor((s.t - from) / width)) : 0;
    if (lows[k] === undefined || v < lows[k]) lows[k] = v;
  }
  const floors = [];
  lows.forEach((floor, k) => {
    if (floor !== undefined) floors.push({ t: from + (k + 0.5) * width, from: from + k * width, to: from + (k + 1) * width, floor });
  });
  return floors;
}

// The floor of the heap in use over the last GROWTH_SPAN_MS or more of this process, its slope in
// bytes an hour, and whether it rose as a leak does.
export function keptGrowth(process) {
  const last = process[process.length - 1];
  if (!last || process.length < 2 * GROWTH_BUCKETS) return undefined;
  const span = last.t - process[0].t;
  if (span < GROWTH_SPAN_MS) return undefined;
  const floors = heapFloors(process).map(({ t, floor }) => [t, floor]);
  if (floors.length < GROWTH_BUCKETS / 2) return undefined;
  const slope = theilSen(floors);
  if (slope === undefined) return undefined;
  let rising = 0;
  for (let i = 1; i < floors.length; i++) if (floors[i][1] > floors[i - 1][1]) rising++;
  const start = floors[0][1];
  // What the slope adds up to over the span: a single step (a cache filled at start, then flat)
  // moves the median slope little, where last minus first would count all of it.
  const grown = slope * (floors[floors.length - 1][0] - floors[0][0]);
  const perHour = slope * 3600 * 1000;
  const leaking = slope > 0 && rising >= GROWTH_RISING * (floors.length - 1)
    && grown >= GROWTH_SHARE * start && grown >= GROWTH_MIN_BYTES;
  return { perHour, floor: floors[floors.length - 1][1], leaking };
}

// The memory the runtime holds from the system (see LIMIT_SHARE), from a scrape's heap figures.
export function held(heap) {
  const sys = heap?.system;
  const total = sys?.total?.bytes;
  if (total === undefined) return undefined;
  return total - (sys.released?.bytes ?? 0) + (sys.stack?.bytes ?? 0);
}

// The memory limit in force at the last scrape, in bytes: the one the target's entry declares
// (`limit.memory_limit`), or the value of the custom variable it names (`limit.memory_limit_variable`,
// a dotted path, read from the last scrape that has the expvar dataset's event). Go's "no limit"
// (math.MaxInt64, what debug.SetMemoryLimit(-1) returns when none is set), and anything but a
// number above 0, is no limit.
export function memoryLimit(scrapes, limit = {}) {
  if (typeof limit.memory_limit === 'number' && limit.memory_limit > 0) return limit.memory_limit;
  const path = limit.memory_limit_variable;
  if (typeof path !== 'string') return undefined;
  for (let i = scrapes.length - 1; i >= 0; i--) {
    const custom = scrapes[i].expvar?.custom;
    if (!custom) continue;
    let value = custom;
    for (const part of path.split('.')) value = value?.[part];
    return typeof value === 'number' && value > 0 && Number.isSafeInteger(value) ? value : undefined;
  }
  return undefined;
}

// Everything the verdict is made from, at `now` (ms, the tool's clock). `full`: the page keeps no
// more scrapes of the target than these (older ones were dropped), so the first kept one is no
// beginning.
export function signals(scrapes, now, full = false, limit = {}) {
  const last = scrapes[scrapes.length - 1];
  const lastGood = [...scrapes].reverse().find((x) => x.heap);
  const limitBytes = memoryLimit(scrapes, limit);
  const heldBytes = held(lastGood?.heap);
  const process = currentProcess(scrapes);
  let downSince;
  for (let i = scrapes.length - 1; i >= 0 && scrapes[i].failed; i--) downSince = scrapes[i].t;
  const restarts = scrapes.filter((s) => s.restart && s.t >= now - RESTART_SPAN_MS);
  return {
    last,
    full,
    everGood: scrapes.some((s) => s.heap),
    everAnswered: scrapes.some((s) => !s.failed),
    downSince,
    restarts: restarts.length,
    upSince: restarts.length ? restarts[restarts.length - 1].t : undefined,
    rates: gcRates(process),
    growth: keptGrowth(process),
    limit: limitBytes,
    held: heldBytes,
    ofLimit: limitBytes && heldBytes !== undefined ? heldBytes / limitBytes : undefined,
  };
}

// The verdict: { kind, reason, rank } (rank: the place of kind in KINDS, 0 the worst). `limit`:
// the memory limit the target's entry declares, or the variable it names (memoryLimit).
export function verdict(scrapes, now, full = false, limit = {}) {
  const s = signals(scrapes, now, full, limit);
  const make = (kind, reason) => ({ kind, reason, rank: KINDS.indexOf(kind), signals: s });
  if (!s.last) return make('waiting', 'waiting for its first scrape');
  if (s.last.failed) {
    // Every kept scrape failed, and older ones were dropped: down for longer than is kept.
    if (s.downSince === scrapes[0].t && s.full) {
      return make('down', `down since before ${clockOf(s.downSince)} (all that is kept): ${s.last.error}`);
    }
    if (!s.everAnswered) {
      const what = scrapes.some((x) => x.answered) ? 'never gave a usable body' : 'never answered';
      return make('never', `${what}: ${s.last.error}`);
    }
    return make('down', `down since ${clockOf(s.downSince)}: ${s.last.error}`);
  }
  if (s.last.heap && s.ofLimit >= LIMIT_SHARE) {
    return make('limit', `at ${Math.floor(s.ofLimit * 100)} % of its memory limit (${bytes(s.held)} of ${bytes(s.limit)} held)`);
  }
  const r = s.rates;
  if (r && r.perSecond >= THRASH_GC_PER_S) {
    const perSecond = r.perSecond >= 10 ? r.perSecond.toFixed(0) : r.perSecond.toFixed(1);
    return make('thrashing', `GC thrashing: ${perSecond} GC/s, ${(r.pausedShare * 100).toFixed(1)} % of time paused`);
  }
  if (s.growth?.leaking) return make('growing', `heap kept growing +${bytes(s.growth.perHour)}/h`);
  if (s.restarts > 0) {
    const times = s.restarts === 1 ? 'once' : `${s.restarts}x`;
    return make('restarted', `restarted ${times} in ${RESTART_SPAN_MS / 60000} min (up ${duration(now - s.upSince)})`);
  }
  // A run without the heap dataset (`--dataset expvar`) has no heap figures to judge.
  if (!s.last.heap && !s.last.heapEvent) return make('ok', 'ok (no heap dataset)');
  if (!s.last.heap) {
    if (s.last.noMemstats) return make('nomemstats', 'no memstats in the body');
    return make('nomemstats', s.last.error ? `no heap figures: ${s.last.error}` : 'no heap figures in the body');
  }
  return make('ok', 'ok');
}
