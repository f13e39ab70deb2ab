// An admin whose deployment asks for a second factor turns TOTP on from the console, in
// headless Chromium: told why, shown a QR code and the key, confirms a code, and then acts as
// admin with the renewed session.
//
// Environment: BASE_URL, USERNAME, PASSWORD, SCREENSHOTS. Prints {"secret": <the TOTP key>}.

const { run, screenshot, signIn, totp } = require('./common.cjs');

run(async (page) => {
  await signIn(page, '/console/');

  const banner = page.locator('.message', { hasText: 'cần bật xác thực hai lớp' });
  await banner.getByRole('link', { name: 'Bật xác thực hai lớp' }).click();
  await page.getByRole('button', { name: 'Bật xác thực hai lớp' }).click();
  const qr = page.locator('img.qr');
  await qr.waitFor();
  await page.waitForFunction(() => document.querySelector('img.qr').naturalWidth > 0);
  const secret = (await page.locator('#totp-secret').textContent()).trim();
  await screenshot(page, 'account');
  await page.getByLabel('Mã xác thực (6 số)').fill(totp(secret));
  await page.getByRole('button', { name: 'Xác nhận' }).click();
  await page.getByText('Xác thực hai lớp đang bật.').waitFor();
  if (await banner.count()) throw new Error('still asked to turn TOTP on');

  // The renewed session carries the admin's rights.
  await page.getByRole('link', { name: 'Quản trị', exact: true }).click();
  await page.locator('#staff tr[data-username="phuxuan.officer"]').waitFor();

  return { secret };
});
