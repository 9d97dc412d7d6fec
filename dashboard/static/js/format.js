// Formatting of sizes, durations, times and values.

export function formatBytes(n) {
  n = Number(n) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = -1;
  do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatCount(n) {
  return Number(n || 0).toLocaleString('en-US');
}

// formatTTL shows a TTL in seconds; 0 is "none".
export function formatTTL(s) {
  s = Number(s) || 0;
  if (s <= 0) return 'none';
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.slice(0, 2).join(' ');
}

const pad = (n) => String(n).padStart(2, '0');

// formatTime shows an RFC 3339 time in the browser's time zone.
export function formatTime(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function base64ToBytes(b64) {
  const bin = atob(b64 || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// decodeValue describes a value for display: kind is "json" when the bytes
// are UTF-8 text that parses as JSON, "text" when they are UTF-8, "binary"
// otherwise; text is what to show (pretty JSON, the text, or a hex dump)
// and editText the text an editor starts from.
export function decodeValue(bytes) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { kind: 'binary', text: hexDump(bytes), editText: toHex(bytes) };
  }
  if (/^\s*[[{"\d\-tfn]/.test(text)) {
    try {
      const v = JSON.parse(text);
      return { kind: 'json', text: JSON.stringify(v, null, 2), editText: text };
    } catch { /* not JSON */ }
  }
  return { kind: 'text', text, editText: text };
}

export function toHex(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i += 16) {
    out.push(Array.from(bytes.subarray(i, i + 16), (b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  return out.join('\n');
}

// parseHex reads hex digits, ignoring white space; it throws on anything else.
export function parseHex(s) {
  const clean = s.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error('hex: use pairs of hex digits (0-9, a-f), optionally separated by spaces');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

export function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

// preview is a one-line summary of a value, for lists.
export function preview(bytes, max = 60) {
  const d = decodeValue(bytes);
  let s = d.kind === 'binary' ? `${bytes.length} bytes of binary` : d.kind === 'json' ? JSON.stringify(JSON.parse(d.editText)) : d.text;
  s = s.replace(/\s+/g, ' ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

// highlightJSON returns nodes of pretty JSON text with its tokens wrapped
// in spans for colour.
export function highlightJSON(text) {
  const frag = document.createDocumentFragment();
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    const span = document.createElement('span');
    if (m[1]) {
      span.className = m[2] ? 'j-key' : 'j-str';
      span.textContent = m[1];
      frag.append(span);
      if (m[2]) frag.append(m[2]);
    } else {
      span.className = m[3] ? 'j-lit' : 'j-num';
      span.textContent = m[0];
      frag.append(span);
    }
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

// skipJSON returns the index just past the JSON value that starts at i
// (after white space) in text, which must be valid JSON.
function skipJSON(text, i) {
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 0) return i + 1;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && !/\s/.test(c)) {
      while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
      return i;
    }
  }
  return i;
}

// rawMember returns the text of the member name of the JSON object text, as
// written (numbers with every digit), or undefined when there is none.
export function rawMember(text, name) {
  JSON.parse(text); // throws on anything that is not JSON
  let i = text.indexOf('{');
  if (i < 0) return undefined;
  i++;
  for (;;) {
    while (/[\s,]/.test(text[i] || '')) i++;
    if (text[i] !== '"') return undefined;
    const end = skipJSON(text, i);
    const key = JSON.parse(text.slice(i, end));
    i = text.indexOf(':', end) + 1;
    while (/\s/.test(text[i])) i++;
    const vend = skipJSON(text, i);
    if (key === name) return text.slice(i, vend);
    i = vend;
  }
}

// prettyJSON indents the JSON text with two spaces, as JSON.stringify(v,
// null, 2) does, but keeps numbers and strings as written: a number beyond
// the precision of a double keeps every digit. It throws on text that is
// not JSON.
export function prettyJSON(text) {
  JSON.parse(text);
  const out = [];
  let indent = 0;
  const nl = () => '\n' + '  '.repeat(indent);
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"') {
      const end = skipJSON(text, i);
      out.push(text.slice(i, end));
      i = end;
    } else if (c === '{' || c === '[') {
      let j = i + 1;
      while (/\s/.test(text[j])) j++;
      if (text[j] === (c === '{' ? '}' : ']')) { out.push(c === '{' ? '{}' : '[]'); i = j + 1; continue; }
      indent++;
      out.push(c + nl());
      i++;
    } else if (c === '}' || c === ']') {
      indent--;
      out.push(nl() + c);
      i++;
    } else if (c === ',') {
      out.push(',' + nl());
      i++;
    } else if (c === ':') {
      out.push(': ');
      i++;
    } else {
      const end = skipJSON(text, i);
      out.push(text.slice(i, end));
      i = end;
    }
  }
  return out.join('');
}

// jsonKind names the JSON type of a parsed value, as the server's messages
// do.
export function jsonKind(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' ? 'number' : typeof v;
}
