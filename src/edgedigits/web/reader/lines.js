// Reading order and numbers (runtime/recognizer.py: group_lines, arrange, Recognition.to_json).
import { union } from './boxes.js';
import { SIZE } from './normalize.js';
import { round4 } from './numbers.js';

/** @typedef {import('./types.js').Box} Box */
/** @typedef {import('./types.js').Detection} Detection */
/** @typedef {import('./types.js').Line} Line */
/** @typedef {import('./types.js').Recognition} Recognition */
/** @typedef {{same_line_overlap: number, word_gap: number, cut_gap: number, word_letters: number}} LineParams  contract.reader.lines */

/** The label of a piece cut by the frame's border: never read, shown as "?" in its number's text. */
export const CUT = -1;
const CROP = SIZE * SIZE;

/**
 * Which of `found` (every read crop; `rejected[i]`: the model rejected it) sit in a word of letters:
 * grouped into words as numbers are, a word whose rejected marks are more than `word_letters` of it (the
 * o and l of "Total" go with the word). Each crop is judged by the model's own rejection first, so a word
 * is never what the rule itself made of it.
 * @param {Detection[]} found
 * @param {boolean[]} rejected
 * @param {LineParams} params
 * @returns {boolean[]}
 */
export function inLetterWords(found, rejected, params) {
  const out = found.map(() => false);
  if (params.word_letters >= 1 || !rejected.some(Boolean) || rejected.every(Boolean)) return out;
  const index = new Map(found.map((d, i) => [d, i]));
  for (const word of groupLines(found, params)) {
    const members = word.digits.map((d) => /** @type {number} */ (index.get(d)));
    if (members.filter((i) => rejected[i]).length / members.length > params.word_letters) {
      for (const i of members) out[i] = !rejected[i];
    }
  }
  return out;
}

/**
 * The crops at `indices` of a [N, 28, 28] array, in that order (numpy's `crops[indices]`).
 * @param {Float32Array} crops
 * @param {number[]} indices
 */
export function pickCrops(crops, indices) {
  const out = new Float32Array(indices.length * CROP);
  indices.forEach((i, k) => out.set(crops.subarray(i * CROP, (i + 1) * CROP), k * CROP));
  return out;
}

/**
 * Group digits into lines and put them, and their crops (crop i belongs to digits[i]), in reading order;
 * rejected marks (and their crops, if kept) pass through. A number holding one of the `cut` pieces goes
 * to `partial`, never to `lines`, so a digit half out of view is never read as another digit of a whole
 * number.
 * @param {Detection[]} digits
 * @param {Float32Array} crops  [digits.length, 28, 28]
 * @param {LineParams} params
 * @param {Detection[]} [rejected]
 * @param {Detection[]} [cut]
 * @param {Float32Array} [rejectedCrops]  [rejected.length or 0, 28, 28]
 * @returns {Recognition}
 */
export function arrange(digits, crops, params, rejected = [], cut = [], rejectedCrops = new Float32Array(0)) {
  const position = new Map(digits.map((d, i) => [d, i]));
  const grouped = groupLines([...digits, ...cut], params);
  const ordered = grouped.flatMap((line) => line.digits.filter((d) => d.label !== CUT));
  const isCut = (/** @type {Detection} */ d) => d.label === CUT;
  return {
    digits: ordered,
    lines: grouped.filter((ln) => !ln.digits.some(isCut)),
    partial: grouped.filter((ln) => ln.digits.some(isCut) && ln.digits.length > 1),
    rejected: [...rejected],
    cut: [...cut],
    crops: pickCrops(crops, ordered.map((d) => /** @type {number} */ (position.get(d)))),
    rejected_crops: rejectedCrops,
  };
}

/**
 * Reading order: text lines top to bottom, digits left to right, split into numbers at wide gaps.
 * Digits are taken left to right and each joins the line whose rightmost digit it overlaps most
 * vertically, so a line written along a tilted rule stays one line.
 * @param {Detection[]} digits
 * @param {LineParams} params
 * @returns {Line[]}
 */
export function groupLines(digits, params) {
  /** @type {Detection[][]} */
  const rows = [];
  for (const d of [...digits].sort((a, b) => a.box[0] - b.box[0])) {
    let best = -1;
    let most = -Infinity;
    rows.forEach((row, i) => {
      const overlap = vOverlap(d.box, row[row.length - 1].box);
      if (overlap > most) [best, most] = [i, overlap];  // the first of equals, as np.argmax
    });
    if (best >= 0 && most >= params.same_line_overlap) rows[best].push(d);
    else rows.push([d]);
  }
  const middle = (/** @type {Detection[]} */ row) => median(row.map((d) => d.box[1] + d.box[3] / 2));
  /** @type {Line[]} */
  const out = [];
  for (const row of rows.map((r) => ({ r, y: middle(r) })).sort((a, b) => a.y - b.y).map((e) => e.r)) {
    const read = row.some((d) => d.label !== CUT) ? row.filter((d) => d.label !== CUT) : row;  // a cut
    const meanH = read.reduce((s, d) => s + d.box[3], 0) / read.length;  // piece's height says nothing
    let group = [row[0]];
    for (const d of row.slice(1)) {
      const prev = group[group.length - 1];
      const gap = d.label === CUT || prev.label === CUT ? params.cut_gap : params.word_gap;
      if (d.box[0] - (prev.box[0] + prev.box[2]) > gap * meanH) {
        out.push(line(group));
        group = [];
      }
      group.push(d);
    }
    out.push(line(group));
  }
  return out;
}

/**
 * The recognition as `detect --json` writes it (Recognition.to_json): confidences to 4 decimals,
 * a line's votes and frames only when voted.
 * @param {Recognition} recognition
 */
export function toJson(recognition) {
  const detection = (/** @type {Detection} */ d) => ({ label: d.label, confidence: round4(d.confidence), box: [...d.box] });
  const number = (/** @type {Line} */ ln) => ({
    text: ln.text,
    box: [...ln.box],
    ...(ln.votes === undefined ? {} : { votes: ln.votes, frames: ln.frames }),
  });
  return {
    digits: recognition.digits.map(detection),
    lines: recognition.lines.map(number),
    partial: recognition.partial.map(number),
    rejected: recognition.rejected.map(detection),
  };
}

/**
 * Vertical overlap of two boxes, as a fraction of the shorter one.
 * @param {Box} a
 * @param {Box} b
 */
function vOverlap(a, b) {
  return (Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1])) / Math.min(a[3], b[3]);
}

/** @param {number[]} values */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * @param {Detection[]} group
 * @returns {Line}
 */
function line(group) {
  const text = group.map((d) => (d.label === CUT ? '?' : String(d.label))).join('');
  return { text, box: union(group.map((d) => d.box)), digits: group };
}
