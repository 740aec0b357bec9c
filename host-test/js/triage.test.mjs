// The verdicts of `expvar-heap watch` (crates/expvar-heap-cli/src/watch/www/triage.js), on their
// own: scrapes made from the records of the core's real events (fixtures/) and from a model of Go's counters (a
// heap that grows and is collected, NumGC and PauseTotalNs as the runtime counts them), so that
// each threshold is met just over and just under. The page shows them; watch.test.mjs checks
// them on real Go services in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  scrapeOf, verdict, theilSen, keptGrowth, gcRates, held, memoryLimit, KINDS,
  THRASH_GC_PER_S, GROWTH_SPAN_MS, RESTART_SPAN_MS, LIMIT_SHARE,
} from '../../crates/expvar-heap-cli/src/watch/www/triage.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MiB = 1024 * 1024;
const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);

// The record the stream carries for a fixture's expected file (the events of one scrape), as
// the tool's watch/hub.rs `record` makes it (its unit test checks it on every fixture).
function fixtureRecord(path) {
  const events = readFileSync(join(root, path), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const record = { t: events[0]['@timestamp'] };
  const heapEvent = events.find((e) => e.data_stream.dataset === 'golang.heap');
  if (heapEvent) record.heap_event = true;
  if (heapEvent?.golang?.heap) record.heap = heapEvent.golang.heap;
  const expvarEvent = events.find((e) => e.data_stream.dataset === 'golang.expvar' && e.golang?.expvar);
  if (expvarEvent) record.expvar = true;
  if (expvarEvent?.golang.expvar.custom) record.custom = expvarEvent.golang.expvar.custom;
  const failed = events.find((e) => e.error);
  if (failed) record.error = failed.error.message ?? 'error';
  if (events.some((e) => typeof e.event?.original === 'string' && e.event.original !== '')) record.answered = true;
  return record;
}

// A scrape of a model Go process at `t`: heap floor `kept` (what the GC keeps), the sawtooth's
// phase above it, `numGC` and `pausedNs` so far, `since` the pause window's start.
// `system`: the heap's system figures (HeapSys, HeapReleased, StackSys), `custom` the expvar
// event's custom variables (none: no expvar event).
function heapScrape(t, { kept, phase = 0, numGC, pausedNs, since = 'previous_body', system, custom }) {
  const heap = {
    allocations: { object: { bytes: Math.round(kept * (1 + phase)) }, active: { bytes: Math.round(kept * 1.2) } },
    gc: { next_gc_limit: kept * 2, total: { count: numGC }, pause: { since, total: { ns: pausedNs } } },
  };
  if (system) heap.system = system;
  const record = { t: new Date(t).toISOString(), heap, heap_event: true };
  if (custom) Object.assign(record, { expvar: true, custom });
  return scrapeOf(record);
}

function failedScrape(t, message) {
  return scrapeOf({ t: new Date(t).toISOString(), heap_event: true, error: message });
}

// `minutes` of scrapes every `periodS` of a steady process: heap floor `kept(t)`, `gcPerS`
// cycles a second of `pauseUs` each; a GC every third scrape (the sawtooth: 0, 45 and 90 % over the floor).
function process({ from = T0, minutes, periodS = 10, kept = () => 50 * MiB, gcPerS = 0.5, pauseUs = 50, first = 'process_start' }) {
  const scrapes = [];
  for (let k = 0; k * periodS <= minutes * 60; k++) {
    const t = from + k * periodS * 1000;
    const seconds = k * periodS;
    const numGC = Math.floor(seconds * gcPerS);
    scrapes.push(heapScrape(t, {
      kept: kept(t), phase: (k % 3) * 0.45, numGC, pausedNs: numGC * pauseUs * 1000,
      since: k === 0 ? first : 'previous_body',
    }));
  }
  return scrapes;
}

const end = (scrapes) => scrapes[scrapes.length - 1].t;

test('a steady service is ok, and the kinds are ordered worst first', () => {
  const steady = process({ minutes: 20 });
  const v = verdict(steady, end(steady));
  assert.equal(v.kind, 'ok', v.reason);
  assert.equal(v.reason, 'ok');
  assert.deepEqual(KINDS.slice(0, 4), ['down', 'never', 'limit', 'thrashing']);
  assert.equal(verdict([], T0).kind, 'waiting');
});

test('down since the first failure of the current run, with the last message', () => {
  const scrapes = process({ minutes: 2 });
  const t = end(scrapes);
  scrapes.push(failedScrape(t + 10000, 'first'), failedScrape(t + 20000, 'connection refused'));
  const v = verdict(scrapes, t + 20000);
  assert.equal(v.kind, 'down');
  const at = new Date(t + 10000);
  const clock = [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  assert.equal(v.reason, `down since ${clock}: connection refused`);
  // Answered again: no longer down.
  scrapes.push(heapScrape(t + 30000, { kept: 50 * MiB, numGC: 200, pausedNs: 1e7 }));
  assert.notEqual(verdict(scrapes, t + 30000).kind, 'down');
});

test('never answered', () => {
  const scrapes = [failedScrape(T0, 'dial tcp 127.0.0.1:1: connection refused'), failedScrape(T0 + 10000, 'dial tcp 127.0.0.1:1: connection refused')];
  const v = verdict(scrapes, T0 + 10000);
  assert.equal(v.kind, 'never');
  assert.equal(v.reason, 'never answered: dial tcp 127.0.0.1:1: connection refused');
});

test('down for longer than is kept, and bodies that came back unusable', () => {
  const failed = [1, 2, 3].map((k) => failedScrape(T0 + k * 10000, 'connection refused'));
  // The page keeps 3 scrapes and all failed: older ones (good, maybe) were dropped.
  const v = verdict(failed, T0 + 30000, true);
  assert.equal(v.kind, 'down');
  assert.match(v.reason, /^down since before \d\d:\d\d:\d\d \(all that is kept\): connection refused$/);
  assert.equal(verdict(failed, T0 + 30000, false).kind, 'never');
  // An error page kept in event.original: an answer, but no usable body.
  const page = scrapeOf({ t: new Date(T0).toISOString(), heap_event: true, error: 'HTTP 502', answered: true });
  assert.equal(page.failed, true);
  assert.equal(page.answered, true);
  assert.equal(verdict([page], T0).reason, 'never gave a usable body: HTTP 502');
});

test('a run without the heap dataset has nothing to judge but failures', () => {
  const expvarOnly = scrapeOf({ t: new Date(T0).toISOString(), expvar: true, custom: { n: 1 } });
  assert.equal(expvarOnly.failed, false);
  const v = verdict([expvarOnly], T0);
  assert.equal(v.kind, 'ok');
  assert.equal(v.reason, 'ok (no heap dataset)');
});

test('a rate needs 10 s of scrapes: two close together say nothing', () => {
  const a = heapScrape(T0, { kept: 50 * MiB, numGC: 100, pausedNs: 0 });
  const b = heapScrape(T0 + 2000, { kept: 50 * MiB, numGC: 200, pausedNs: 0 });
  assert.equal(gcRates([a, b]), undefined);
  assert.equal(verdict([a, b], T0 + 2000).kind, 'ok');
  const c = heapScrape(T0 + 10000, { kept: 50 * MiB, numGC: 500, pausedNs: 0 });
  assert.equal(gcRates([a, b, c]).perSecond, 40);
  assert.equal(verdict([a, b, c], T0 + 10000).kind, 'thrashing');
});

test('a body without memstats (the core\'s own event) is no failure but its own verdict', () => {
  const scrape = scrapeOf(fixtureRecord('fixtures/bad/memstats-missing.expected.ndjson'));
  assert.equal(scrape.failed, false);
  assert.equal(scrape.noMemstats, true);
  const v = verdict([scrape], scrape.t);
  assert.equal(v.kind, 'nomemstats');
  assert.equal(v.reason, 'no memstats in the body');
  // Any other bad body is a failed scrape.
  const truncated = scrapeOf(fixtureRecord('fixtures/bad/truncated.expected.ndjson'));
  assert.equal(truncated.failed, true);
});

test('GC thrashing by cycles a second, with the share of time paused said', () => {
  const just = process({ minutes: 3, gcPerS: THRASH_GC_PER_S });
  const v = verdict(just, end(just));
  assert.equal(v.kind, 'thrashing');
  assert.equal(v.reason, 'GC thrashing: 20 GC/s, 0.1 % of time paused');
  const under = process({ minutes: 3, gcPerS: THRASH_GC_PER_S - 1 });
  assert.equal(verdict(under, end(under)).kind, 'ok');
  // 5 cycles a second of 25 ms each (a starved host stretches each pause): 12.5 % of the time
  // stopped, measured, but no thrashing.
  const starved = process({ minutes: 3, gcPerS: 5, pauseUs: 25000 });
  assert.equal(gcRates(starved).pausedShare.toFixed(3), '0.125');
  assert.equal(verdict(starved, end(starved)).kind, 'ok');
});

test('rates are never taken across a restart', () => {
  const old = process({ minutes: 3, gcPerS: 5 });
  const restarted = process({ from: end(old) + 10000, minutes: 0.5, gcPerS: 1, first: 'restart' });
  const rates = gcRates(restarted);
  const all = [...old, ...restarted];
  // The new process's counters start again from 0: the rate is its own, not negative or mixed.
  const v = verdict(all, end(all));
  assert.equal(v.signals.rates.perSecond.toFixed(2), rates.perSecond.toFixed(2));
  assert.equal(v.kind, 'restarted');
});

test('restarted: counted over 15 minutes, with the time up', () => {
  const a = process({ minutes: 4 });
  const b = process({ from: end(a) + 10000, minutes: 4, first: 'restart' });
  const c = process({ from: end(b) + 10000, minutes: 3, first: 'restart' });
  const all = [...a, ...b, ...c];
  const v = verdict(all, end(all));
  assert.equal(v.kind, 'restarted');
  assert.equal(v.reason, 'restarted 2x in 15 min (up 3 min)');
  // 15 minutes after the last restart, it is ok again.
  const later = process({ from: end(c) + 10000, minutes: RESTART_SPAN_MS / 60000 });
  const after = [...all, ...later];
  assert.equal(verdict(after, end(after)).kind, 'ok');
});

test('a leak is the floor of the sawtooth rising; a sawtooth alone is not', () => {
  // 2.5 MiB/s kept on top of 50 MiB, scraped every 10 s for 10 minutes.
  const perMs = (2.5 * MiB) / 1000;
  const leak = process({ minutes: 10, kept: (t) => 50 * MiB + (t - T0) * perMs });
  const v = verdict(leak, end(leak));
  assert.equal(v.kind, 'growing');
  const growth = keptGrowth(leak);
  // The floors of 8 slices see the same slope: 2.5 MiB/s is 8.8 GiB/h.
  assert.ok(Math.abs(growth.perHour / (perMs * 3600 * 1000) - 1) < 0.05, `${growth.perHour}`);
  assert.equal(v.reason, 'heap kept growing +8.8 GiB/h');
  // A big sawtooth on a flat floor, and a floor that grows 2 MiB in all: no leak.
  const flat = process({ minutes: 10 });
  assert.equal(keptGrowth(flat).leaking, false);
  const small = process({ minutes: 10, kept: (t) => 50 * MiB + ((t - T0) / 600000) * 2 * MiB });
  assert.equal(keptGrowth(small).leaking, false);
  // A heap that grew once at start (a cache filled: 4 MiB in the first 15 s), then stayed with
  // a few KiB of noise that rises now and then: no leak (a steady Go service here was one, when
  // the growth was read as the last floor minus the first).
  const warm = process({ minutes: 10, kept: (t) => 200 * 1024 + (t - T0 < 15000 ? 0 : 4 * MiB) + ((t - T0) / 1000) * 8 });
  const warmGrowth = keptGrowth(warm);
  assert.equal(warmGrowth.leaking, false, JSON.stringify(warmGrowth));
  assert.equal(verdict(warm, end(warm)).kind, 'ok');
  // Too short a span to tell.
  const short = process({ minutes: GROWTH_SPAN_MS / 60000 - 1, kept: (t) => 50 * MiB + (t - T0) * perMs });
  assert.equal(keptGrowth(short), undefined);
});

test('Theil-Sen keeps its slope through one odd point', () => {
  const points = [[0, 0], [1, 10], [2, 20], [3, 1000], [4, 40], [5, 50]];
  assert.equal(theilSen(points), 10);
  assert.equal(theilSen([[0, 5]]), undefined);
});

test('extreme figures give a verdict, never an exception', () => {
  const big = Number.MAX_SAFE_INTEGER;
  const scrapes = [
    heapScrape(T0, { kept: big, numGC: 4294967295, pausedNs: big }),
    heapScrape(T0, { kept: 0, numGC: 0, pausedNs: 0 }),
    heapScrape(T0 - 60000, { kept: 1, numGC: 5, pausedNs: 1 }),
    heapScrape(T0 + 1, { kept: big, numGC: 2 ** 32, pausedNs: 0 }),
  ];
  for (let n = 1; n <= scrapes.length; n++) {
    const v = verdict(scrapes.slice(0, n), T0);
    assert.ok(KINDS.includes(v.kind), v.kind);
  }
});

test('near its memory limit: the memory held from the system against the limit declared or published', () => {
  // 480 MiB of heap mapped, 20 MiB of it released, 8 MiB of stacks: 468 MiB held.
  const system = { total: { bytes: 480 * MiB }, released: { bytes: 20 * MiB }, stack: { bytes: 8 * MiB } };
  const scrapes = process({ minutes: 2 });
  scrapes.push(heapScrape(end(scrapes) + 10000, { kept: 200 * MiB, numGC: 60, pausedNs: 3e6, system }));
  assert.equal(held(scrapes[scrapes.length - 1].heap), 468 * MiB);
  const now = end(scrapes);
  // 468 of 480 MiB is 97.5 %: at its limit; of 512 MiB, 91 %: below LIMIT_SHARE, and ok.
  const at = verdict(scrapes, now, false, { memory_limit: 480 * MiB });
  assert.equal(at.kind, 'limit');
  assert.equal(at.reason, 'at 97 % of its memory limit (468.0 MiB of 480.0 MiB held)');
  assert.equal(at.signals.ofLimit, 468 / 480);
  assert.equal(verdict(scrapes, now, false, { memory_limit: 468 * MiB / LIMIT_SHARE + 1 }).kind, 'ok');
  assert.equal(verdict(scrapes, now, false, { memory_limit: Math.ceil(468 * MiB / LIMIT_SHARE) - 1 }).kind, 'limit');
  assert.equal(verdict(scrapes, now, false, { memory_limit: 400 * MiB }).reason, 'at 117 % of its memory limit (468.0 MiB of 400.0 MiB held)');
  assert.equal(verdict(scrapes, now, false, {}).kind, 'ok');
  // Above GC thrashing: a service held at its limit collects over and over, and the limit is the cause.
  const thrash = process({ minutes: 3, gcPerS: THRASH_GC_PER_S });
  const numGC = 3 * 60 * THRASH_GC_PER_S + 200;
  thrash.push(heapScrape(end(thrash) + 10000, { kept: 200 * MiB, numGC, pausedNs: numGC * 50000, system }));
  assert.equal(verdict(thrash, end(thrash), false, { memory_limit: 480 * MiB }).kind, 'limit');
  assert.equal(verdict(thrash, end(thrash), false, {}).kind, 'thrashing');
  // Published by the service as a custom variable: read from the last scrape that has one.
  const published = [...scrapes.slice(0, -1), heapScrape(now, { kept: 200 * MiB, numGC: 60, pausedNs: 3e6, system, custom: { limits: { memory: 480 * MiB } } })];
  const byVariable = { memory_limit_variable: 'limits.memory' };
  assert.equal(memoryLimit(published, byVariable), 480 * MiB);
  assert.equal(verdict(published, now, false, byVariable).kind, 'limit');
  // Go's "no limit" (math.MaxInt64, kept as its text above 2^53), a string, 0, a missing
  // variable: no limit.
  for (const memory of [{ exact: '9223372036854775807' }, '480MiB', 0, -1, undefined]) {
    const none = [heapScrape(now, { kept: 200 * MiB, numGC: 60, pausedNs: 3e6, system, custom: { limits: { memory } } })];
    assert.equal(memoryLimit(none, byVariable), undefined, JSON.stringify(memory));
    assert.equal(verdict(none, now, false, byVariable).kind, 'ok');
  }
  // A heap event without system figures (a partial body) says nothing of the limit.
  assert.equal(held({ allocations: {} }), undefined);
});
