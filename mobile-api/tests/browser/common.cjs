// What the console's browser scenarios share: Chromium as Debian ships it, TOTP codes, and
// screenshots kept as test artefacts.

const crypto = require('node:crypto');
const path = require('node:path');
const { chromium } = require('playwright-core');

/** Launches headless Chromium; a page of a laptop's size, speaking Vietnamese. */
async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'vi-VN' });
  const page = await context.newPage();
  const problems = [];
  // A Content-Security-Policy violation or an uncaught error fails the scenario.
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  return { browser, page, problems };
}

/**
 * The TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32 `secret`, `ahead` time steps
 * from now: a code is taken once, so the step after the enrolment's is the one to sign in with.
 */
function totp(secret, ahead = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + ahead));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

/** Keeps a screenshot of the whole page in $SCREENSHOTS (a test artefact). */
async function screenshot(page, name) {
  if (!process.env.SCREENSHOTS) return;
  await page.screenshot({ path: path.join(process.env.SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The environment variable `name`, which the scenario needs. */
function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** Opens the console at `path` (under BASE_URL) and signs in as USERNAME with PASSWORD. */
async function signIn(page, path = '/console/') {
  await page.goto(`${env('BASE_URL')}${path}`);
  await page.getByLabel('Tên đăng nhập').fill(env('USERNAME'));
  await page.getByLabel('Mật khẩu').fill(env('PASSWORD'));
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
}

/** Runs `scenario`, printing its result as JSON; any failure or page problem exits 1. */
function run(scenario) {
  (async () => {
    const { browser, page, problems } = await launch();
    try {
      const result = await scenario(page);
      if (problems.length) throw new Error(problems.join('\n'));
      process.stdout.write(`${JSON.stringify(result ?? {})}\n`);
    } catch (error) {
      await screenshot(page, 'failure').catch(() => {});
      console.error(error);
      process.exitCode = 1;
    } finally {
      await browser.close();
    }
  })();
}

module.exports = { env, run, signIn, totp, screenshot };
