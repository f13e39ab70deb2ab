// What the resident scenarios share: JSON posts, and a resident's session. Each virtual user
// signs in once with a phone code (read back from the development SMS sink, the embedded
// default) and again a minute before its token expires. Every virtual user signs in from the
// same address, and identity allows 20 codes per address per hour: raise
// CITIZEN_IDENTITY__OTP__PER_IP_PER_HOUR on the server. `signIn(phone)` signs a given phone in
// and returns its tokens (health's setup() signs in the same residents every run).
import http from 'k6/http';
import exec from 'k6/execution';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export function postJson(path, body, name, headers = {}) {
  return http.post(`${BASE_URL}${path}`, JSON.stringify(body), {
    headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
    tags: { name },
  });
}

// This virtual user's session (each virtual user runs its own copy of this module).
let token = null;
let expiresAt = 0;

// Signs `phone` in with a code from the development SMS sink; the answer of
// POST /v1/auth/otp/verify (`access_token`, `expires_in`, `refresh_token`).
export function signIn(phone) {
  const sent = postJson('/v1/auth/otp', { phone }, 'otp');
  if (sent.status !== 202) {
    exec.test.abort(`POST /v1/auth/otp: ${sent.status} ${sent.body} (a code quota? see load-tests/resident.js and the scenario's header)`);
  }
  const sms = http.get(`${BASE_URL}/v1/dev/sms?phone=${phone}`, { tags: { name: 'dev-sms' } });
  const messages = sms.status === 200 ? sms.json() : [];
  const code = messages.length ? (messages[messages.length - 1].match(/\d{6}/) || [])[0] : undefined;
  if (!code) exec.test.abort(`no code in the development SMS sink: ${sms.status} ${sms.body}`);
  const verified = postJson('/v1/auth/otp/verify', { phone, code }, 'otp-verify');
  if (verified.status !== 200) exec.test.abort(`POST /v1/auth/otp/verify: ${verified.status} ${verified.body}`);
  return verified.json();
}

// The `Authorization` header of this virtual user's resident.
export function residentAuth() {
  if (!token || Date.now() > expiresAt) {
    const session = signIn(`09${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`);
    token = session.access_token;
    expiresAt = Date.now() + (session.expires_in - 60) * 1000;
  }
  return { Authorization: `Bearer ${token}` };
}
