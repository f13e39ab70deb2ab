// Browsing the catalogue as the app's home screen does: the list (revalidated with
// If-None-Match, as the app caches it), a search, a category filter and a service's detail.
//
//   BASE_URL=http://127.0.0.1:8080 VUS=32 DURATION=30s load-tests/run catalogue
import http from 'k6/http';
import { check } from 'k6';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    // Errors are never acceptable; latency targets are for the catalogue on one small node.
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{name:list}': ['p(99)<250'],
    'http_req_duration{name:search}': ['p(99)<250'],
    'http_req_duration{name:detail}': ['p(99)<250'],
  },
};

const QUERIES = ['phan anh', 'hoc phi', 'tien dien', 'nuoc', 'benh vien', 'xe buyt', 'di tich', 'ngap'];
const LANGUAGES = ['vi', 'en'];

// Each virtual user keeps the ETags it has seen, like the app's HTTP cache.
const etags = {};

function pick(items) {
  return items[Math.floor(Math.random() * items.length)];
}

export default function () {
  const lang = pick(LANGUAGES);
  const headers = { 'Accept-Language': lang, 'Accept-Encoding': 'gzip' };

  const listHeaders = Object.assign({}, headers);
  if (etags[lang]) listHeaders['If-None-Match'] = etags[lang];
  const list = http.get(`${BASE_URL}/v1/catalogue/services`, { headers: listHeaders, tags: { name: 'list' } });
  check(list, { 'list: 200 or 304': (r) => r.status === 200 || r.status === 304 });
  if (list.headers['Etag']) etags[lang] = list.headers['Etag'];

  const search = http.get(`${BASE_URL}/v1/catalogue/services?q=${encodeURIComponent(pick(QUERIES))}`, {
    headers,
    tags: { name: 'search' },
  });
  check(search, { 'search: 200 with services': (r) => r.status === 200 && r.json('services') !== undefined });

  const detail = http.get(`${BASE_URL}/v1/catalogue/services/field-reports`, { headers, tags: { name: 'detail' } });
  check(detail, { 'detail: 200': (r) => r.status === 200 });
}
