// The browser playground in real headless Chromium (Debian's chromium, driven by playwright-core):
// a bundled sample gives the expected golang.heap values exactly, a broken body gives an error
// event, a sequence draws the charts. Serves the site that `cargo xtask test` built into
// target/playground on loopback, and saves a screenshot in target/playwright/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, dirname, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, openPage as open } from './chromium.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const site = join(root, 'target', 'playground');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

let server;
let browser;
let url;

before(async () => {
  assert.ok(existsSync(join(site, 'index.html')), `${site} is missing: run cargo xtask test`);
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '') || 'index.html';
    const file = join(site, path);
    if (path.includes('..') || !existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'text/plain' }).end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${server.address().port}/`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

const openPage = () => open(browser, url);

const compact = (text) => text.replace(/\s+/g, '');

test('a bundled sample shows its golang.heap and golang.expvar values exactly', async () => {
  const { page, problems } = await openPage();
  await page.selectOption('#datasets', 'all');
  await page.selectOption('#sample', { label: 'Go 1.19, idle program' });
  await page.waitForSelector('.event pre');
  const shown = await page.$$eval('.event pre', (pres) => pres.map((p) => p.textContent));
  assert.equal(shown.length, 2);
  const [heap, expvar] = readFileSync(join(root, 'fixtures/go1.19/idle/01.expected.ndjson'), 'utf8').trim().split('\n');
  // The figures, as the expected (native) event has them; the envelope's time differs.
  for (const key of ['allocations', 'system', 'mallocs']) {
    const figures = new RegExp(`"${key}":\\{(?:[^{}]|\\{[^{}]*\\})*\\}`).exec(heap)[0];
    assert.ok(compact(shown[0]).includes(figures), `heap event lacks ${figures}`);
  }
  assert.ok(shown[1].includes('18446744073709539270'), 'a custom counter above 2^53 must stay exact');
  // A float field stays a float before the first GC too (written 0.0, not 0).
  assert.ok(compact(shown[0]).includes('"cpu_fraction":0.0,'), 'cpu_fraction must be written 0.0');
  const custom = /"custom":\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}/.exec(expvar)[0];
  assert.ok(compact(shown[1]).includes(compact(custom)), `expvar event lacks ${custom}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a broken body becomes an error event with its message', async () => {
  const { page } = await openPage();
  await page.fill('#text', '{"cmdline": ["./app"], "memstats": {"HeapInuse": 5');
  await page.waitForSelector('.event.error .message');
  const message = await page.textContent('.event.error .message');
  assert.match(message, /^body is not valid JSON: unexpected end of the body at line 1 column 51/);
  const event = await page.textContent('.event.error pre');
  assert.ok(event.includes('"original"'), 'the body is kept in event.original');
  await page.close();
});

test('a custom variable named error is no error event, and the page keeps rendering', async () => {
  const { page, problems } = await openPage();
  await page.selectOption('#datasets', 'all');
  await page.fill('#text', '{"error":{"message":"x"},"memstats":{"NumForcedGC":1}}');
  await page.waitForFunction(() => document.querySelectorAll('.event pre').length === 2);
  const titles = await page.$$eval('.event h3', (hs) => hs.map((h) => h.textContent));
  // The heap event has no figure of its own (an error event); the expvar one is no error.
  assert.deepEqual(titles, ['#1 golang.heap (error event)', '#2 golang.expvar']);
  const expvar = await page.textContent('.event:nth-child(2) pre');
  assert.ok(compact(expvar).includes('"custom":{"error":{"message":"x"}}'), expvar);
  assert.equal(await page.textContent('#summary'), '(2, 1 with error.message)');
  assert.deepEqual(problems, []);
  await page.close();
});

test('a sequence draws every chart panel', async () => {
  const { page } = await openPage();
  await page.selectOption('#sample', { label: 'Go 1.22, hundreds of forced GCs (4 scrapes, the ring wraps)' });
  await page.waitForSelector('#panels svg path:not(.dots)');
  const panels = await page.$$eval('#panels .panel', (els) => els.map((el) => ({
    title: el.querySelector('h3').textContent,
    paths: [...el.querySelectorAll('path:not(.dots)')].map((p) => p.getAttribute('d')),
  })));
  assert.deepEqual(panels.map((p) => p.title),
    ['Heap memory', 'System memory', 'Next GC limit', 'GC count', 'GC pauses per interval']);
  for (const panel of panels) {
    // The first body's pause window spans the process's life (since: process_start): not drawn.
    const points = panel.title === 'GC pauses per interval' ? 3 : 4;
    for (const d of panel.paths) assert.equal((d.match(/[ML]/g) ?? []).length, points, `${panel.title}: ${d}`);
  }
  assert.equal(await page.textContent('#panels .panel:last-child .note'),
    '○ the first window (since the process started) is marked, not drawn');
  assert.equal(await page.locator('#panels .panel:last-child circle.apart').count(), 1);
  // Under the pointer: the last body's figures, exactly as its event has them.
  const area = await page.locator('.panel[data-panel="Heap memory"] rect.hover').boundingBox();
  await page.mouse.move(area.x + area.width - 2, area.y + area.height / 2, { steps: 4 });
  const tip = await page.$eval('.panel[data-panel="Heap memory"] .tip', (t) => ({
    hidden: t.hidden, when: t.querySelector('.when').textContent,
    inUse: t.querySelector('[data-series="in use"]').dataset.value,
  }));
  const last = JSON.parse(readFileSync(join(root, 'fixtures/go1.22/gc/04.expected.ndjson'), 'utf8').split('\n')[0]);
  assert.deepEqual(tip, { hidden: false, when: 'body 4', inUse: String(last.golang.heap.allocations.active.bytes) });
  const out = join(root, 'target', 'playwright');
  mkdirSync(out, { recursive: true });
  const screenshot = join(out, 'playground.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
  await page.close();
});

test('a single body draws its point', async () => {
  const { page, problems } = await openPage();
  await page.selectOption('#sample', { label: 'Go 1.19, idle program' });
  await page.waitForSelector('#panels .panel');
  // One point per series: a dot (a zero-length stroke with round caps), not an empty line.
  const dots = await page.$$eval('.panel[data-panel="Heap memory"] g[data-series]', (gs) => gs.map((g) => [g.dataset.series, g.dataset.dots, /^M[\d.]+,[\d.]+h0$/.test(g.querySelector('path.dots').getAttribute('d'))]));
  assert.deepEqual(dots, [['in use', '1', true], ['allocated', '1', true], ['idle', '1', true], ['released', '1', true]]);
  assert.deepEqual(problems, []);
  await page.close();
});
