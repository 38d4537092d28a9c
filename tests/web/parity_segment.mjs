// The browser segmenter against the Python one on the cases of `python tools/web_cases.py DIR`:
//   node tests/web/parity_segment.mjs DIR
// prints one JSON object: per case, per page kind and in total, the fraction of pixels equal to
// Python's (thresholded and ink masks; clean mask from Python's ink mask, and chained from the JS one), and how many
// Python boxes a JS box matches at IoU >= 0.9 and the reverse, and how many are the very same box (blobs
// and cut pieces, from Python's clean mask, and chained from the JS one).
import { readCases, readContract } from './cases.mjs';
import { findBlobs, openSpecks, removeRules, thresholded } from '../../src/edgedigits/web/reader/segment.js';

const MIN_IOU = 0.9;
const POLARITY = 'dark-on-light';  // the Python reader's default, which web_cases.py reads with

/** @typedef {import('../../src/edgedigits/web/reader/types.js').Box} Box */
/** @typedef {import('../../src/edgedigits/web/reader/types.js').Plane} Plane */
/** @typedef {{equal: number, pixels: number}} Pixels */
/** @typedef {{py: number, js: number, py_matched: number, js_matched: number, same: number}} Boxes */

/** @param {Box} a @param {Box} b */
function iou(a, b) {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  const inter = Math.max(0, w) * Math.max(0, h);
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/** @param {Box[]} py @param {Box[]} js @returns {Boxes} */
function matchBoxes(py, js) {
  /** @param {Box[]} from @param {Box[]} to */
  const matched = (from, to) => from.filter((a) => to.some((b) => iou(a, b) >= MIN_IOU)).length;
  const same = py.filter((a) => js.some((b) => a.every((v, i) => v === b[i]))).length;
  return { py: py.length, js: js.length, py_matched: matched(py, js), js_matched: matched(js, py), same };
}

/** @param {Plane} a @param {Plane} b @returns {Pixels} */
function samePixels(a, b) {
  let equal = 0;
  for (let i = 0; i < a.data.length; i++) equal += +(a.data[i] === b.data[i]);
  return { equal, pixels: a.data.length };
}

const PIXELS = ['raw', 'ink', 'clean', 'clean_chain'];
const BOXES = ['boxes', 'boxes_chain', 'cut', 'cut_chain'];

/** Fractions of summed counts (1 where there is nothing to match). @param {Record<string, any>[]} rows */
function summary(rows) {
  /** @type {Record<string, any>} */
  const out = { cases: rows.length };
  for (const key of PIXELS) {
    const sum = (/** @type {keyof Pixels} */ f) => rows.reduce((s, r) => s + r[key][f], 0);
    out[key] = sum('equal') / sum('pixels');
  }
  for (const key of BOXES) {
    const sum = (/** @type {keyof Boxes} */ f) => rows.reduce((s, r) => s + r[key][f], 0);
    out[key] = {
      py: sum('py'),
      js: sum('js'),
      py_matched: sum('py_matched') / Math.max(sum('py'), 1) || +(sum('py') === 0),
      js_matched: sum('js_matched') / Math.max(sum('js'), 1) || +(sum('js') === 0),
      same: sum('same') / Math.max(sum('py'), 1) || +(sum('py') === 0),
    };
  }
  return out;
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: node tests/web/parity_segment.mjs CASES_DIR');
const seg = readContract(dir).reader.segment;
/** @type {Record<string, Record<string, any>>} */
const cases = {};
for (const c of readCases(dir)) {
  const raw = thresholded(c.gray, POLARITY, seg);
  const mask = openSpecks(raw, seg);
  const clean = removeRules(c.mask, seg);
  const chain = removeRules(mask, seg);
  const blobs = findBlobs(c.clean, seg, c.raw);
  const chained = findBlobs(chain, seg, raw);
  cases[c.name] = {
    raw: samePixels(raw, c.raw),
    ink: samePixels(mask, c.mask),
    clean: samePixels(clean, c.clean),
    clean_chain: samePixels(chain, c.clean),
    boxes: matchBoxes(c.boxes, blobs.boxes),
    boxes_chain: matchBoxes(c.boxes, chained.boxes),
    cut: matchBoxes(c.cut, blobs.cut),
    cut_chain: matchBoxes(c.cut, chained.cut),
  };
}
const rows = Object.entries(cases);
const kinds = [...new Set(rows.map(([name]) => name.split('-')[0]))];
const report = {
  cases: Object.fromEntries(rows.map(([name, r]) => [name, summary([r])])),
  kinds: Object.fromEntries(kinds.map((k) => [k, summary(rows.filter(([n]) => n.startsWith(`${k}-`)).map(([, r]) => r))])),
  total: summary(rows.map(([, r]) => r)),
};
console.log(JSON.stringify(report, null, 1));
