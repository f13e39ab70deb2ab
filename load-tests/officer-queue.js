// Ward officers working their queue: each virtual user signs in as the demo officer of Phú
// Xuân (POST /v1/auth/staff/login) and pages through GET /v1/officer/reports, 50 at a time,
// following next_cursor for up to 5 pages. The demo staff exist only when the server runs with
// identity.dev_seed_staff; run report-filing first to fill the queue:
//
//   CITIZEN_IDENTITY__DEV_SEED_STAFF=true target/release/citizen serve
//   BASE_URL=http://127.0.0.1:8080 VUS=8 DURATION=30s load-tests/run officer-queue
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Trend } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

const PAGES = 5;
const LIMIT = 50;

// Pages read per walk through the queue (fewer than 5 when the queue ends first).
const queuePages = new Trend('queue_pages');

// This virtual user's access token, signed in again a minute before it expires.
let token = null;
let expiresAt = 0;

function signIn() {
  const response = http.post(
    `${BASE_URL}/v1/auth/staff/login`,
    JSON.stringify({ username: 'phuxuan.officer', password: 'hue-demo-password' }),
    { headers: { 'Content-Type': 'application/json' }, tags: { name: 'staff-login' } },
  );
  if (response.status !== 200) {
    exec.test.abort(`staff login: ${response.status} ${response.body} (is identity.dev_seed_staff on?)`);
  }
  token = response.json('access_token');
  expiresAt = Date.now() + (response.json('expires_in') - 60) * 1000;
}

export default function () {
  if (!token || Date.now() > expiresAt) signIn();
  const params = {
    headers: { Authorization: `Bearer ${token}`, 'Accept-Encoding': 'gzip' },
    tags: { name: 'queue' },
  };

  let cursor = null;
  let pages = 0;
  while (pages < PAGES) {
    const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = http.get(`${BASE_URL}/v1/officer/reports?limit=${LIMIT}${query}`, params);
    pages++;
    if (!check(response, { 'queue: 200': (r) => r.status === 200 })) break;
    cursor = response.json('next_cursor');
    if (!cursor) break;
  }
  queuePages.add(pages);
}
