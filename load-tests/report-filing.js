// Residents filing field reports as the app does: each virtual user signs in with a phone code
// (read back from the development SMS sink, the embedded default), then, again and again,
// uploads a photo (multipart POST /v1/media, each one different so none is answered from the
// duplicate check) and files a pothole with it (POST /v1/reports, a new Idempotency-Key each) at
// a random point inside the demo ward Phú Xuân. Every virtual user signs in from the same
// address, and identity allows 20 codes per address per hour, reports 20 reports per account
// per hour and media 200 uploads per account per day, so raise them on the server:
//
//   CITIZEN_IDENTITY__OTP__PER_IP_PER_HOUR=100000 CITIZEN_REPORTS__MAX_REPORTS_PER_HOUR=100000 \
//     CITIZEN_MEDIA__DAILY_UPLOAD_COUNT=100000 target/release/citizen serve
//   BASE_URL=http://127.0.0.1:8080 VUS=8 DURATION=30s load-tests/run report-filing
import http from 'k6/http';
import { check } from 'k6';
import encoding from 'k6/encoding';
import { Counter, Trend } from 'k6/metrics';
import { BASE_URL, postJson, residentAuth } from './resident.js';


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

export default function () {
  const auth = residentAuth();

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
