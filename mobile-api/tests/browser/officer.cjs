// An officer's day in the console, in headless Chromium:
// signs in with password and TOTP, finds a new report on the map, marks a report nearby as its
// duplicate, accepts, starts and resolves
// it with a proof photo uploaded from the page; sees a report filed meanwhile arrive in the
// queue; a lost access token is renewed, a lost session leads back to sign-in.
//
// Environment: BASE_URL, USERNAME, PASSWORD, TOTP_SECRET, REPORT_ID, DUPLICATE_ID (a report of
// the same spot, filed after it), PHOTO (a PNG file),
// RESIDENT_TOKEN and NEW_REPORT (JSON to file while the queue is open), SCREENSHOTS.
// Prints {"live_report_id": ...}.

const { env, run, screenshot, signIn, totp } = require('./common.cjs');

run(async (page) => {
  const base = env('BASE_URL');
  const reportId = env('REPORT_ID');

  // Sign-in: the password, then the code the account's authenticator shows.
  await signIn(page);
  await page.getByText('Nhập mã từ ứng dụng xác thực.').waitFor();
  await page.getByLabel('Mã xác thực (6 số)').fill(totp(env('TOTP_SECRET'), 1));
  await screenshot(page, 'sign-in');
  await page.getByRole('button', { name: 'Đăng nhập' }).click();

  // The queue lists the new report; its marker is on the map.
  await page.locator(`li.report[data-id="${reportId}"]`).waitFor();
  await page.locator('path.leaflet-interactive').first().waitFor();
  await screenshot(page, 'queue');
  // Its duplicate lies on top of it: the click goes to this report's own marker.
  await page.locator(`path.report-${reportId}`).dispatchEvent('click');

  // The report's page: its photo shown with the officer's token, the workflow's next steps.
  await page.locator('#report-status', { hasText: 'Mới gửi' }).waitFor();
  // What the resident wrote is shown as text, never as markup.
  await page.locator('.description', { hasText: 'Ổ gà lớn trước số 12 Lê Lợi <img src=x onerror=alert(1)>' }).waitFor();
  await page.locator('.report-page > .split img.photo[src^="blob:"]').waitFor();
  // Answers are shown as the resident read the question and its options.
  await page.locator('.answers', { hasText: 'Kích thước ổ gà' }).filter({ hasText: 'Nhỏ (dưới 30 cm)' }).waitFor();
  if (await page.getByText('[object').count()) throw new Error('an element was written as text');
  // A second report of the same pothole, filed nearby, is marked as its duplicate.
  const duplicateId = env('DUPLICATE_ID');
  await page.locator(`#nearby li[data-id="${duplicateId}"]`).getByRole('button', { name: 'Đánh dấu trùng với phản ánh này' }).click();
  await page.locator('.report-page h2', { hasText: 'Phản ánh trùng' }).waitFor();
  await page.locator(`.report-page a[href="#/reports/${duplicateId}"]`).waitFor();

  await page.getByRole('button', { name: 'Tiếp nhận' }).click();
  await page.locator('#report-status', { hasText: 'Đã tiếp nhận' }).waitFor();
  await page.getByRole('button', { name: 'Bắt đầu xử lý' }).click();
  await page.locator('#report-status', { hasText: 'Đang xử lý' }).waitFor();

  // Resolving needs an answer and a proof photo, uploaded from the page.
  const resolve = page.locator('form.action', { has: page.locator('button[name="resolve"]') });
  await resolve.locator('button[name="resolve"]').click();
  await page.getByText('Cần ít nhất một ảnh kết quả.').waitFor();
  await resolve.locator('input[type="file"]').setInputFiles(env('PHOTO'));
  await resolve.locator('textarea[name="public_note"]').fill('Đã vá ổ gà. / The pothole is filled.');
  await resolve.locator('button[name="resolve"]').click();
  await page.locator('#report-status', { hasText: 'Đã xử lý' }).waitFor();
  await page.locator('.timeline li', { hasText: 'Đã vá ổ gà.' }).locator('img.photo[src^="blob:"]').waitFor();
  await screenshot(page, 'report');

  // Back in the queue: the resolved report has left it; one filed now arrives by polling.
  await page.getByRole('link', { name: '← Quay lại hàng đợi' }).click();
  await page.locator('ol.reports').waitFor();
  if (await page.locator(`li.report[data-id="${reportId}"]`).count()) {
    throw new Error('the resolved report is still in the queue');
  }
  const filed = await fetch(`${base}/v1/reports`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${env('RESIDENT_TOKEN')}`,
      'Content-Type': 'application/json',
      'Idempotency-Key': crypto.randomUUID(),
    },
    body: env('NEW_REPORT'),
  });
  if (filed.status !== 201) throw new Error(`filing answered ${filed.status}: ${await filed.text()}`);
  const liveReportId = (await filed.json()).report.id;
  await page.locator(`li.report.fresh[data-id="${liveReportId}"]`).waitFor({ timeout: 30_000 });
  await page.getByText('Có phản ánh mới.').waitFor();

  // On a tablet held upright, the map comes under the list.
  await page.setViewportSize({ width: 820, height: 1180 });
  const list = await page.locator('.list-pane').boundingBox();
  const map = await page.locator('#queue-map').boundingBox();
  if (!(map.y >= list.y + list.height && map.width > 700)) {
    throw new Error(`on a tablet the map is not under the list: ${JSON.stringify({ list, map })}`);
  }
  await screenshot(page, 'queue-tablet');
  await page.setViewportSize({ width: 1366, height: 900 });

  // An access token the API no longer takes is renewed with the refresh token.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('citizen.console.session'));
    session.access_token = 'expired';
    sessionStorage.setItem('citizen.console.session', JSON.stringify(session));
  });
  await page.reload();
  await page.locator(`li.report[data-id="${liveReportId}"]`).waitFor();

  // A session that cannot be renewed leads back to sign-in, saying why.
  await page.evaluate(() => {
    sessionStorage.setItem(
      'citizen.console.session',
      JSON.stringify({ access_token: 'expired', refresh_token: 'revoked', renew_at: 0 }),
    );
  });
  await page.reload();
  await page.getByText('Phiên làm việc đã hết hạn, vui lòng đăng nhập lại.').waitFor();
  await page.getByRole('button', { name: 'Đăng nhập' }).waitFor();

  return { live_report_id: liveReportId };
});
