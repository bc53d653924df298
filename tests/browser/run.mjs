// Runs a page in headless Debian Chromium and prints its report as one JSON
// line on stdout. Exit 0: the run finished (the caller judges the report);
// exit 2: crash or timeout (a JSON line with "fatal" is printed).
//
// Scenarios:
//   sdk  (default) the stock SDK page: window.stsgateTest.run(config)
//   demo           stsgate demo's chat page: alice sends, bob must see it
//
//   node run.mjs --page-url URL [--scenario sdk|demo] [--config JSON]
//                [--spki BASE64_SHA256] [--screenshot PNG] [--timeout-ms N]
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    'page-url': { type: 'string' },
    config: { type: 'string', default: '{}' },
    spki: { type: 'string', default: '' },
    scenario: { type: 'string', default: 'sdk' },
    screenshot: { type: 'string' },
    'timeout-ms': { type: 'string', default: '60000' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
for (const k of opt.scenario === 'sdk' ? ['page-url', 'config', 'spki'] : ['page-url']) {
  if (!opt[k]) {
    console.error(`run.mjs: --${k} is required`);
    process.exit(64);
  }
}
const cfg = JSON.parse(opt.config);
const timeoutMs = Number(opt['timeout-ms']);

// Drop the configured tokens and anything else shaped like a JWT.
const JWT_RE = /eyJ[\w-]*\.[\w-]*\.[\w-]*|[\w-]{10,}\.[\w-]{10,}\.[\w-]{16,}/g;
function redact(text) {
  let s = String(text);
  for (const t of [cfg.token, cfg.badToken]) if (t) s = s.split(t).join('<redacted>');
  return s.replace(JWT_RE, '<redacted-jwt>');
}

const browserLog = [];
let browser;
let report;
let fatal;
const deadline = setTimeout(() => {
  fatal = `timed out after ${timeoutMs} ms`;
  if (browser) browser.close().catch(() => {}); // makes the pending evaluate reject
}, timeoutMs);

try {
  browser = await chromium.launch({
    executablePath: opt.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Trust exactly the test certificate's key, nothing else.
      ...(opt.spki ? [`--ignore-certificate-errors-spki-list=${opt.spki}`] : []),
    ],
  });
  if (fatal) throw new Error(fatal); // deadline passed during launch
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') browserLog.push({ kind: m.type(), text: m.text() });
  });
  page.on('pageerror', (e) => browserLog.push({ kind: 'pageerror', text: String(e) }));
  page.on('requestfailed', (r) =>
    browserLog.push({ kind: 'requestfailed', text: `${r.method()} ${r.url()}: ${r.failure()?.errorText}` }),
  );
  await page.goto(opt['page-url']);
  report = opt.scenario === 'demo' ? await demoChat(page) : await sdkPage(page);
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot });
} catch (e) {
  fatal = fatal || String(e && e.stack ? e.stack : e);
} finally {
  clearTimeout(deadline);
  if (browser) await browser.close().catch(() => {});
}

async function sdkPage(page) {
  await page.waitForFunction(() => window.stsgateTest, null, { timeout: 10000 });
  return page.evaluate((c) => window.stsgateTest.run(c), cfg);
}

// The demo chat: both panes connect over the bridged WebSocket, alice sends
// over REST, bob receives the message over his socket.
async function demoChat(page) {
  await page.setViewportSize({ width: 1000, height: 520 });
  await page.waitForFunction(() => document.querySelectorAll('.status.ok').length === 2, null, { timeout: 15000 });
  const text = `hello bob, it is ${new Date().toISOString().slice(11, 19)}`;
  await page.fill('#alice input', text);
  await page.press('#alice input', 'Enter');
  await page.waitForFunction((t) => [...document.querySelectorAll('#bob li .text')].some((e) => e.textContent === t), text, { timeout: 15000 });
  await page.fill('#bob input', 'hi alice!');
  await page.press('#bob input', 'Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('#alice li .text')].some((e) => e.textContent === 'hi alice!'), null, { timeout: 15000 });
  return page.evaluate(() => ({
    statuses: [...document.querySelectorAll('.status')].map((e) => e.textContent),
    alice: [...document.querySelectorAll('#alice li .text')].map((e) => e.textContent),
    bob: [...document.querySelectorAll('#bob li .text')].map((e) => e.textContent),
  }));
}

const out = fatal ? { fatal, browserLog } : { ...report, browserLog };
process.stdout.write(redact(JSON.stringify(out)) + '\n');
process.exit(fatal ? 2 : 0);
