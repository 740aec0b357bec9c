// `expvar-heap watch`'s verdicts on a fleet of real Go services in headless Chromium, one of each
// kind, scraped every second for as long as a leak takes to be told from the sawtooth (5 minutes
// of scrapes: docs/watch.md):
//   - steady: a GC every 200 ms, a heap that stays where it is            -> ok
//   - leaking: 64 KiB a second kept for good                              -> heap kept growing
//   - thrashing: 48 MiB/s of garbage under GOMEMLIMIT=12MiB (about 50 GC/s; 10 without the limit)
//                                                                         -> GC thrashing
//   - restarted: killed 15 s in and started again on its address          -> restarted once
//   - never up: nobody listens at its address                             -> never answered
//   - no memstats: serves its variables without memstats                  -> no memstats
//   - at its limit: a targets file declares 1 MiB for it                  -> near its memory limit
// and asserts each row's verdict and their order, worst first. It runs for about six minutes, so
// `cargo xtask test` starts it beside the workspace's tests (it is no *.test.mjs: `node --test`
// alone leaves it out) and waits for it at the end. It builds its own copy of the Go service
// (host-test/go/expvar-service), with Debian's Go 1.19 (EXPVAR_HEAP_GO names another). A
// screenshot of the fleet is saved in target/playwright/fleet.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, openPage } from './chromium.mjs';
import { WAIT, start, firstLine, stop, stopAll, pageUrl } from './processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const TOOL = join(target, 'debug', 'expvar-heap');
const GO = process.env.EXPVAR_HEAP_GO ?? '/usr/lib/go-1.19/bin/go';
const work = join(target, 'go', 'fleet');
const SERVICE = join(work, 'expvar-service');
// The leak's verdict needs 5 minutes of scrapes of one process; then a margin.
const LEAK_WAIT = 9 * 60000;
// This run's own loopback address (all of 127.0.0.0/8 is loopback): the restarted service gets
// its port back, and nobody listens at its port 1.
const PRIVATE = `127.${150 + (process.pid >> 16) % 40}.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const NEVER = `http://${PRIVATE}:1`;

let browser;
let url;
const fleet = {};

async function service(args, env = {}, listen = '127.0.0.1:0') {
  const child = start(SERVICE, ['-listen', listen, ...args], env);
  const address = await firstLine(child, 'stdout');
  return { child, address, url: `http://${address}` };
}

before(async () => {
  for (const [file, what] of [[TOOL, 'the tool (cargo build)'], [GO, "Go (apt-get install golang-1.19-go, or EXPVAR_HEAP_GO)"]]) {
    assert.ok(existsSync(file), `${file} is missing: ${what}; cargo xtask test makes them all`);
  }
  mkdirSync(work, { recursive: true });
  execFileSync(GO, ['build', '-o', SERVICE, '.'], {
    cwd: join(root, 'host-test', 'go', 'expvar-service'),
    env: { ...process.env, GOCACHE: join(target, 'go', 'cache'), GOPATH: join(target, 'go', 'path'), GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    stdio: 'inherit',
  });
  fleet.steady = await service(['-gc-every', '200ms']);
  fleet.leaking = await service(['-gc-every', '200ms', '-leak', String(64 << 10)]);
  fleet.thrashing = await service(['-churn', String(48 << 20)], { GOMEMLIMIT: '12MiB' });
  fleet.restarted = await service(['-gc-every', '200ms'], {}, `${PRIVATE}:0`);
  fleet.nomemstats = await service(['-no-memstats']);
  fleet.limit = await service(['-gc-every', '200ms']);
  const out = join(target, 'playwright');
  mkdirSync(out, { recursive: true });
  const targets = join(out, 'fleet-targets.toml');
  const entries = [
    ['steady', fleet.steady.url], ['leaking', fleet.leaking.url], ['thrashing', fleet.thrashing.url],
    ['restarted', fleet.restarted.url], ['never up', NEVER], ['no memstats', fleet.nomemstats.url],
  ].map(([name, at]) => `[[targets]]\nurl = "${at}"\nname = "${name}"\n`);
  entries.push(`[[targets]]\nurl = "${fleet.limit.url}"\nname = "at its limit"\nmemory_limit = "1MiB"\n`);
  writeFileSync(targets, entries.join('\n'));
  const watch = start(TOOL, ['watch', '--period', '1s', '--timeout', '30s', '--listen', '127.0.0.1:0', '--targets', targets]);
  url = await pageUrl(watch);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopAll();
});

const verdictOf = (page, name) => page.$eval(`#fleet tbody tr:has(td.address .name:text-is("${name}"))`, (tr) => tr.dataset.verdict).catch(() => undefined);

test('each Go service gets its verdict, worst first', { timeout: LEAK_WAIT + 5 * WAIT }, async () => {
  const { page, problems } = await openPage(browser, url, { console: true });
  page.setDefaultTimeout(WAIT);
  await page.waitForFunction(() => document.querySelectorAll('#fleet tbody tr').length === 7);
  // Killed 15 s in, started again on the same address: a restart, counted for 15 minutes.
  await page.locator('#fleet tbody tr:has(td.address .name:text-is("restarted")) td[data-cell="age"]').filter({ hasText: /s ago/ }).waitFor();
  await new Promise((resolve) => { setTimeout(resolve, 15000); });
  await stop(fleet.restarted.child);
  fleet.restarted = await service(['-gc-every', '200ms'], {}, fleet.restarted.address);

  // The quick ones first, then the leak, which takes 5 minutes of scrapes.
  const row = (name) => page.locator(`#fleet tbody tr:has(td.address .name:text-is("${name}")) td.verdict`);
  await row('never up').filter({ hasText: /^never answered: .*refused/i }).waitFor();
  await row('at its limit').filter({ hasText: /^at \d+ % of its memory limit \(\d+\.\d MiB of 1\.0 MiB held\)$/ }).waitFor();
  await row('no memstats').filter({ hasText: /^no memstats in the body$/ }).waitFor();
  await row('thrashing').filter({ hasText: /^GC thrashing: \d+ GC\/s, \d+\.\d % of time paused$/ }).waitFor();
  await row('restarted').filter({ hasText: /^restarted once in 15 min \(up \d+ (s|min)\)$/ }).waitFor();
  await row('leaking').filter({ hasText: /^heap kept growing \+\d+\.\d MiB\/h$/ }).waitFor({ timeout: LEAK_WAIT });
  assert.equal(await row('steady').textContent(), 'ok');

  // Worst first, and counted.
  const rows = await page.$$eval('#fleet tbody tr', (trs) => trs.map((tr) => [tr.querySelector('.name').textContent, tr.dataset.verdict]));
  assert.deepEqual(rows, [
    ['never up', 'never'], ['at its limit', 'limit'], ['thrashing', 'thrashing'], ['leaking', 'growing'],
    ['restarted', 'restarted'], ['no memstats', 'nomemstats'], ['steady', 'ok'],
  ]);
  assert.equal(await page.textContent('#count'),
    '(7: 1 never answered, 1 near memory limit, 1 GC thrashing, 1 heap growing, 1 restarted, 1 no memstats, 1 ok)');
  // The leak's heap panel: the floor the GC keeps, and its slope over the window.
  await page.click('#fleet tbody tr:has(td.address .name:text-is("leaking"))');
  await page.locator('.panel[data-panel="Heap"] h3').filter({ hasText: /^Heap: kept \+\d+\.\d MiB\/h$/ }).waitFor();
  assert.ok(Number(await page.getAttribute('.panel[data-panel="Heap"] g[data-series="kept by the GC"]', 'data-points')) >= 16);
  for (const name of Object.keys(fleet)) assert.notEqual(await verdictOf(page, name === 'limit' ? 'at its limit' : name === 'nomemstats' ? 'no memstats' : name), undefined, name);
  const screenshot = join(target, 'playwright', 'fleet.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
  assert.deepEqual(problems, []);
  await page.close();
});
