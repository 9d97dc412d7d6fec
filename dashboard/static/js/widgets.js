// Pieces shared by the views: the rendered line diff, the conflict box of
// the KV and Config editors, field errors, and the environment picker of
// the Config and Secrets pages.
import { h, fill } from './dom.js';
import { collapse, diffLines } from './diff.js';
import { formatTime } from './format.js';

// renderDiff shows a diffLines result; first says the diff is the first
// revision's (against nothing).
export function renderDiff(diff, first) {
  if (!diff) return h('p', { class: 'muted small' }, 'Too large to compare.');
  if (diff.length === 0) return h('p', { class: 'muted small' }, first ? '(empty value)' : 'No change.');
  const pre = h('pre', { class: 'diff', tabindex: '0', 'aria-label': first ? 'First revision' : 'Changes from the previous revision' });
  for (const d of collapse(diff)) {
    if (d.op === '…') pre.append(h('span', { class: 'dl dl-skip' }, `⋯ ${d.count} unchanged line${d.count === 1 ? '' : 's'}`));
    else pre.append(h('span', { class: `dl ${d.op === '+' ? 'dl-add' : d.op === '-' ? 'dl-del' : ''}` }, h('span', { class: 'sign', 'aria-hidden': 'true' }, d.op), d.op === '+' ? h('span', { class: 'visually-hidden' }, 'added: ') : d.op === '-' ? h('span', { class: 'visually-hidden' }, 'removed: ') : null, d.line || ' '));
  }
  return pre;
}

// fieldError shows message in the error element el of a field, and marks
// its control invalid.
export function fieldError(el, control, message) {
  el.textContent = message;
  el.hidden = false;
  if (control) control.setAttribute('aria-invalid', 'true');
}

// clearFieldError hides the error of a field.
export function clearFieldError(el, control) {
  el.hidden = true;
  el.textContent = '';
  if (control) control.removeAttribute('aria-invalid');
}

// showConflict fills box with what a 412 on save means: someone else wrote
// the thing (noun: "key", "document") after the editor loaded revision
// loaded. now is its current {revision, time} or null when it has since
// been deleted; current is its current text and mine the edit's (null when
// it cannot be shown). onReload drops the edit; onOverwrite writes it again,
// conditionally on now.
export function showConflict(box, { noun, loaded, now, current, mine, timeVerb = 'written', onReload, onOverwrite }) {
  const cmp = current !== null && mine !== null ? diffLines(current, mine) : null;
  fill(box,
    h('h3', {}, `Someone else changed this ${noun}`),
    h('p', { id: 'conflict-message' }, now
      ? `Your edit was not saved: you loaded revision ${loaded}, but the ${noun} is now at revision ${now.revision} (${timeVerb} ${formatTime(now.time)}).`
      : `Your edit was not saved: you loaded revision ${loaded}, but the ${noun} has since been deleted.`),
    current !== null ? [h('p', { class: 'small' }, 'Its current value:'), h('pre', { class: 'value', id: 'conflict-value', tabindex: '0' }, current)] : null,
    cmp ? h('details', { class: 'compare' }, h('summary', {}, 'Compare it with my edit'), renderDiff(cmp, false)) : null,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn', id: 'conflict-reload', onclick: onReload }, 'Reload (discard my edit)'),
      h('button', { type: 'button', class: 'btn btn-danger', id: 'conflict-overwrite', onclick: onOverwrite },
        now ? `Overwrite revision ${now.revision} with my edit` : 'Create it again with my edit')));
  box.hidden = false;
  box.querySelector('#conflict-reload').focus();
}

// envPicker is the environment field of the Config and Secrets pages: a
// text field (the X-Ironflow-Environment of every call) that calls
// onChange(env) when submitted. error(message) shows the server's
// complaint about it.
export function envPicker({ env, onChange }) {
  const input = h('input', {
    id: 'env-input', type: 'text', value: env, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'env-hint env-error', placeholder: 'default',
  });
  const error = h('p', { class: 'field-error', id: 'env-error', role: 'alert', hidden: true });
  const form = h('form', {
    class: 'env-form', id: 'env-form',
    onsubmit: (e) => { e.preventDefault(); onChange(input.value.trim() || 'default'); },
  },
  h('label', { for: 'env-input' }, 'Environment'),
  h('div', { class: 'inline' }, input, h('button', { type: 'submit', class: 'btn', id: 'env-apply' }, 'Switch')),
  h('p', { class: 'hint', id: 'env-hint' }, 'Sent as the X-Ironflow-Environment header.'),
  error);
  return {
    el: form,
    input,
    error: (message) => fieldError(error, input, message),
    clear: () => clearFieldError(error, input),
  };
}
