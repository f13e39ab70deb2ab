// Area broadcasts: the operator draws the area on the map, sees whom it would reach, sends the
// warning in Vietnamese and English, and watches it go out; earlier ones listed with progress.

import { call } from './api.js';
import { fill, h, when } from './dom.js';
import { lang, named, t } from './i18n.js';
import { publicList } from './lists.js';
import { L, createMap, fitTo, wardLayer } from './map.js';

const WATCH_MS = 1500;
const RUNNING = ['resolving', 'fanning_out', 'sending'];

/** Shows broadcasts in `root`; answers a function that stops it. */
export function showBroadcasts(root, { me }) {
  const jurisdiction = me.scope.jurisdiction || 'hue';
  let stopped = false;
  let timer = null;
  const points = [];
  // One key per broadcast written: a send retried after a failure is the same broadcast.
  let key = crypto.randomUUID();
  const message = h('p', { class: 'message', role: 'status' });
  const audience = h('p', { class: 'audience', id: 'audience' });
  const progress = h('div', { class: 'progress', id: 'broadcast-progress' });
  const list = h('ol', { class: 'broadcasts' });
  const mapElement = h('div', { class: 'map', id: 'broadcast-map' });
  const pointCount = h('span', { id: 'point-count' }, t('points_n', { n: 0 }));
  const zoom = h('select', { name: 'zoom' }, h('option', { value: '' }, '—'));
  const fields = {};
  for (const [name, rows] of [['title_vi', 0], ['body_vi', 3], ['title_en', 0], ['body_en', 3]]) {
    fields[name] = rows
      ? h('textarea', { name, rows, maxlength: 500, required: true })
      : h('input', { name, maxlength: 100, required: true });
  }
  const urgent = h('input', { type: 'checkbox', name: 'urgent' });
  // Another text is another broadcast: a send after an edit does not replay the first.
  for (const field of [...Object.values(fields), urgent]) {
    field.addEventListener('input', () => {
      key = crypto.randomUUID();
    });
  }
  const previewButton = h('button', { type: 'button', name: 'preview', disabled: true, onclick: preview }, t('preview'));
  const sendButton = h('button', { type: 'submit', class: 'primary', name: 'send', disabled: true }, t('send'));

  fill(
    root,
    h(
      'section',
      { class: 'broadcasts-page' },
      h('h1', {}, t('broadcasts')),
      message,
      h(
        'div',
        { class: 'split' },
        h(
          'form',
          { class: 'action wide', onsubmit: send },
          h('h2', {}, t('new_broadcast')),
          h('p', {}, t('draw_area')),
          h('div', { class: 'row' }, pointCount, h('button', { type: 'button', name: 'clear', onclick: clear }, t('clear_area')), h('label', { class: 'inline' }, t('zoom_to'), zoom)),
          Object.entries(fields).map(([name, field]) => h('label', {}, t(name), field)),
          h('label', { class: 'check' }, urgent, t('urgent_delivery')),
          h('div', { class: 'row' }, previewButton, sendButton),
          audience,
          progress,
        ),
        mapElement,
      ),
      h('h2', {}, t('broadcasts')),
      list,
    ),
  );

  const map = createMap(mapElement);
  const drawn = L.polygon([], { color: '#b42318', weight: 2, fillOpacity: 0.15 }).addTo(map);
  const wardsByid = new Map();
  publicList(`/v1/reports/wards?jurisdiction=${encodeURIComponent(jurisdiction)}`).then((wards) => {
    if (!wards || stopped) return;
    const outlines = wardLayer(wards, named).addTo(map);
    outlines.bringToBack();
    fitTo(map, outlines);
    outlines.eachLayer((layer) => wardsByid.set(layer.feature.properties.id, layer));
    for (const f of wards.features) zoom.append(h('option', { value: f.properties.id }, named(f.properties)));
  });
  zoom.addEventListener('change', () => {
    const ward = wardsByid.get(zoom.value);
    if (ward) map.fitBounds(ward.getBounds(), { animate: false });
  });

  map.on('click', (event) => {
    points.push(event.latlng);
    redraw();
  });

  function clear() {
    points.length = 0;
    redraw();
  }

  function redraw() {
    key = crypto.randomUUID();
    drawn.setLatLngs(points);
    fill(pointCount, t('points_n', { n: points.length }));
    fill(audience);
    previewButton.disabled = sendButton.disabled = points.length < 3;
  }

  /** The drawn area as a broadcast's `area`: a closed GeoJSON polygon. */
  function area() {
    const ring = points.map((p) => [Number(p.lng.toFixed(6)), Number(p.lat.toFixed(6))]);
    ring.push(ring[0]);
    return { polygon: { type: 'Polygon', coordinates: [ring] } };
  }

  async function preview() {
    try {
      const { value } = await call('POST', '/v1/admin/broadcasts/preview', { json: { jurisdiction, area: area() } });
      const wards = value.wards.map((id) => named(wardsByid.get(id)?.feature.properties) || id).join(', ');
      fill(audience, t('reaches', { n: value.recipients, wards }));
    } catch (error) {
      fill(message, error.message || t('error'));
    }
  }

  async function send(event) {
    event.preventDefault();
    sendButton.disabled = true;
    try {
      const json = { jurisdiction, area: area(), urgent: urgent.checked };
      for (const [name, field] of Object.entries(fields)) json[name] = field.value.trim();
      const { value } = await call('POST', '/v1/admin/broadcasts', { json, key });
      key = crypto.randomUUID();
      watch(value.id);
      loadList();
    } catch (error) {
      // The warning may have gone out all the same (an answer lost on the way): the list says.
      fill(message, error.message || t('error'));
      sendButton.disabled = false;
      loadList();
    }
  }

  /** Follows broadcast `id` until it is completed or cancelled. */
  async function watch(id) {
    clearTimeout(timer);
    try {
      const { value: broadcast } = await call('GET', `/v1/admin/broadcasts/${id}`);
      if (stopped) return;
      renderProgress(broadcast);
      if (RUNNING.includes(broadcast.status)) timer = setTimeout(() => watch(id), WATCH_MS);
      else loadList();
    } catch (error) {
      if (!stopped) fill(message, error.message || t('error'));
    }
  }

  function renderProgress(broadcast) {
    const running = RUNNING.includes(broadcast.status);
    const share = broadcast.recipients ? broadcast.fanned_out / broadcast.recipients : running ? 0 : 1;
    fill(
      progress,
      h('strong', { class: `broadcast-status status-${broadcast.status}` }, t(`broadcast.${broadcast.status}`)),
      h('progress', { max: 1, value: share.toFixed(3) }),
      h('span', { class: 'counts' }, t('progress', {
        done: broadcast.fanned_out,
        all: broadcast.recipients,
        sent: broadcast.pushes.sent,
        pending: broadcast.pushes.pending,
      })),
      running
        ? h('button', { type: 'button', class: 'danger', name: 'cancel', onclick: () => cancel(broadcast.id) }, t('cancel'))
        : null,
    );
  }

  async function cancel(id) {
    try {
      await call('POST', `/v1/admin/broadcasts/${id}/cancel`);
      watch(id);
    } catch (error) {
      fill(message, error.message || t('error'));
    }
  }

  async function loadList() {
    try {
      const { value: page } = await call('GET', `/v1/admin/broadcasts?jurisdiction=${encodeURIComponent(jurisdiction)}&limit=20`);
      if (stopped) return;
      fill(
        list,
        page.broadcasts.length
          ? page.broadcasts.map((b) =>
              h(
                'li',
                { 'data-id': b.id },
                h('time', {}, when(b.created_at, lang)),
                h('strong', {}, lang === 'vi' ? b.title_vi : b.title_en),
                h('span', { class: `status status-${b.status}` }, t(`broadcast.${b.status}`)),
                h('span', {}, `${t('recipients')}: ${b.fanned_out}/${b.recipients}`),
              ),
            )
          : h('li', {}, t('none')),
      );
    } catch (error) {
      if (!stopped) fill(list, h('li', {}, error.message || t('error')));
    }
  }

  loadList();
  return () => {
    stopped = true;
    clearTimeout(timer);
    map.remove();
  };
}
