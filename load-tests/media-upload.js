// Residents uploading phone photos through the gateway (multipart, POST /v1/media), each one
// different (a unique JPEG comment), so none is answered from the duplicate check. Run by
// load-tests/media-bench, which makes the photo and the token.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: Number(__ENV.VUS || 4),
  duration: __ENV.DURATION || '30s',
  thresholds: { http_req_failed: ['rate<0.01'] },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

const photo = new Uint8Array(open(__ENV.PHOTO, 'b'));
const params = { headers: { Authorization: `Bearer ${__ENV.TOKEN}` } };

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

export default function () {
  const body = { file: http.file(uniquePhoto(), 'photo.jpg', 'image/jpeg') };
  const response = http.post(`${__ENV.BASE_URL}/v1/media`, body, params);
  check(response, { 'status 201': (r) => r.status === 201 });
}
