// An operator of the city's operations centre in the console, in headless Chromium: reads the
// month's KPIs and heatmap and downloads them as CSV, then draws an area on the map, sees whom
// a warning would reach, sends it and watches it finish.
//
// Environment: BASE_URL, USERNAME, PASSWORD, RECEIVED (the reports of the month), REACHES (the
// residents the drawn area reaches), SCREENSHOTS. Prints {"csv": <the CSV downloaded>}.

const fs = require('node:fs');
const { env, run, screenshot, signIn } = require('./common.cjs');

run(async (page) => {
  await signIn(page, '/console/#/ops');

  // The month's figures, where they came from, as CSV.
  await page.getByRole('link', { name: 'Trung tâm điều hành' }).click();
  await page.locator('[data-kpi="received"] .value', { hasText: new RegExp(`^${env('RECEIVED')}$`) }).waitFor();
  await page.locator('path.heat-cell').first().waitFor();
  await page.locator('.chart svg rect:not([height="0"])').first().waitFor();
  await screenshot(page, 'operations');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Tải CSV' }).click(),
  ]);
  const csv = fs.readFileSync(await download.path(), 'utf8');

  // A warning to an area drawn around Phú Xuân's middle.
  await page.getByRole('link', { name: 'Cảnh báo khu vực' }).click();
  await page.getByLabel('Đến phường').selectOption({ label: 'Phường Phú Xuân' });
  const box = await page.locator('#broadcast-map').boundingBox();
  const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
  const [dx, dy] = [box.width * 0.2, box.height * 0.2];
  for (const [x, y] of [[cx - dx, cy - dy], [cx + dx, cy - dy], [cx + dx, cy + dy], [cx - dx, cy + dy]]) {
    await page.mouse.click(x, y);
  }
  await page.getByText('Vùng: 4 điểm').waitFor();
  await page.getByRole('button', { name: 'Xem trước' }).click();
  const audience = page.locator('#audience', { hasText: `Sẽ gửi đến ${env('REACHES')} người dân (` });
  await audience.filter({ hasText: 'Phường Phú Xuân' }).waitFor();
  await page.getByLabel('Tiêu đề (tiếng Việt)').fill('Cảnh báo ngập lụt');
  await page.getByLabel('Nội dung (tiếng Việt)').fill('Nước sông Hương đang lên. Hãy kê cao đồ đạc.');
  await page.getByLabel('Tiêu đề (tiếng Anh)').fill('Flood warning');
  await page.getByLabel('Nội dung (tiếng Anh)').fill('The Perfume River is rising. Move belongings up.');
  await page.getByLabel('Khẩn cấp (gửi cả trong giờ yên lặng)').check();
  await page.getByRole('button', { name: 'Gửi', exact: true }).click();
  await page.locator('#broadcast-progress .broadcast-status', { hasText: 'Hoàn tất' }).waitFor({ timeout: 30_000 });
  await page.locator('#broadcast-progress', { hasText: `Đã gửi ${env('REACHES')}/${env('REACHES')} thông báo` }).waitFor();
  await page.locator('ol.broadcasts li', { hasText: 'Cảnh báo ngập lụt' }).waitFor();
  await screenshot(page, 'broadcast');

  // An alert for Phú Xuân, issued in both languages, then cancelled.
  await page.getByRole('link', { name: 'Tin cảnh báo' }).click();
  await page.getByLabel('Loại').selectOption('disaster');
  await page.getByLabel('Mức độ').selectOption('Severe');
  await page.locator('select[name="urgency"]').selectOption('Expected');
  await page.getByLabel('Độ chắc chắn').selectOption('Likely');
  const texts = {
    'Sự kiện (tiếng Việt)': 'Lũ', 'Sự kiện (tiếng Anh)': 'Flood',
    'Tiêu đề (tiếng Việt)': 'Lũ trên sông Hương', 'Tiêu đề (tiếng Anh)': 'Flood on the Perfume River',
    'Nội dung (tiếng Việt)': 'Mực nước vượt báo động 2.', 'Nội dung (tiếng Anh)': 'The water is above alarm level 2.',
    'Khu vực (tiếng Việt, dưới 50 ký tự)': 'Phường Phú Xuân', 'Khu vực (tiếng Anh, dưới 50 ký tự)': 'Phu Xuan Ward',
  };
  for (const [label, text] of Object.entries(texts)) await page.getByLabel(label, { exact: true }).fill(text);
  await page.locator('form', { has: page.getByRole('button', { name: 'Phát tin' }) }).getByLabel('Phường/xã').selectOption({ label: 'Phường Phú Xuân' });
  await page.getByRole('button', { name: 'Phát tin' }).click();
  await page.getByText('Đã phát tin cảnh báo.').waitFor();
  const alert = page.locator('#alerts-in-force li', { hasText: 'Lũ trên sông Hương' });
  await alert.waitFor();
  await screenshot(page, 'alerts');
  await alert.getByLabel('Lý do hủy (tiếng Việt)').fill('Nước đã rút');
  await alert.getByLabel('Lý do hủy (tiếng Anh)').fill('The water has receded');
  await alert.getByRole('button', { name: 'Hủy tin' }).click();
  await page.getByText('Đã hủy tin cảnh báo.').waitFor();

  return { csv };
});
