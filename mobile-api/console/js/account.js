// The staff member's own account: turning on two-factor authentication (TOTP), which an admin
// needs before their sessions carry admin rights.

import { call, refreshSession } from './api.js';
import { fill, h } from './dom.js';
import { t } from './i18n.js';

/** Shows the account page in `root`; `onChanged` runs once the session carries new rights. */
export function showAccount(root, { me, onChanged }) {
  const message = h('p', { class: 'message', role: 'status' });
  const area = h('div', { class: 'action wide', id: 'totp' });

  async function start() {
    try {
      const { value: enrolment } = await call('POST', '/v1/me/totp');
      const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true });
      const button = h('button', { type: 'submit', class: 'primary' }, t('totp_confirm'));
      fill(
        area,
        h('p', {}, t('totp_scan')),
        h('img', { src: `data:image/png;base64,${enrolment.qr_png_base64}`, alt: 'QR', class: 'qr', width: 200, height: 200 }),
        h('p', {}, h('code', { id: 'totp-secret' }, enrolment.secret)),
        h(
          'form',
          { class: 'row', onsubmit: (event) => confirm(event, code, button) },
          h('label', {}, t('totp'), code),
          button,
        ),
      );
      code.focus();
    } catch (error) {
      fill(message, error.message || t('error'));
    }
  }

  async function confirm(event, code, button) {
    event.preventDefault();
    button.disabled = true;
    try {
      await call('POST', '/v1/me/totp/confirm', { json: { code: code.value.trim() } });
      // A new session token carries the rights TOTP unlocks.
      await refreshSession();
      fill(area, h('p', {}, t('totp_done')));
      onChanged();
    } catch (error) {
      fill(message, error.message || t('error'));
      button.disabled = false;
    }
  }

  fill(
    area,
    me.totp_enabled
      ? h('p', {}, t('totp_is_on'))
      : h('button', { type: 'button', class: 'primary', name: 'totp-start', onclick: start }, t('totp_start')),
  );
  fill(root, h('section', { class: 'account' }, h('h1', {}, t('account')), message, h('h2', {}, t('totp_title')), area));
  return () => {};
}
