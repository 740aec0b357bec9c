// The benchmark of `expvar-heap watch`'s page (docs/benchmarks.md, "watch with a day of
// history"): real Go services on loopback, one `watch` per binary given, and Debian's headless
// Chromium. Not a test (node --test runs *.test.mjs): it takes half an hour, most of it waiting
// for the history to fill.
//
//   node watch.bench.mjs [--period 500ms] [--keep 3600] [--targets 6] BINARY...
//
// For each binary, all at once: `--targets` Go services (host-test/go/expvar-service, a GC every
// 200 ms) scraped every `--period` until `--keep` scrapes of each are kept. Then, one binary after
// the other:
// - history on the wire: the bytes of /events (as Chromium asks for it: gzip taken) until every
//   kept scrape has come, and the same decoded;
// - first rows: from the page's navigation to every row showing a verdict and its figures;
// - redraws: with a target open ("everything kept": `--keep` points a series), each animation
//   frame's callback is timed (the page draws in them); a redraw is a frame that changed the
//   panels; the median and the 90th percentile over 30 s;
// - main thread busy: Chromium's own TaskDuration over those 30 s, as a share of them;
// - then 30 more services, scraped every 2 s by a `watch` of their own: 20 clicks on rows (one
//   every 300 ms, by the mouse, where the row is when the click starts), counted when the clicked
//   row's target opens, and that `watch`'s CPU time over 60 s, as a share of one core.
// It prints one JSON object per binary.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import zlib from 'node:zlib';
import { launchChromium } from './chromium.mjs';
import { children, start, firstLine, pageUrl } from './processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVICE = join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'go', 'expvar-service');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const [value] = process.argv.splice(at, 2).slice(1);
  return value;
}
const period = option('--period', '500ms');
const periodMs = Number(/^(\d+)ms$/.exec(period)?.[1] ?? Number(/^(\d+)s$/.exec(period)?.[1]) * 1000);
const keep = Number(option('--keep', '3600'));
const count = Number(option('--targets', '6'));
const binaries = process.argv.slice(2);
if (!periodMs || !keep || !count || binaries.length === 0) {
  console.error('usage: node watch.bench.mjs [--period 500ms] [--keep 3600] [--targets 6] BINARY...');
  process.exit(2);
}

process.on('exit', () => { for (const child of children) child.kill('SIGKILL'); });
process.on('SIGINT', () => process.exit(130));

// `n` Go services: their URLs, and the processes (`started`).
async function services(n, started = []) {
  const urls = [];
  for (let i = 0; i < n; i++) {
    const child = start(SERVICE, ['-listen', '127.0.0.1:0', '-gc-every', '200ms']);
    started.push(child);
    urls.push(`http://${await firstLine(child, 'stdout')}`);
  }
  return urls;
}

async function watch(binary, urls, watchPeriod, history) {
  const child = start(binary, ['watch', '--native', '--period', watchPeriod, '--history', history, '--timeout', '30s',
    '--listen', '127.0.0.1:0', ...urls]);
  return { child, url: await pageUrl(child) };
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// The stream's bytes through the history's end (`event: live`; a tool from before it had that
// mark: until `frames` scrapes came, each a frame of its own): as sent (compressed or not) and
// decoded.
function historyOnTheWire(url, frames) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.get(`${url}events`, { headers: { 'accept-encoding': 'gzip, deflate, br' } }, (response) => {
      let wire = 0;
      let decoded = 0;
      let seen = 0;
      let tail = '';
      const gzip = response.headers['content-encoding'] === 'gzip';
      const text = gzip ? response.pipe(zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH })) : response;
      response.on('data', (chunk) => { wire += chunk.length; });
      text.on('data', (chunk) => {
        decoded += chunk.length;
        const s = tail + chunk.toString('latin1');
        seen += s.split('data: {"target":').length - 1;
        tail = s.slice(-15);
        if (s.includes('event: live\n') || seen >= frames) {
          request.destroy();
          resolve({ wire, decoded, gzip, seconds: (performance.now() - started) / 1000 });
        }
      });
    });
    request.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
  });
}

// CPU seconds of a process so far (user and system), from /proc.
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function median(values, q = 0.5) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : undefined;
}

async function measure(browser, binary, fleet) {
  const result = { binary, targets: count, keep, period };
  result.history = await historyOnTheWire(fleet.url, count * keep);

  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  // Every animation frame's callback, timed; whether it changed the panels.
  await page.addInitScript(() => {
    window.__frames = [];
    const raf = window.requestAnimationFrame.bind(window);
    let observer;
    window.requestAnimationFrame = (callback) => raf((time) => {
      const t0 = performance.now();
      callback(time);
      const ms = performance.now() - t0;
      const panels = document.getElementById('panels');
      if (!observer && panels) {
        observer = new MutationObserver(() => {});
        observer.observe(panels, { childList: true, subtree: true, attributes: true });
      }
      window.__frames.push({ ms, charts: observer ? observer.takeRecords().length > 0 : false });
    });
  });
  await page.goto(fleet.url);
  const firstRows = await page.waitForFunction((n) => {
    const rows = [...document.querySelectorAll('#fleet tbody tr')];
    return rows.length === n && rows.every((r) => /\d/.test(r.cells[2]?.textContent ?? '')) && performance.now();
  }, count, { polling: 'raf', timeout: 120000 });
  result.firstRowsMs = Math.round(await firstRows.jsonValue());

  await page.click('#fleet tbody tr');
  await page.waitForFunction((n) => Number(document.getElementById('target')?.dataset.scrapes) >= n, keep - 1, { timeout: 60000 });
  await sleep(2000);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const busy = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
  await page.evaluate(() => { window.__frames = []; });
  const before = await busy();
  const t0 = performance.now();
  await sleep(30000);
  const task = await busy() - before;
  const wall = (performance.now() - t0) / 1000;
  const frames = await page.evaluate(() => window.__frames);
  const redraws = frames.filter((f) => f.charts).map((f) => f.ms);
  result.redraws = { count: redraws.length, medianMs: median(redraws), p90Ms: median(redraws, 0.9), frames: frames.length };
  result.mainThreadBusy = task / wall;
  await context.close();
  return result;
}

async function clicksAndCpu(browser, binary) {
  const started = [];
  const urls = await services(30, started);
  const fleet = await watch(binary, urls, '2s', '1h');
  await sleep(20000);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  await page.goto(fleet.url);
  await page.waitForFunction(() => document.querySelectorAll('#fleet tbody tr').length === 30, null, { timeout: 60000 });
  await sleep(3000);
  let opened = 0;
  for (let i = 0; i < 20; i++) {
    const rows = page.locator('#fleet tbody tr');
    const row = rows.nth((i * 7) % 30);
    const box = await row.boundingBox();
    const address = (await row.locator('td').first().textContent()).trim();
    // Pressed for 100 ms, as a person clicks: a row replaced in between loses the click.
    await page.mouse.click(box.x + 40, box.y + box.height / 2, { delay: 100 });
    await sleep(300);
    const shown = await page.textContent('#address').catch(() => '');
    if (!(await page.isHidden('#target')) && shown && address.endsWith(shown.split(' · ').pop())) opened++;
  }
  await page.close();
  const cpu0 = cpuSeconds(fleet.child.pid);
  await sleep(60000);
  const cpu = (cpuSeconds(fleet.child.pid) - cpu0) / 60;
  for (const child of [...started, fleet.child]) child.kill('SIGKILL');
  return { clicksOpened: opened, clicks: 20, watchCpuShareOfACore: cpu };
}

const fleets = [];
for (const binary of binaries) fleets.push(await watch(binary, await services(count), period, `${(keep * periodMs) / 1000}s`));
console.error(`filling: ${keep} scrapes every ${period}, ${((keep * periodMs) / 60000).toFixed(1)} min`);
await sleep(keep * periodMs + 15000);
const browser = await launchChromium();
for (const [i, binary] of binaries.entries()) {
  const result = await measure(browser, binary, fleets[i]);
  fleets[i].child.kill('SIGKILL');
  Object.assign(result, await clicksAndCpu(browser, binary));
  console.log(JSON.stringify(result));
}
await browser.close();
process.exit(0);
