// One URL as fast as the virtual users can ask: the same load for the gateway and for the
// hello-world yardstick in load-tests/bench.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: Number(__ENV.VUS || 64),
  duration: __ENV.DURATION || '15s',
  thresholds: { http_req_failed: ['rate<0.01'] },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

// With TOKEN set, the request carries it as a bearer token.
const params = __ENV.TOKEN ? { headers: { Authorization: `Bearer ${__ENV.TOKEN}` } } : {};

export default function () {
  const response = http.get(__ENV.URL, params);
  check(response, { 'status 200': (r) => r.status === 200 });
}
