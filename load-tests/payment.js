// Residents paying bills as the app does, end to end against the payment sandboxes: each
// virtual user signs in with a phone code (from the development SMS sink), then, again and
// again, looks up an electricity bill (GET /v1/payments/bills), pays it (POST /v1/payments, a
// new Idempotency-Key each, VNPay and MoMo in turn), opens the provider's page, approves, comes
// back through the return URL, and waits until the provider's IPN has settled the payment
// (GET /v1/payments/{id} until `succeeded`). `payments_completed` counts settled payments: its
// rate in the summary is payments completed per second.
//
// The server runs the sandboxes beside the services, its providers pointed at them
// (services/sandbox/payments.toml), with the per-address code quota and the lookup limit raised:
//
//   CITIZEN_IDENTITY__OTP__PER_IP_PER_HOUR=100000 CITIZEN_PAYMENTS__BILL_LOOKUPS_PER_MINUTE=100000 \
//     target/release/citizen --config services/sandbox/payments.toml serve --target all,sandbox
//   BASE_URL=http://127.0.0.1:8080 VUS=16 DURATION=30s load-tests/run payment
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { BASE_URL, postJson, residentAuth } from './resident.js';

// The sandbox VNPay merchant (services/sandbox/src/vnpay.rs, DEMO_TMN_CODE).
const TMN_CODE = __ENV.VNPAY_TMN_CODE || 'CITIZEN1';

export const options = {
  vus: Number(__ENV.VUS || 16),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// From POST /v1/payments to the payment seen `succeeded` (the payer's clicks included).
const completion = new Trend('payment_completion', true);
const completed = new Counter('payments_completed');

// An electricity code of the sandbox biller, this virtual user's own (so no two pay one bill at
// once); ending in 7 it is known and owes something.
function customerCode() {
  return `PC05HU${String(__VU % 100).padStart(2, '0')}${String(__ITER % 10000).padStart(4, '0')}7`;
}

function queryValue(url, name) {
  const match = url.match(new RegExp(`[?&]${name}=([^&]*)`));
  return match ? decodeURIComponent(match[1]) : '';
}

export default function () {
  const auth = residentAuth();

  const code = customerCode();
  const lookup = http.get(`${BASE_URL}/v1/payments/bills?service=electricity&code=${code}`, {
    headers: auth,
    tags: { name: 'lookup' },
  });
  if (!check(lookup, { 'lookup: 200': (r) => r.status === 200 })) return;
  const bill = lookup.json('bills.0');
  if (!bill) return;

  const provider = __ITER % 2 === 0 ? 'vnpay' : 'momo';
  const started = Date.now();
  const made = postJson(
    '/v1/payments',
    { service: 'electricity', code, bill_id: bill.bill_id, amount: bill.amount, provider },
    'pay',
    Object.assign({ 'Idempotency-Key': `k6-${__VU}-${__ITER}-${Math.random()}` }, auth),
  );
  if (!check(made, { 'pay: 201': (r) => r.status === 201 })) return;
  const payment = made.json();

  // The payer on the provider's page: opens it, approves, and is sent back to us.
  const page = http.get(payment.pay_url, { tags: { name: `${provider}-page` } });
  if (!check(page, { 'provider page: 200': (r) => r.status === 200 })) return;
  const decided = provider === 'vnpay'
    ? http.post(`${BASE_URL}/sandbox/vnpay/paymentv2/decide`,
      { tmn_code: TMN_CODE, txn_ref: queryValue(payment.pay_url, 'vnp_TxnRef'), decision: 'approve' },
      { redirects: 0, tags: { name: 'vnpay-decide' } })
    : http.post(`${payment.pay_url}/decide`, { decision: 'approve' },
      { redirects: 0, tags: { name: 'momo-decide' } });
  if (!check(decided, { 'approve: 302': (r) => r.status === 302 })) return;
  http.get(decided.headers.Location, { tags: { name: `${provider}-return` } });

  // The IPN settles it; the app polls.
  for (let i = 0; i < 200; i++) {
    const seen = http.get(`${BASE_URL}/v1/payments/${payment.id}`, { headers: auth, tags: { name: 'poll' } });
    if (seen.status === 200 && seen.json('status') === 'succeeded') {
      completion.add(Date.now() - started);
      completed.add(1);
      return;
    }
    sleep(0.05);
  }
  check(null, { 'settled within 10 s': () => false });
}
