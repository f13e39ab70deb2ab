// Alerts (CAP 1.2) for a jurisdiction admin: those in force, each cancellable with a reason, and
// a new one written in Vietnamese and English for some wards, told to their residents.

import { call } from './api.js';
import { fill, h, when } from './dom.js';
import { lang, named, t } from './i18n.js';
import { publicList } from './lists.js';

const KINDS = ['disaster', 'traffic', 'power_outage', 'water_outage', 'scam', 'announcement'];
const SEVERITIES = ['Extreme', 'Severe', 'Moderate', 'Minor'];
const URGENCIES = ['Immediate', 'Expected', 'Future'];
const CERTAINTIES = ['Observed', 'Likely', 'Possible'];
const TEXTS = [
  ['event_vi', 100], ['event_en', 100], ['headline_vi', 160], ['headline_en', 160],
  ['description_vi', 2000], ['description_en', 2000], ['area_desc_vi', 49], ['area_desc_en', 49],
];

/** A `datetime-local` value `hours` from now, in Vietnam's time. */
function vietnamTime(hours) {
  return new Date(Date.now() + (7 + hours) * 3600_000).toISOString().slice(0, 16);
}

/**
 * Fills `list` with the alerts in force in `jurisdiction` (the authorities' and the operators'),
 * each with what `extra` adds to its line; not once `stopped()`.
 */
export async function fillAlertsInForce(list, jurisdiction, { extra = () => null, stopped = () => false } = {}) {
  try {
    const response = await fetch(`/v1/alerts?jurisdiction=${encodeURIComponent(jurisdiction)}`, {
      cache: 'no-cache',
      headers: { 'Accept-Language': lang },
    });
    if (!response.ok) throw new Error(t('error'));
    const { alerts } = await response.json();
    if (stopped()) return;
    const text = (pair) => (pair ? pair[lang] || pair.vi : '');
    fill(
      list,
      alerts.length
        ? alerts.map((alert) =>
            h(
              'li',
              { 'data-id': alert.id },
              h('span', { class: `badge severity-${alert.severity.toLowerCase()}` }, t(`severity.${alert.severity}`)),
              h('strong', {}, text(alert.headline)),
              h('span', {}, text(alert.area_desc)),
              alert.expires ? h('time', {}, `${t('until')} ${when(alert.expires, lang)}`) : null,
              extra(alert),
            ),
          )
        : h('li', {}, t('none')),
    );
  } catch (error) {
    if (!stopped()) fill(list, h('li', {}, error.message || t('error')));
  }
}

/** Shows the alerts page in `root`; answers a function that stops it. */
export function showAlerts(root, { me }) {
  const jurisdiction = me.scope.jurisdiction || 'hue';
  let stopped = false;
  // One key per alert written: a send retried after a failure is the same alert.
  let key = crypto.randomUUID();
  const message = h('p', { class: 'message', role: 'status' });
  const list = h('ol', { class: 'broadcasts', id: 'alerts-in-force' });
  const choice = (name, values, label) =>
    h('select', { name }, values.map((v) => h('option', { value: v }, label ? label(v) : v)));
  const fields = {
    kind: choice('kind', KINDS, (k) => t(`kind_alert.${k}`)),
    severity: choice('severity', SEVERITIES, (v) => t(`severity.${v}`)),
    urgency: choice('urgency', URGENCIES, (v) => t(`urgency.${v}`)),
    certainty: choice('certainty', CERTAINTIES, (v) => t(`certainty.${v}`)),
    expires: h('input', { type: 'datetime-local', name: 'expires', value: vietnamTime(6), required: true }),
  };
  for (const [name, max] of TEXTS) {
    fields[name] = max > 160
      ? h('textarea', { name, rows: 3, maxlength: max, required: true })
      : h('input', { name, maxlength: max, required: true });
  }
  const wards = h('select', { name: 'wards', multiple: true, size: 6, required: true });
  const issueButton = h('button', { type: 'submit', class: 'primary', name: 'issue' }, t('issue'));
  for (const field of [...Object.values(fields), wards]) {
    field.addEventListener('input', () => {
      key = crypto.randomUUID();
    });
  }

  publicList(`/v1/reports/wards?jurisdiction=${encodeURIComponent(jurisdiction)}`).then((collection) => {
    if (!collection || stopped) return;
    fill(wards, collection.features.map((f) => h('option', { value: f.properties.id }, named(f.properties))));
  });

  async function issue(event) {
    event.preventDefault();
    issueButton.disabled = true;
    try {
      const json = { jurisdiction, area: { wards: [...wards.selectedOptions].map((o) => o.value) } };
      for (const [name, field] of Object.entries(fields)) json[name] = field.value.trim();
      json.expires = new Date(`${fields.expires.value}:00+07:00`).toISOString();
      await call('POST', '/v1/admin/alerts', { json, key });
      key = crypto.randomUUID();
      event.target.reset();
      fields.expires.value = vietnamTime(6);
      fill(message, t('issued'));
      await loadList();
    } catch (error) {
      fill(message, error.message || t('error'));
      loadList();
    } finally {
      issueButton.disabled = false;
    }
  }

  async function loadList() {
    await fillAlertsInForce(list, jurisdiction, { extra: cancelForm, stopped: () => stopped });
  }

  function cancelForm(alert) {
    const reasonVi = h('input', { name: 'reason_vi', required: true, maxlength: 500, placeholder: t('reason_vi'), 'aria-label': t('reason_vi') });
    const reasonEn = h('input', { name: 'reason_en', required: true, maxlength: 500, placeholder: t('reason_en'), 'aria-label': t('reason_en') });
    const button = h('button', { type: 'submit', class: 'danger', name: 'cancel-alert' }, t('cancel_alert'));
    const submit = async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        await call('POST', `/v1/admin/alerts/${alert.id}/cancel`, {
          json: { reason_vi: reasonVi.value.trim(), reason_en: reasonEn.value.trim() },
        });
        fill(message, t('cancelled'));
        await loadList();
      } catch (error) {
        fill(message, error.message || t('error'));
        button.disabled = false;
      }
    };
    return h('form', { class: 'row', onsubmit: submit }, reasonVi, reasonEn, button);
  }

  fill(
    root,
    h(
      'section',
      { class: 'alerts-page' },
      h('h1', {}, t('alerts_page')),
      message,
      h('h2', {}, t('alerts')),
      list,
      h(
        'form',
        { class: 'action wide', onsubmit: issue },
        h('h2', {}, t('new_alert')),
        h('div', { class: 'row' },
          h('label', {}, t('kind'), fields.kind),
          h('label', {}, t('severity'), fields.severity),
          h('label', {}, t('urgency'), fields.urgency),
          h('label', {}, t('certainty'), fields.certainty),
          h('label', {}, t('expires'), fields.expires)),
        TEXTS.map(([name]) => h('label', {}, t(name), fields[name])),
        h('label', {}, t('ward'), wards),
        issueButton,
      ),
    ),
  );
  loadList();
  return () => {
    stopped = true;
  };
}
