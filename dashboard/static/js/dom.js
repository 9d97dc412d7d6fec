// h builds an element: h('button', {class: 'btn', onclick: f}, 'Save').
// Text children become text nodes, never HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') { if ('defaultValue' in el) el.defaultValue = v; el.value = v; }
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// fill replaces the children of el, as h takes them (nested arrays, and
// null or false for nothing).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// toast shows a short message in the status region.
export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}` }, message);
  while (box.children.length >= 3) box.firstElementChild.remove();
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// confirmDialog asks a yes/no question in the page's <dialog> and resolves
// to true when the user confirms.
export function confirmDialog({ title, text, ok = 'Delete' }) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const okBtn = document.getElementById('confirm-ok');
  const cancelBtn = document.getElementById('confirm-cancel');
  okBtn.textContent = ok;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const done = (v) => {
      okBtn.removeEventListener('click', onOK);
      cancelBtn.removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onClose);
      if (dlg.open) dlg.close();
      if (opener && opener.isConnected) opener.focus();
      resolve(v);
    };
    const onOK = (e) => { e.preventDefault(); done(true); };
    const onCancel = (e) => { e.preventDefault(); done(false); };
    // Escape closes the dialog; a late close event of an earlier use finds
    // it open again, and is ignored.
    const onClose = () => { if (!dlg.open) done(false); };
    okBtn.addEventListener('click', onOK);
    cancelBtn.addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    cancelBtn.focus();
  });
}
