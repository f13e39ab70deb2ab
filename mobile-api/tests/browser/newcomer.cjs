// What a newcomer sees after the README's first command: the console of the development
// server, signed in as a demo officer, with their queue and the map of their ward.
//
// Environment: BASE_URL, USERNAME, PASSWORD. Prints {}.

const { run } = require('./common.cjs');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

run(async (page) => {
  await page.goto(`${env('BASE_URL')}/console`);
  await page.getByLabel('Tên đăng nhập').fill(env('USERNAME'));
  await page.getByLabel('Mật khẩu').fill(env('PASSWORD'));
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.locator('ol.reports').waitFor();
  await page.locator('#queue-map path.leaflet-interactive').first().waitFor();
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('link', { name: 'Report queue' }).waitFor();
});
