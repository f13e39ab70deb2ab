// Staff sign-in: username and password, then the TOTP code when the account has one.

import { ApiError, signIn } from './api.js';
import { fill, h } from './dom.js';
import { t } from './i18n.js';

/** Shows the sign-in form in `root`; `onSignedIn` runs once the session is kept. */
export function showSignIn(root, { notice, onSignedIn }) {
  const message = h('p', { class: 'message', role: 'alert' }, notice || '');
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const code = h('input', {
    name: 'totp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    maxlength: 6,
  });
  const codeRow = h('label', { hidden: true }, t('totp'), code);
  const submit = h('button', { type: 'submit', class: 'primary' }, t('sign_in'));
  const form = h(
    'form',
    { class: 'sign-in', onsubmit: (event) => attempt(event) },
    h('h1', {}, t('title')),
    message,
    h('label', {}, t('username'), username),
    h('label', {}, t('password'), password),
    codeRow,
    submit,
  );

  async function attempt(event) {
    event.preventDefault();
    submit.disabled = true;
    try {
      await signIn(username.value.trim(), password.value, code.value.trim() || undefined);
      onSignedIn();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'totp_required') {
        codeRow.hidden = false;
        code.required = true;
        fill(message, t('totp_needed'));
        code.focus();
      } else {
        fill(message, error.message || t('error'));
      }
    } finally {
      submit.disabled = false;
    }
  }

  fill(root, h('main', { class: 'centred' }, form));
  username.focus();
}
