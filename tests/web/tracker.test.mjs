// Box matching and the video stabilizer (boxes.js, tracker.js), with known answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { greedyMatches, iou } from '../../src/edgedigits/web/reader/boxes.js';
import { arrange } from '../../src/edgedigits/web/reader/lines.js';
import { LabelStabilizer, estimateShift } from '../../src/edgedigits/web/reader/tracker.js';

/** @typedef {import('../../src/edgedigits/web/reader/types.js').Box} Box */
const lines = { same_line_overlap: 0.5, word_gap: 0.9, cut_gap: 0.5, word_letters: 0.5 };
const tracker = {
  window: 7, min_iou: 0.3, max_missed: 5, switch_ratio: 1.5, number_switch: null, number_window: null,
  max_shift_px: 160, size_ratio: 0.35, bin_frac: 0.25, min_bin_px: 3, inlier_bins: 1.5, join_inside: 0.8,
  reject_vote: 0.5,
};
const SHIFT = tracker;  // estimateShift reads its own keys of the tracker's settings
/**
 * One frame's recognition of digits (label, x) on one line at y, 20x30 each.
 * @param {[number, number][]} digits
 * @param {number} [y]
 */
const frame = (digits, y = 100) => arrange(
  digits.map(([label, x]) => ({ label, confidence: 0.9, box: /** @type {Box} */ ([x, y, 20, 30]) })),
  new Float32Array(digits.length * 784), lines,
);
/** A number 7359 at x, its digits 25 px apart. @param {number} x @param {number[]} [labels] */
const number = (x, labels = [7, 3, 5, 9]) => frame(labels.map((label, i) => [label, x + 25 * i]));

test('iou of known boxes', () => {
  assert.equal(iou([0, 0, 10, 10], [5, 0, 10, 10]), 50 / 150);
  assert.equal(iou([0, 0, 10, 10], [10, 0, 10, 10]), 0);
});

test('greedyMatches: best pairs first, ties to the higher indices (as Python)', () => {
  assert.deepEqual(greedyMatches([[0, 0, 10, 10], [0, 0, 10, 10]], [[0, 0, 10, 10]], 0.3), [[1, 0]]);
  assert.deepEqual(greedyMatches([[0, 0, 10, 10]], [[0, 0, 10, 10], [0, 0, 10, 10]], 0.3), [[0, 1]]);
  assert.deepEqual(greedyMatches([[0, 0, 10, 10], [20, 0, 10, 10]], [[21, 0, 10, 10], [2, 0, 10, 10]], 0.3), [[1, 0], [0, 1]]);
  assert.deepEqual(greedyMatches([[0, 0, 10, 10]], [[8, 0, 10, 10]], 0.3), []);  // IoU 0.11 is no match
});

test('a digit read 7, 7, 1, 7 stays 7', () => {
  const s = new LabelStabilizer(tracker, lines);
  const shown = [7, 7, 1, 7].map((label) => s.update(frame([[label, 50]])).digits[0].label);
  assert.deepEqual(shown, [7, 7, 7, 7]);
  // another label takes over once its votes reach switch_ratio times the shown one's: of the last 7
  // frames, 3 ones against 3 sevens, 4 against 3, then 5 against 2
  const later = [1, 1, 1, 1].map((label) => s.update(frame([[label, 50]])).digits[0].label);
  assert.deepEqual(later, [7, 7, 7, 1]);
});

test("a number's text stays put while a digit wavers or drops out for a frame; votes and frames say so", () => {
  const s = new LabelStabilizer(tracker, lines);
  const read = [[7, 3, 5, 9], [7, 3, 5, 9], [7, 3, 5, 9], [7, 3, 6, 9], [7, 3, 5, 9]].map((labels) => s.update(number(100, labels)).lines);
  assert.deepEqual(read.map((ls) => ls.map((ln) => ln.text)), [['7359'], ['7359'], ['7359'], ['7359'], ['7359']]);
  // the digit's own track out-votes the 6, so every frame read the text shown
  assert.deepEqual(read.map((ls) => [ls[0].votes, ls[0].frames]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
  // the 3 missing: a 30 px gap splits "7" and "59"; joined again as "759", which the number's votes outweigh
  const gap = frame([[7, 100], [5, 150], [9, 175]]);
  assert.deepEqual(gap.lines.map((ln) => ln.text), ['7', '59']);
  const voted = s.update(gap).lines;
  assert.deepEqual(voted.map((ln) => [ln.text, ln.votes, ln.frames]), [['7359', 5, 6]]);
});

test('estimateShift: the translation most like-sized box pairs agree on', () => {
  /** @type {Box[]} */
  const before = [[0, 0, 20, 30], [40, 0, 20, 30], [80, 5, 20, 30], [300, 300, 60, 10]];
  /** @type {Box[]} */
  const after = before.map(([x, y, w, h]) => [x + 37, y - 12, w, h]);
  assert.deepEqual(estimateShift(before, after, SHIFT), [37, -12, 4]);
  assert.deepEqual(estimateShift(before.slice(0, 1), after.slice(0, 1), SHIFT), [0, 0, 1]);  // one pair: no estimate
  assert.deepEqual(estimateShift(before, after, { ...SHIFT, max_shift_px: 10 }), [0, 0, 0]);  // beyond max_shift_px
});

test("tracks survive a pan faster than a digit's width", () => {
  const s = new LabelStabilizer(tracker, lines);
  for (let t = 0; t < 3; t++) s.update(number(100 + 40 * t));
  // the camera moves 40 px a frame (no overlap with the last frame's boxes) and one digit misreads
  const panned = s.update(number(220, [7, 3, 6, 9]));
  assert.deepEqual(s.shift, [40, 0]);
  assert.deepEqual(panned.digits.map((d) => d.label), [7, 3, 5, 9]);
  assert.deepEqual([panned.lines[0].text, panned.lines[0].votes, panned.lines[0].frames], ['7359', 4, 4]);
});

test('a track is dropped after max_missed frames without its digit', () => {
  /** @param {number} missed  frames without the digit before it is read as 1 */
  const after = (missed) => {
    const s = new LabelStabilizer(tracker, lines);
    for (let t = 0; t < 3; t++) s.update(frame([[7, 50]]));
    for (let t = 0; t < missed; t++) s.update(frame([]));
    return s.update(frame([[1, 50]])).digits[0].label;
  };
  assert.equal(after(tracker.max_missed), 7);  // still its track: 3 sevens out-vote one 1
  assert.equal(after(tracker.max_missed + 1), 1);  // dropped: a new track
});

/** @typedef {import('../../src/edgedigits/web/reader/types.js').Detection} Detection */
/**
 * One frame's reading as the reader returns it, with a crop per digit and per rejected mark.
 * @param {LabelStabilizer} s
 * @param {Detection[]} digits
 * @param {Detection[]} marks
 */
function tracked(s, digits, marks) {
  const out = s.update({
    ...frame([]), digits, rejected: marks,
    crops: new Float32Array(digits.length * 784), rejected_crops: new Float32Array(marks.length * 784),
  });
  assert.equal(out.crops.length, out.digits.length * 784);
  assert.equal(out.rejected_crops.length, out.rejected.length * 784);
  assert.equal(out.digits.length + out.rejected.length, digits.length + marks.length);  // never lost
  return out;
}

/**
 * Twelve frames of "41" with a mark just right of it that the model rejects but for the frames in
 * `readAsDigit` (an 8 at 0.5); the texts shown, by the digits' own votes.
 * @param {Set<number>} readAsDigit
 * @param {number} rejectVote
 */
function beside41(readAsDigit, rejectVote) {
  const s = new LabelStabilizer({ ...tracker, reject_vote: rejectVote }, lines);
  s.voteNumbers = (ls) => ls;  // the digits' own votes
  return Array.from({ length: 12 }, (_, k) => {
    const digits = frame([[4, 50 + (k % 2)], [1, 90 + (k % 2)]]).digits;
    /** @type {Detection} */
    const mark = { label: 8, confidence: readAsDigit.has(k) ? 0.5 : 0.2, box: [136 + (k % 2), 100, 20, 30] };
    const out = readAsDigit.has(k) ? tracked(s, [...digits, mark], []) : tracked(s, digits, [mark]);
    return out.lines.map((ln) => ln.text).join(' ');
  });
}

test('a mark read as a digit now and then stays out of the number; one read in most frames stays in', () => {
  assert.deepEqual(beside41(new Set([4, 5, 9]), 0.5), Array(12).fill('41'));
  assert.equal(beside41(new Set([4, 5, 9]), 0)[4], '418');  // the check above can fail
  const mostly = new Set([...Array(12).keys()].filter((k) => k !== 3 && k !== 7));
  assert.deepEqual(beside41(mostly, 0.5), Array(12).fill('418'));
  assert.equal(beside41(mostly, 0)[3], '41');
});

test('a digit rejected for a frame keeps its place and label', () => {
  /** @param {number} rejectVote */
  const shown = (rejectVote) => {
    const s = new LabelStabilizer({ ...tracker, reject_vote: rejectVote }, lines);
    return [0, 1, 2, 3, 4, 5].map((k) => {
      /** @type {Detection} */
      const seven = { label: k === 2 ? 1 : 7, confidence: k === 2 ? 0.2 : 0.9, box: [50, 100, 20, 30] };
      const out = k === 0 || k === 2 ? tracked(s, [], [seven]) : tracked(s, [seven], []);
      if (k === 2 && rejectVote) assert.deepEqual([out.digits[0].label, out.rejected.length], [7, 0]);
      return out.lines.map((ln) => ln.text).join(' ');
    });
  };
  assert.deepEqual(shown(0.5), ['', '7', '7', '7', '7', '7']);
  assert.deepEqual(shown(0), ['', '7', '', '7', '7', '7']);
});

test('estimateShift: among equally supported shifts, the smallest motion', () => {
  /** @type {Box[]} */
  const before = [[50, 100, 20, 30], [90, 100, 20, 30], [136, 100, 20, 30]];
  /** @type {Box[]} */
  const after = [[51, 100, 20, 30], [91, 100, 20, 30]];  // two pairs agree on +1, two on about -42
  assert.deepEqual(estimateShift(before, after, SHIFT), [1, 0, 2]);
});

test('the contract tunables are checked', () => {
  assert.throws(() => new LabelStabilizer({ ...tracker, reject_vote: -1 }, lines));
  assert.throws(() => new LabelStabilizer({ ...tracker, switch_ratio: 0.5 }, lines));
  assert.throws(() => new LabelStabilizer({ ...tracker, min_iou: 0 }, lines));
});
