// What a newcomer sees after the README's first command: the console of the development
// server, signed in as a demo officer, with their queue and the map of their ward.
//
// Environment: BASE_URL, USERNAME, PASSWORD. Prints {}.

const { run, signIn } = require('./common.cjs');

run(async (page) => {
  await signIn(page, '/console');
  await page.locator('ol.reports').waitFor();
  await page.locator('#queue-map path.leaflet-interactive').first().waitFor();
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('link', { name: 'Report queue' }).waitFor();
});
