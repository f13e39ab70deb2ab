// Residents filing field reports as the app does: each virtual user signs in with a phone code
// (read back from the development SMS sink, the embedded default), then, again and again,
// uploads a photo (multipart POST /v1/media, each one different so none is answered from the
// duplicate check) and files a pothole with it (POST /v1/reports, a new Idempotency-Key each) at
// a random point inside the demo ward Phú Xuân. Every virtual user signs in from the same
// address, and identity allows 20 codes per address per hour, and reports 20 reports per account
// per hour, so raise both on the server:
//
//   CITIZEN_IDENTITY__OTP__PER_IP_PER_HOUR=100000 CITIZEN_REPORTS__MAX_REPORTS_PER_HOUR=100000 \
//     target/release/citizen serve
//   BASE_URL=http://127.0.0.1:8080 VUS=8 DURATION=30s load-tests/run report-filing
import http from 'k6/http';
import { check } from 'k6';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';

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

// POST /v1/reports alone (the photo upload before it is not counted), and reports filed: the
// summary shows its rate as reports/s.
const filingDuration = new Trend('report_filing_duration', true);
const reportsFiled = new Counter('reports_filed');

// Inside Phú Xuân, away from its borders (services/reports/data/hue/wards.geojson).
const BOX = { lat: [16.488, 16.502], lng: [107.575, 107.59] };

// A 96×72 JPEG of under 1 kB.
const photo = new Uint8Array(encoding.b64decode([
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZGNywtQFdB',
  'RkxOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09P',
  'T09PT09PT09PT09PT0//wAARCABIAGADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAA',
  'AgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6',
  'Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXG',
  'x8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREA',
  'AgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5',
  'OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPE',
  'xcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwCkBSgU4ClArvbOJMaBTgKUClAqGzVMQClA',
  'pwFKBUNmiYgFKBSgU4Cs2zVMaBSgU4ClAqGzVMQClApQKcBUNmqZTxTgKXFKBXW2eGmIBSgU4ClAqGzVMaBTgKUClAqGzVMQ',
  'ClApwFKBUNmqYgFKBSgU4CobNUxoFKBTgKXFQ2aJlQClApQKcBXW2eImNApwFKBSgVm2aJiAUoFKBTgKhs1TGgU4ClApQKhs',
  '1TEApQKcBSgVDZqmIBSgUoFOAqGzVMpgUoFOApQK62zw0xAKUClApwFQ2apjQKXFOApcVDZqmJilApQKcBUNmqY0CnAUoFKB',
  'UNmiYgFKBTgKUCobNUyninAUUV1tniIUClAooqGzVDgKUCiiobNUKBSgUUVDNEOApQKKKhmqFApwFFFQ2ao//9k=',
].join(''), 'std'));

// The photo with a COM segment after its start-of-image marker: other bytes, same picture.
function uniquePhoto() {
  const tag = `${__VU}-${__ITER}-${Date.now()}`.padEnd(32, '.');
  const segment = new Uint8Array(4 + tag.length);
  segment.set([0xff, 0xfe, 0, tag.length + 2]);
  for (let i = 0; i < tag.length; i++) segment[4 + i] = tag.charCodeAt(i);
  const out = new Uint8Array(photo.length + segment.length);
  out.set(photo.subarray(0, 2), 0);
  out.set(segment, 2);
  out.set(photo.subarray(2), 2 + segment.length);
  return out.buffer;
}

function between([low, high]) {
  return low + Math.random() * (high - low);
}

function postJson(path, body, name, headers = {}) {
  return http.post(`${BASE_URL}${path}`, JSON.stringify(body), {
    headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
    tags: { name },
  });
}

// This virtual user's access token, signed in again a minute before it expires.
let token = null;
let expiresAt = 0;

function signIn() {
  const phone = `09${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const sent = postJson('/v1/auth/otp', { phone }, 'otp');
  if (sent.status !== 202) {
    exec.test.abort(`POST /v1/auth/otp: ${sent.status} ${sent.body} (per-address quota? see the top of this file)`);
  }
  const sms = http.get(`${BASE_URL}/v1/dev/sms?phone=${phone}`, { tags: { name: 'dev-sms' } });
  const messages = sms.status === 200 ? sms.json() : [];
  const code = messages.length ? (messages[messages.length - 1].match(/\d{6}/) || [])[0] : undefined;
  if (!code) exec.test.abort(`no code in the development SMS sink: ${sms.status} ${sms.body}`);
  const verified = postJson('/v1/auth/otp/verify', { phone, code }, 'otp-verify');
  if (verified.status !== 200) exec.test.abort(`POST /v1/auth/otp/verify: ${verified.status} ${verified.body}`);
  token = verified.json('access_token');
  expiresAt = Date.now() + (verified.json('expires_in') - 60) * 1000;
}

export default function () {
  if (!token || Date.now() > expiresAt) signIn();
  const auth = { Authorization: `Bearer ${token}` };

  const upload = http.post(
    `${BASE_URL}/v1/media`,
    { file: http.file(uniquePhoto(), 'photo.jpg', 'image/jpeg') },
    { headers: auth, tags: { name: 'upload' } },
  );
  if (!check(upload, { 'upload: 201': (r) => r.status === 201 })) return;

  const report = {
    category: 'pothole',
    latitude: between(BOX.lat),
    longitude: between(BOX.lng),
    description: 'Ổ gà lớn giữa đường (k6)',
    media_ids: [upload.json('id')],
    answers: { size: 'large' },
  };
  const key = `k6-${__VU}-${__ITER}-${Date.now()}-${Math.random()}`;
  const filed = postJson('/v1/reports', report, 'file', Object.assign({ 'Idempotency-Key': key }, auth));
  filingDuration.add(filed.timings.duration);
  if (check(filed, { 'file: 201 in phu-xuan': (r) => r.status === 201 && r.json('report.ward.id') === 'phu-xuan' })) {
    reportsFiled.add(1);
  }
}
