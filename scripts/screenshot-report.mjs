// Opens a throng HTML report in headless Debian Chromium (playwright-core, no browser download),
// takes a full-page screenshot, and prints what a test needs to judge it as one JSON line:
// console errors, failed requests (a report must fetch nothing), chart and table counts.
//
//   node scripts/screenshot-report.mjs REPORT.html OUT.png
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [report, out] = process.argv.slice(2);
if (!report || !out) {
  console.error('usage: node screenshot-report.mjs REPORT.html OUT.png');
  process.exit(2);
}
// playwright-core lives where scripts/install-browser-tools.sh put it.
const pwDir = process.env.THRONG_PLAYWRIGHT_DIR || join(tmpdir(), 'throng-playwright');
const { chromium } = createRequire(join(pwDir, 'package.json'))('playwright-core');
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'throng-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
const consoleErrors = [];
const requests = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));
page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
await page.goto(pathToFileURL(resolve(report)).href, { waitUntil: 'load' });
const facts = await page.evaluate(() => ({
  title: document.title,
  verdict: document.querySelector('#verdict')?.textContent?.trim() ?? null,
  charts: document.querySelectorAll('svg.chart').length,
  chartsWithData: [...document.querySelectorAll('svg.chart')].filter((s) => s.querySelector('polyline')).length,
  stepRows: document.querySelectorAll('#steps tr').length,
  thresholdRows: document.querySelectorAll('#thresholds tr').length,
}));
await page.screenshot({ path: out, fullPage: true });
await browser.close();
console.log(JSON.stringify({ ...facts, consoleErrors, externalRequests: requests }));
