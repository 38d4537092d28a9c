// Box geometry of the tracker (runtime/boxes.py).

/** @typedef {import('./types.js').Box} Box */

/**
 * Intersection over union of two boxes.
 * @param {Box} a
 * @param {Box} b
 */
export function iou(a, b) {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  return inter ? inter / (a[2] * a[3] + b[2] * b[3] - inter) : 0;
}

/**
 * Greedy one-to-one matching by IoU, best pairs first (ties: the higher indices first, as Python's
 * reverse-sorted tuples): [index in a, index in b] pairs overlapping by at least minIou, best first.
 * @param {Box[]} a
 * @param {Box[]} b
 * @param {number} minIou
 * @returns {[number, number][]}
 */
export function greedyMatches(a, b, minIou) {
  /** @type {[number, number, number][]} */
  const pairs = [];
  a.forEach((x, i) => b.forEach((y, j) => {
    const overlap = iou(x, y);
    if (overlap >= minIou) pairs.push([overlap, i, j]);
  }));
  pairs.sort((p, q) => q[0] - p[0] || q[1] - p[1] || q[2] - p[2]);
  const usedA = new Set(), usedB = new Set();
  /** @type {[number, number][]} */
  const out = [];
  for (const [, i, j] of pairs) {
    if (usedA.has(i) || usedB.has(j)) continue;
    usedA.add(i);
    usedB.add(j);
    out.push([i, j]);
  }
  return out;
}
