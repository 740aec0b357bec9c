// The component, transpiled by jco, in Node: every fixture must give exactly its expected events
// (compared as text, so integers above 2^53 are compared exactly), and the collector must agree
// with Elastic's PR #4908 pipeline test. Run by `cargo xtask test` (or `npm test` here after
// `cargo xtask build`).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const component = join(root, 'target', 'component', 'expvar-heap.wasm');
// Every expected event was made with this time and both datasets
// (host-test/support/src/fixtures.rs).
const BLESS_TIME = { seconds: 1767225600n, nanoseconds: 0 };

let api;

before(() => {
  assert.ok(existsSync(component), `${component} is missing: run cargo xtask build`);
  const out = mkdtempSync(join(tmpdir(), 'expvar-heap-jco-'));
  const jco = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'jco');
  execFileSync(jco, ['transpile', component, '-o', out, '--name', 'expvar-heap', '--quiet']);
  return import(pathToFileURL(join(out, 'expvar-heap.js')).href).then((module) => { api = module; });
});

function inputs(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return inputs(path);
    return /\.(json|body)$/.test(name) ? [path] : [];
  });
}

test('every fixture gives its expected events', () => {
  const options = api.transform.defaultOptions();
  options.datasets = { heap: true, expvar: true };
  const fixtures = join(root, 'fixtures');
  const cases = readdirSync(fixtures)
    .filter((d) => d === 'bad' || d.startsWith('go'))
    .flatMap((d) => inputs(join(fixtures, d)));
  assert.ok(cases.length >= 70, `only ${cases.length} fixtures`);
  for (const input of cases) {
    const events = api.transform.transform(readFileSync(input), BLESS_TIME, options);
    const expected = readFileSync(input.replace(/\.(json|body)$/, '.expected.ndjson'), 'utf8');
    assert.equal(events.map((e) => `${e.json}\n`).join(''), expected, input);
    for (const event of events) {
      assert.equal(event.hasError, event.json.includes('"error":{"message"'), input);
    }
  }
});

test('default options are the integration defaults', () => {
  const options = api.transform.defaultOptions();
  assert.equal(options.namespace, 'default');
  assert.equal(options.ecsVersion, '8.11.0');
  assert.deepEqual(options.datasets, { heap: true, expvar: false });
  assert.deepEqual(options.tags, []);
});

test('invalid options are thrown as a ComponentError', () => {
  const options = { ...api.transform.defaultOptions(), namespace: 'Prod-EU' };
  assert.throws(() => api.transform.transform(new Uint8Array(), BLESS_TIME, options), (e) => {
    return /invalid namespace/.test(e.payload ?? e.message);
  });
});

test("the collector agrees with Elastic's PR #4908 pause test", () => {
  const dir = join(root, '..', 'shared', 'conformance', 'elastic-golang-1.6.0', 'gc-pause-pr4908');
  const body = readFileSync(join(dir, 'test-heap-metrics.log'), 'utf8').trim();
  const collector = api.collector.Collector.create(api.transform.defaultOptions());
  const [event] = collector.push(new TextEncoder().encode(body), BLESS_TIME);
  assert.equal(event.hasError, false);
  // The event's text, not a parsed object: numbers stay exact.
  assert.match(event.json, /"pause":\{"avg":\{"ns":66902\.0\},"count":6,"max":\{"ns":111861\},"p50":\{"ns":49736\},"p90":\{"ns":111861\},"p99":\{"ns":111861\},"since":"previous_body","sum":\{"ns":401412\},"total":\{"ns":484694\}\}/);
});

test('a collector with invalid options is refused when it is made', () => {
  const options = { ...api.transform.defaultOptions(), namespace: 'a-b' };
  assert.throws(() => api.collector.Collector.create(options), (e) => {
    return /invalid namespace/.test(e.payload ?? e.message);
  });
});
