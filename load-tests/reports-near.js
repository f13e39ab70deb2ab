// The public "near me" feed of field reports as the app's map asks for it: open reports within
// 500 m of random points around Huế, no sign-in. Run report-filing first, or the feed is empty
// (the summary's near_reports says how many reports each answer held).
//
//   BASE_URL=http://127.0.0.1:8080 VUS=32 DURATION=30s load-tests/run reports-near
import http from 'k6/http';
import { check } from 'k6';
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

// Reports per answer.
const nearReports = new Trend('near_reports');

// Central Huế: the Citadel, both banks of the Perfume River, Vỹ Dạ.
const BOX = { lat: [16.44, 16.52], lng: [107.54, 107.64] };

function between([low, high]) {
  return low + Math.random() * (high - low);
}

export default function () {
  const lat = between(BOX.lat).toFixed(6);
  const lng = between(BOX.lng).toFixed(6);
  const response = http.get(`${BASE_URL}/v1/reports/near?lat=${lat}&lng=${lng}&radius_m=500`, {
    headers: { 'Accept-Encoding': 'gzip' },
    tags: { name: 'near' },
  });
  const ok = check(response, {
    'near: 200 with reports': (r) => r.status === 200 && Array.isArray(r.json('reports')),
  });
  if (ok) nearReports.add(response.json('reports').length);
}
