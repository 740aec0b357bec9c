// Debian's headless Chromium, as the page tests drive it (playwright-core): no network of its
// own beyond the loopback pages it is sent to. Not a test file (node --test runs *.test.mjs).
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export function launchChromium() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

// A page that records its errors (uncaught exceptions, and console errors with `console`).
export async function openPage(browser, url, { console = false } = {}) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  if (console) page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, problems };
}
