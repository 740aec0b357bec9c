// The axes of the chart module (crates/expvar-heap-web/www/charts.js) that the playground and
// `expvar-heap watch` draw with, on their own: round ticks from 0 in the unit a person reads,
// and round clock times across a window. The drawing itself is checked in Chromium
// (watch.test.mjs, playground.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, timeTicks, human, clock } from '../../crates/expvar-heap-web/www/charts.js';

const MiB = 1024 * 1024;

test('y ticks: 0 and 3 to 5 round steps up to at least the largest value, in the unit shown', () => {
  const cases = [
    [4 * MiB, 'bytes', ['0 B', '1.0 MiB', '2.0 MiB', '3.0 MiB', '4.0 MiB']],
    [4 * MiB + 1, 'bytes', ['0 B', '2.0 MiB', '4.0 MiB', '6.0 MiB']],
    [437 * 1024, 'bytes/s', ['0 B/s', '200 KiB/s', '400 KiB/s', '600 KiB/s']],
    [27.94e6, 'ns', ['0 µs', '10.00 ms', '20.00 ms', '30.00 ms']],
    [0.028, 'share', ['0 %', '1.0 %', '2.0 %', '3.0 %']],
    [6, '/s', ['0/s', '2.0/s', '4.0/s', '6.0/s']],
    [1, '', ['0', '0.25', '0.5', '0.75', '1']],
    [3, '', ['0', '1', '2', '3']],
  ];
  for (const [max, unit, labels] of cases) {
    const { top, ticks } = niceTicks(max, unit);
    assert.ok(top >= max, `${max} ${unit}: top ${top}`);
    assert.deepEqual(ticks.map((t) => human(t, unit)), labels, `${max} ${unit}`);
  }
  // Extremes: nothing, or nothing usable, is one tick at 0 over a scale of 1; the largest
  // figures still give round steps of their unit.
  for (const max of [0, -5, NaN, undefined]) assert.deepEqual(niceTicks(max, 'bytes'), { top: 1, ticks: [0] });
  for (const [max, unit] of [[2 ** 53, 'bytes'], [2 ** 64, 'bytes'], [Number.MAX_SAFE_INTEGER, 'ns'], [1e-12, 'share'], [Number.MAX_VALUE / 8, '']]) {
    const { top, ticks } = niceTicks(max, unit);
    assert.ok(top >= max && Number.isFinite(top), `${max}: ${top}`);
    assert.ok(ticks.length >= 2 && ticks.length <= 6, `${max}: ${ticks.length} ticks`);
    assert.equal(ticks[0], 0);
  }
});

test('time ticks: round times of the clock inside the window, 2 to 6 of them', () => {
  const at = (h, m, s = 0) => new Date(2026, 11, 4, h, m, s).getTime();
  // The 1 h window that starts at 11:40 is labelled at quarter hours, not at its scrapes.
  assert.deepEqual(timeTicks(at(11, 40), at(12, 40)).map((t) => t.label), ['11:45', '12:00', '12:15', '12:30']);
  assert.deepEqual(timeTicks(at(11, 40, 7), at(11, 45, 7)).map((t) => t.label), ['11:41', '11:42', '11:43', '11:44', '11:45']);
  assert.deepEqual(timeTicks(at(11, 40, 7), at(11, 40, 17)).map((t) => t.label), ['11:40:08', '11:40:10', '11:40:12', '11:40:14', '11:40:16']);
  for (const span of [7000, 15000, 60000, 300000, 900000, 3600000, 6 * 3600000, 86400000]) {
    const from = at(10, 3, 17) + 123;
    const ticks = timeTicks(from, from + span);
    assert.ok(ticks.length >= 2 && ticks.length <= 6, `${span}: ${ticks.length}`);
    for (const { t } of ticks) assert.ok(t >= from && t <= from + span, `${span}: ${t}`);
  }
  // No span, no tick.
  assert.deepEqual(timeTicks(at(12, 0), at(12, 0)), []);
});

test('clock times run from 00:00:00 to 23:59:59, whatever the locale', () => {
  const at = (h, m, sec) => new Date(2026, 11, 5, h, m, sec).getTime();
  assert.equal(clock(at(0, 2, 37)), '00:02:37');
  assert.equal(clock(at(23, 59, 59)), '23:59:59');
  assert.equal(clock(at(12, 0, 0)), '12:00:00');
  assert.deepEqual(timeTicks(at(23, 58, 0), at(0, 3, 0) + 86400000).map((t) => t.label), ['23:58', '23:59', '00:00', '00:01', '00:02', '00:03']);
});
