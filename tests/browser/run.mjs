// Runs the SDK page in headless Debian Chromium and prints its report as
// one JSON line on stdout. Exit 0: the run finished (the caller judges the
// report); exit 2: crash or timeout (a JSON line with "fatal" is printed).
//
//   node run.mjs --page-url URL --config JSON --spki BASE64_SHA256 [--timeout-ms N]
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    'page-url': { type: 'string' },
    config: { type: 'string' },
    spki: { type: 'string' },
    'timeout-ms': { type: 'string', default: '60000' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
for (const k of ['page-url', 'config', 'spki']) {
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
      `--ignore-certificate-errors-spki-list=${opt.spki}`,
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
  await page.waitForFunction(() => window.stsgateTest, null, { timeout: 10000 });
  report = await page.evaluate((c) => window.stsgateTest.run(c), cfg);
} catch (e) {
  fatal = fatal || String(e && e.stack ? e.stack : e);
} finally {
  clearTimeout(deadline);
  if (browser) await browser.close().catch(() => {});
}

const out = fatal ? { fatal, browserLog } : { ...report, browserLog };
process.stdout.write(redact(JSON.stringify(out)) + '\n');
process.exit(fatal ? 2 : 0);
