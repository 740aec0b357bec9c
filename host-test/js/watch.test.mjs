// `expvar-heap watch` in real headless Chromium (Debian's chromium, driven by playwright-core),
// against three real Go services on loopback (host-test/go/expvar-service, which the Rust scrape
// tests build with Debian's Go 1.19 into target/go/) scraped every second: two show in the
// fleet as ok, the third, whose entry in a targets file declares a memory limit of 1 MiB, first
// as near its limit, and a fourth target nobody listens at as never answered (its panels a
// sentence); the panels' rates are those of the events, their axes labelled at the window's
// true edges; the open target and window survive a reload (the URL keeps them); one is killed, is first in the fleet as down since then with its message (the
// tab's title counts it), is restarted on the same address and says it restarted once; the figures under the pointer are those of the matching event in the
// --output file; a page opened later shows every kept scrape; a hostile cmdline is shown as text.
// `cargo xtask test` runs it after the workspace's tests (which build both binaries). A
// screenshot is saved in target/playwright/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, launchChromium, openPage as open } from './chromium.mjs';
import { WAIT, start, firstLine, stop, stopAll, pageUrl } from './processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const TOOL = join(target, 'debug', 'expvar-heap');
const SERVICE = join(target, 'go', 'expvar-service');
const HOSTILE = ['<img src=x onerror="window.__pwned=1">', '</script><script>window.__pwned=2</script>'];
const NOTE = '</script><img src=x onerror="window.__pwned=3">';
// A name from the targets file, markup too: shown as text.
const NAME = '<b onmouseover="window.__pwned=4">checkout</b>';

// The address of the service restarted on its own port: a loopback address of this run alone (all
// of 127.0.0.0/8 is loopback; every other socket here has 127.0.0.1), so that no other socket can
// take the port between its kill and its restart.
const PRIVATE = `127.${200 + (process.pid >> 16) % 50}.${(process.pid >> 8) & 255}.${process.pid & 255}`;

let browser;
let watch;
let url;
let output;
let quiet;
let loud;
let held;
// Nobody listens at port 1 of this run's own loopback address: refused at once, every time.
const NEVER = `http://${PRIVATE}:1`;

// A Go service; its address is the first line it prints. A GC every 200 ms: each 1 s interval
// has a pause window, and 5 GC/s is a healthy service's rate (20 a second is GC thrashing).
async function service(listen, extra = []) {
  const child = start(SERVICE, ['-listen', listen, '-gc-every', '200ms', ...extra]);
  const address = await firstLine(child, 'stdout');
  return { child, address, url: `http://${address}` };
}

// The golang.heap events of the --output file, for one service: its whole lines (the tool may be
// appending one as it is read).
function heapEvents(address) {
  const text = readFileSync(output, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((line) => JSON.parse(line))
    .filter((e) => e.data_stream.dataset === 'golang.heap' && e.service?.address === address);
}

before(async () => {
  for (const [file, what] of [[TOOL, 'the tool (cargo build)'], [SERVICE, 'the Go service (the scrape tests build it)'], [CHROMIUM, 'chromium (apt-get install chromium)']]) {
    assert.ok(existsSync(file), `${file} is missing: ${what}; cargo xtask test makes them all`);
  }
  const out = join(target, 'playwright');
  mkdirSync(out, { recursive: true });
  output = join(out, 'watch-events.ndjson');
  rmSync(output, { force: true });
  // The service whose cmdline carries markup is also the one that stays up.
  quiet = await service('127.0.0.1:0', ['-note', NOTE, '--', ...HOSTILE]);
  loud = await service(`${PRIVATE}:0`);
  // A Go program holds some MiB of heap and stacks from the system: over 95 % of 1 MiB.
  held = await service('127.0.0.1:0');
  const targets = join(out, 'watch-targets.toml');
  writeFileSync(targets, `[[targets]]\nurl = "${quiet.url}"\nname = ${JSON.stringify(NAME)}\n\n`
    + `[[targets]]\nurl = "${held.url}"\nname = "held"\nmemory_limit = "1MiB"\n`);
  // No scrape of a live service times out on a busy machine (not the 0.9 s of the period).
  watch = start(TOOL, ['watch', '--period', '1s', '--timeout', '30s', '--listen', '127.0.0.1:0', '--dataset', 'all', '--output', output, '--targets', targets, loud.url, NEVER]);
  url = await pageUrl(watch);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopAll();
});

async function openPage() {
  const opened = await open(browser, url, { console: true });
  opened.page.setDefaultTimeout(WAIT);
  return opened;
}

// Puts the pointer on the last point of a panel and returns its tip's selector once shown. The
// panels are drawn again at each scrape, so the plot may be replaced between finding it and
// moving there: then it is found again (for at most WAIT).
async function hoverLastPoint(page, panel) {
  const tip = `.panel[data-panel="${panel}"] .tip`;
  for (const deadline = Date.now() + WAIT; Date.now() < deadline;) {
    const box = await page.locator(`.panel[data-panel="${panel}"] rect.hover`).boundingBox().catch(() => null);
    if (box) {
      await page.mouse.move(0, 0);
      await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2, { steps: 4 });
      if (await page.locator(`${tip}:not([hidden])`).count() > 0) return tip;
    }
    await page.waitForTimeout(100);
  }
  throw new Error(`the pointer found no point on the panel ${panel}`);
}

// What the tip of a panel's last point says: its scrape's key and each series' exact value.
async function lastPointShown(page, panel) {
  const tip = await hoverLastPoint(page, panel);
  return page.$eval(tip, (t) => ({
    key: t.dataset.key,
    values: Object.fromEntries([...t.querySelectorAll('[data-series]')].map((r) => [r.dataset.series, Number(r.dataset.value)])),
  }));
}

const row = (address) => `#fleet tbody tr:has(td.address .where:text-is("${address}"))`;

test('the fleet, a failure, a restart, the figures under the pointer, a page opened later', { timeout: 10 * WAIT }, async () => {
  const { page, problems } = await openPage();
  for (const s of [quiet, loud]) await page.waitForSelector(`${row(s.url)}[data-verdict="ok"]`);
  assert.equal(await page.locator('#fleet tbody tr').count(), 4);
  await page.locator(`${row(NEVER)}[data-verdict="never"] td.verdict`).filter({ hasText: /^never answered: .*refused/i }).waitFor();
  // The memory limit its entry declares: the share of it held, the verdict, the first row.
  await page.locator(`${row(held.url)}[data-verdict="limit"] td.verdict`)
    .filter({ hasText: /^at \d+ % of its memory limit \(\d+\.\d MiB of 1\.0 MiB held\)$/ }).waitFor();
  assert.match(await page.textContent(`${row(held.url)} td[data-cell="ofLimit"]`), /^\d+ %of 1\.0 MiB$/);
  assert.equal(await page.textContent(`${row(quiet.url)} td[data-cell="ofLimit"]`), '–');
  // Worst first, counted in the heading and the tab's title.
  assert.deepEqual(await page.$$eval('#fleet tbody tr', (trs) => trs.map((tr) => tr.dataset.verdict)), ['never', 'limit', 'ok', 'ok']);
  await page.waitForFunction(() => /^1 never answered, 1 near memory limit · /.test(document.title));
  assert.equal(await page.textContent('#count'), '(4: 1 never answered, 1 near memory limit, 2 ok)');
  // A target that never answered: its panels are a sentence, and it has no cmdline to show.
  await page.click(row(NEVER));
  await page.locator('#panels p.empty').filter({ hasText: /^No scrape of it gave figures yet \(\d+ of \d+ failed\)\. The last one: .*refused/i }).waitFor();
  assert.equal(await page.isHidden('.cmdline'), true);
  assert.equal(await page.locator('#panels svg').count(), 0);
  // Names from the targets file, as text, over the address; a row without one shows its address.
  assert.equal(await page.textContent(`${row(quiet.url)} td.address .name`), NAME);
  assert.equal(await page.textContent(`${row(held.url)} td.address .name`), 'held');
  assert.equal(await page.textContent(`${row(loud.url)} td.address .name`), '');
  // Each row's sparkline: the heap in use of its last scrapes.
  const quietId = await page.getAttribute(row(quiet.url), 'data-id');
  await page.waitForFunction((id) => (document.querySelector(`#fleet tr[data-id="${id}"] svg.spark polyline`)?.getAttribute('points') ?? '').split(' ').length >= 3, quietId);

  // A hostile cmdline is text.
  await page.click(row(quiet.url));
  await page.waitForFunction(() => document.getElementById('cmdline').textContent.length > 0);
  const cmdline = await page.textContent('#cmdline');
  for (const piece of HOSTILE) assert.ok(cmdline.includes(piece), `cmdline shown as ${cmdline}`);
  assert.equal(await page.evaluate(() => document.querySelectorAll('#target img, #target script, #fleet b').length), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.textContent('#address'), `${NAME} · ${quiet.url}`);

  // The custom variables of the last scrape (--datasets all), as text; a number is charted.
  await page.waitForSelector('#custom:not([hidden]) #variables tbody tr');
  const variables = await page.$$eval('#variables tbody tr', (rows) => Object.fromEntries(rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])));
  assert.equal(variables.note, NOTE);
  assert.match(variables.requests_total, /^\d+$/);
  assert.equal(await page.evaluate(() => document.querySelectorAll('#custom img, #custom script').length), 0);
  await page.click('#variables tbody tr.number:has(td:text-is("requests_total"))');
  await page.waitForSelector('#custom-chart .panel[data-panel="requests_total"] g[data-series="requests_total"]');

  // The figures under the pointer are the event's.
  await page.waitForFunction(() => Number(document.querySelector('.panel g[data-series="in use"]')?.dataset.points) >= 3);
  assert.deepEqual(await page.$$eval('#panels .panel', (panels) => panels.map((p) => p.dataset.panel)),
    ['Heap', 'Allocation rate', 'GC cycles per second', 'GC pauses per interval', 'GC CPU since the process started']);
  const shown = await lastPointShown(page, 'Heap');
  const events = heapEvents(quiet.url);
  const at = events.findIndex((e) => e['@timestamp'] === shown.key);
  assert.ok(at > 0, `no event at ${shown.key} in the output, or none before it`);
  const h = events[at].golang.heap;
  // The heap the GC keeps (drawn from 16 scrapes of the process on): the lowest heap allocated
  // in this scrape's slice of the window.
  const kept = shown.values['kept by the GC'];
  if (at + 1 >= 16) assert.ok(kept > 0 && kept <= h.allocations.object.bytes, `kept ${kept}`);
  else assert.equal(kept, undefined);
  assert.deepEqual(shown.values, {
    'in use': h.allocations.active.bytes, allocated: h.allocations.object.bytes,
    goal: h.gc.next_gc_limit, ...(kept === undefined ? {} : { 'kept by the GC': kept }),
  });
  // The rates under the pointer are those between this scrape's event and the one before.
  const rate = await lastPointShown(page, 'Allocation rate');
  // Read again: a scrape may have come since (the tool writes --output before it tells the page).
  const reread = heapEvents(quiet.url);
  const i = reread.findIndex((e) => e['@timestamp'] === rate.key);
  assert.ok(i > 0, `no event at ${rate.key} in the output, or none before it`);
  const [a, b] = [reread[i - 1], reread[i]];
  const seconds = (Date.parse(b['@timestamp']) - Date.parse(a['@timestamp'])) / 1000;
  assert.deepEqual(rate.values, {
    bytes: (b.golang.heap.allocations.total.bytes - a.golang.heap.allocations.total.bytes) / seconds,
    objects: (b.golang.heap.mallocs.count - a.golang.heap.mallocs.count) / seconds,
  });
  assert.ok(rate.values.bytes > 0, 'a service that serves scrapes allocates');

  // Axes: the 5 min window is labelled at its true edges, 5 min apart, the right one now (by
  // the tool's clock, which the page reads from its hello), with round times between; each y
  // axis starts at 0 and says its unit.
  await page.click('#windows button[data-window="300000"]');
  await page.waitForSelector('#windows button[data-window="300000"].on');
  const axes = await page.$eval('.panel[data-panel="Heap"] svg', (svg) => ({
    from: Number(svg.querySelector('text[data-edge="from"]').dataset.t),
    fromText: svg.querySelector('text[data-edge="from"]').textContent,
    to: Number(svg.querySelector('text[data-edge="to"]').dataset.t),
    toText: svg.querySelector('text[data-edge="to"]').textContent,
    between: [...svg.querySelectorAll('text[data-t]:not([data-edge])')].map((t) => [Number(t.dataset.t), t.textContent]),
    left: [...svg.querySelectorAll('text[data-axis="left"]')].map((t) => t.textContent),
  }));
  const clockOf = (t) => {
    const d = new Date(t);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  };
  assert.equal(axes.to - axes.from, 5 * 60 * 1000);
  assert.ok(Math.abs(axes.to - Date.now()) < WAIT, `the window ends at ${axes.toText}`);
  assert.equal(axes.fromText, clockOf(axes.from));
  assert.equal(axes.toText, clockOf(axes.to));
  assert.ok(axes.between.length >= 2, JSON.stringify(axes.between));
  for (const [t, text] of axes.between) {
    assert.ok(t > axes.from && t < axes.to && t % 60000 === 0, `${text} is no round minute inside the window`);
    assert.equal(text, clockOf(t).slice(0, 5));
  }
  assert.equal(axes.left[0], '0 B');
  assert.ok(axes.left.length >= 3 && axes.left.length <= 6 && axes.left.every((t) => / (B|KiB|MiB|GiB)$/.test(t)), axes.left.join(', '));
  const rightAxis = await page.$$eval('.panel[data-panel="Allocation rate"] text[data-axis="right"]', (ts) => ts.map((t) => t.textContent));
  assert.equal(rightAxis[0], '0/s');
  // A series hidden from its legend is neither drawn nor under the pointer; shown again, it is.
  await page.click('.panel[data-panel="Heap"] .legend button[data-series="goal"]');
  await page.waitForSelector('.panel[data-panel="Heap"] .legend button[data-series="goal"][aria-pressed="false"]');
  assert.equal(await page.locator('.panel[data-panel="Heap"] g[data-series="goal"]').count(), 0);
  await page.click('.panel[data-panel="Heap"] .legend button[data-series="goal"]');
  await page.waitForSelector('.panel[data-panel="Heap"] g[data-series="goal"]');

  // The URL keeps the open target and the window: a reload opens them again.
  assert.equal(new URL(page.url()).hash, `#target=${encodeURIComponent(quiet.url)}&window=300000`);
  await page.reload();
  await page.waitForFunction((want) => document.getElementById('address').textContent.endsWith(want), quiet.url);
  await page.waitForSelector('#windows button[data-window="300000"].on');
  await page.click('#windows button[data-window="all"]');
  assert.equal(new URL(page.url()).hash, `#target=${encodeURIComponent(quiet.url)}`);

  // The pointer picks the scrape under it at 800 and 1400 px, where the drawing is letterboxed in
  // its element: the guide drawn is that of the point nearest the pointer, in the drawing's own
  // coordinates. The move and the reading are one task of the page (a pointermove on the panel's
  // hover area, as the browser sends it), so that no redraw comes between them.
  for (const width of [800, 1400]) {
    await page.setViewportSize({ width, height: 1000 });
    const misses = await page.evaluate(() => {
      const svg = document.querySelector('.panel[data-panel="Heap"] svg');
      const area = svg.querySelector('rect.hover');
      const path = svg.querySelector('g[data-series="in use"] path:not(.dots)').getAttribute('d');
      const xs = [...path.matchAll(/[ML](-?[\d.]+),/g)].map((m) => Number(m[1]));
      const box = area.getBoundingClientRect();
      const inverse = svg.getScreenCTM().inverse();
      const out = [];
      for (const f of [0.02, 0.2, 0.4, 0.6, 0.8, 0.98]) {
        const clientX = box.left + f * box.width;
        const clientY = box.top + box.height / 2;
        area.dispatchEvent(new PointerEvent('pointermove', { clientX, clientY, bubbles: true }));
        const x = new DOMPoint(clientX, clientY).matrixTransform(inverse).x;
        const nearest = xs.reduce((a, b) => (Math.abs(b - x) < Math.abs(a - x) ? b : a));
        const guide = Number(svg.querySelector('.guide').getAttribute('x1'));
        // The path's coordinates are rounded to 0.1: the guide is a nearest point within that.
        if (Math.abs(guide - x) > Math.abs(nearest - x) + 0.11) out.push({ f, x, nearest, guide });
      }
      // How much wider the element is than its drawing: what the old mapping got wrong.
      return { out, letterbox: svg.getBoundingClientRect().width - 400 * svg.getScreenCTM().a };
    });
    assert.ok(misses.letterbox > 20, `at ${width} px the drawing is not letterboxed (${misses.letterbox} px): the check checks nothing`);
    assert.deepEqual(misses.out, [], `at ${width} px the pointer chose another scrape than the one under it`);
    await page.screenshot({ path: join(target, 'playwright', `watch-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1400, height: 1000 });

  // Killed: failing, with the message; restarted on the same address: a restart, then up. A
  // scrape cut by the kill says what it saw (a reset, a body cut short); the next ones find
  // nobody listening, and the row says so.
  await stop(loud.child);
  await page.waitForSelector(`${row(loud.url)}[data-verdict="down"]`);
  const refused = /connect|refused/i;
  await page.locator(`${row(loud.url)}[data-verdict="down"] td.verdict`).filter({ hasText: /^down since \d\d:\d\d:\d\d: / }).filter({ hasText: refused }).waitFor();
  // Worst first: the service that is down is the first row.
  assert.equal(await page.$eval('#fleet tbody tr', (tr) => tr.dataset.verdict), 'down');
  await page.waitForFunction(() => /^1 down, 1 never answered, 1 near memory limit · /.test(document.title));
  loud = await service(loud.address);
  await page.locator(`${row(loud.url)}[data-verdict="restarted"] td.verdict`).filter({ hasText: /^restarted once in 15 min \(up \d+ s\)$/ }).waitFor();
  await page.waitForFunction(() => /^1 never answered, 1 near memory limit, 1 restarted · /.test(document.title));
  await page.click(row(loud.url));
  await page.waitForSelector('.panel .marker.restart', { state: 'attached' });
  await page.waitForSelector('.panel .marker.failed', { state: 'attached' });
  const failed = await page.$$eval('.panel .marker.failed title', (titles) => titles.map((t) => t.textContent));
  // Their titles are within the pointer's reach: each mark is what the pointer finds at it.
  const reached = await page.evaluate(() => ['.marker.restart .hit', '.marker.failed'].map((sel) => {
    const mark = document.querySelector(`.panel[data-panel="Heap"] ${sel}`);
    const box = mark.getBoundingClientRect();
    const found = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return found?.closest('.marker') === mark.closest('.marker');
  }));
  assert.deepEqual(reached, [true, true]);
  assert.ok(failed.some((title) => refused.test(title)), `failed scrapes: ${failed.join(' | ')}`);

  // A page opened now first gets every kept scrape: as many points as the output has events.
  const { page: later, problems: laterProblems } = await openPage();
  await later.click(row(quiet.url));
  await later.waitForFunction(() => Number(document.getElementById('target').dataset.scrapes) >= 5);
  const { scrapes, last } = await later.$eval('#target', (s) => ({ scrapes: Number(s.dataset.scrapes), last: s.dataset.last }));
  const written = heapEvents(quiet.url).filter((e) => e['@timestamp'] <= last).length;
  assert.equal(scrapes, written, `the page has ${scrapes} scrapes up to ${last}, the output ${written}`);
  assert.ok(scrapes >= 5, `${scrapes} scrapes`);

  await page.click(row(loud.url));
  await hoverLastPoint(page, 'Heap');
  const screenshot = join(target, 'playwright', 'watch.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
  // Dark when the system is: the page's own colours change (not only the charts').
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(15, 18, 23)');
  await page.screenshot({ path: join(target, 'playwright', 'watch-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(problems, []);
  assert.deepEqual(laterProblems, []);
  await later.close();
  await page.close();
});
