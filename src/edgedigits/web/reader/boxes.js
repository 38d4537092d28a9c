// Box geometry of the tracker and the reading order (runtime/boxes.py).

/** @typedef {import('./types.js').Box} Box */

/**
 * The area two boxes share.
 * @param {Box} a
 * @param {Box} b
 */
export function intersection(a, b) {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  return ix * iy;
}

/**
 * The smallest box holding every one of `boxes` (at least one).
 * @param {Box[]} boxes
 * @returns {Box}
 */
export function union(boxes) {
  const x0 = Math.min(...boxes.map((b) => b[0]));
  const y0 = Math.min(...boxes.map((b) => b[1]));
  const x1 = Math.max(...boxes.map((b) => b[0] + b[2]));
  const y1 = Math.max(...boxes.map((b) => b[1] + b[3]));
  return [x0, y0, x1 - x0, y1 - y0];
}

/**
 * Intersection over union of two boxes.
 * @param {Box} a
 * @param {Box} b
 */
export function iou(a, b) {
  const inter = intersection(a, b);
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
