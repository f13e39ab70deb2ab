// A jurisdiction admin in the console, in headless Chromium: adds a ward officer and then
// disables them, issues an Open311 key and revokes it, reads the moderation log, and imports
// new ward boundaries after checking them on the map.
//
// Environment: BASE_URL, USERNAME, PASSWORD, WARDS_FILE (a GeoJSON FeatureCollection of the
// jurisdiction's wards), RENAMED (a ward's new name in it), SCREENSHOTS.
// Prints {"api_key": <the key issued>}.

const { env, run, screenshot, signIn } = require('./common.cjs');

run(async (page) => {
  await signIn(page, '/console/#/admin');
  await page.getByRole('link', { name: 'Quản trị', exact: true }).click();

  // A new ward officer for Kim Long, then disabled.
  await page.locator('#staff tr[data-username="phuxuan.officer"]').waitFor();
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Thêm cán bộ' }) });
  await form.getByLabel('Tên đăng nhập').fill('kimlong.officer');
  await form.getByLabel('Họ tên').fill('Cán bộ phường Kim Long');
  await form.getByLabel('Mật khẩu').fill('a-long-password-2027');
  await form.getByLabel('Vai trò').selectOption('ward_officer');
  await form.getByLabel('Phường/xã').selectOption({ label: 'Phường Kim Long' });
  await form.getByRole('button', { name: 'Thêm cán bộ' }).click();
  await page.locator('.message', { hasText: 'Đã lưu.' }).waitFor();
  const row = page.locator('#staff tr[data-username="kimlong.officer"]');
  await row.filter({ hasText: 'Phường Kim Long' }).waitFor();
  // Moved to two wards, then disabled.
  await row.getByRole('button', { name: 'Sửa phạm vi' }).click();
  await row.locator('select[name="scope_wards"]').selectOption([{ label: 'Phường Kim Long' }, { label: 'Phường Hương Trà' }]);
  await row.getByRole('button', { name: 'Lưu' }).click();
  await row.filter({ hasText: 'Phường Hương Trà, Phường Kim Long' }).waitFor();
  await row.getByRole('button', { name: 'Khóa', exact: true }).click();
  await row.filter({ hasText: 'Đã khóa' }).waitFor();

  // An Open311 key, shown once, then revoked.
  await page.getByLabel('Tên', { exact: true }).fill('FixMyStreet Huế');
  await page.getByRole('button', { name: 'Cấp khóa API' }).click();
  const apiKey = (await page.locator('#issued-key code').textContent()).trim();
  const client = page.locator('#open311-clients li[data-name="FixMyStreet Huế"]');
  await client.getByRole('button', { name: 'Thu hồi' }).click();
  await client.filter({ hasText: 'Đã thu hồi' }).waitFor();

  // The moderation log.
  await page.locator('#moderation-log li', { hasText: 'Ẩn phản ánh' }).waitFor();

  // New boundaries: seen on the map and named before they are saved.
  await page.getByLabel('Tệp GeoJSON').setInputFiles(env('WARDS_FILE'));
  await page.locator('#wards-read', { hasText: 'phường/xã trong tệp' }).filter({ hasText: env('RENAMED') }).waitFor();
  await page.locator('#wards-map').hover();
  await page.locator('.leaflet-tooltip', { hasText: '<i id=injected>2027</i>' }).waitFor();
  if (await page.locator('#injected').count()) throw new Error('a ward name became markup');
  await screenshot(page, 'admin');
  await page.getByRole('button', { name: 'Lưu' }).click();
  await page.locator('#wards-read', { hasText: 'Đã lưu.' }).waitFor();

  return { api_key: apiKey };
});
