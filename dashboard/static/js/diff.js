// A line diff: the longest common subsequence of two texts' lines.

const MAX_CELLS = 4e6;

// diffLines returns [{op: ' ' | '-' | '+', line}] turning a into b, or null
// when the texts are too large to compare.
export function diffLines(a, b) {
  const x = a === '' ? [] : a.split('\n');
  const y = b === '' ? [] : b.split('\n');
  // Trim the common head and tail, which is most of a typical edit.
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail);
  const ys = y.slice(head, y.length - tail);
  if ((xs.length + 1) * (ys.length + 1) > MAX_CELLS) return null;
  const n = xs.length;
  const m = ys.length;
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = xs[i] === ys[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const out = x.slice(0, head).map((line) => ({ op: ' ', line }));
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (xs[i] === ys[j]) { out.push({ op: ' ', line: xs[i] }); i++; j++; }
    else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) out.push({ op: '-', line: xs[i++] });
    else out.push({ op: '+', line: ys[j++] });
  }
  while (i < n) out.push({ op: '-', line: xs[i++] });
  while (j < m) out.push({ op: '+', line: ys[j++] });
  for (const line of x.slice(x.length - tail)) out.push({ op: ' ', line });
  return out;
}

// collapse keeps `context` unchanged lines around each change and replaces
// longer unchanged runs by {op: '…', count}.
export function collapse(diff, context = 3) {
  const keep = new Array(diff.length).fill(false);
  diff.forEach((d, i) => {
    if (d.op !== ' ') for (let k = Math.max(0, i - context); k <= Math.min(diff.length - 1, i + context); k++) keep[k] = true;
  });
  const out = [];
  let skipped = 0;
  diff.forEach((d, i) => {
    if (keep[i]) {
      if (skipped) out.push({ op: '…', count: skipped });
      skipped = 0;
      out.push(d);
    } else skipped++;
  });
  if (skipped) out.push({ op: '…', count: skipped });
  return out;
}
