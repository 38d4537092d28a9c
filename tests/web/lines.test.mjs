// Reading order, numbers and the JSON shape (lines.js), with known answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CUT, arrange, groupLines, inLetterWords, toJson } from '../../src/edgedigits/web/reader/lines.js';
import { round4 } from '../../src/edgedigits/web/reader/numbers.js';

const params = { same_line_overlap: 0.5, word_gap: 0.9, cut_gap: 0.5, word_letters: 0.5 };
/** @typedef {import('../../src/edgedigits/web/reader/types.js').Detection} Detection */
/**
 * A 20x30 digit at (x, y).
 * @param {number} label
 * @param {number} x
 * @param {number} [y]
 * @returns {Detection}
 */
const digit = (label, x, y = 100) => ({ label, confidence: 0.9, box: [x, y, 20, 30] });

test('two lines, top to bottom and left to right, whatever the input order', () => {
  const lines = groupLines([digit(4, 60, 200), digit(2, 25, 100), digit(3, 25, 203), digit(1, 0, 100)], params);
  assert.deepEqual(lines.map((ln) => ln.text), ['12', '34']);
  assert.deepEqual(lines[0].box, [0, 100, 45, 30]);
  assert.deepEqual(lines[1].box, [25, 200, 55, 33]);
});

test('a gap wider than word_gap mean heights splits a number', () => {
  // gaps of 5 px, then 28 px (> 0.9 * 30 = 27): "12" and "3"
  const lines = groupLines([digit(1, 0), digit(2, 25), digit(3, 73)], params);
  assert.deepEqual(lines.map((ln) => ln.text), ['12', '3']);
  assert.deepEqual(groupLines([digit(1, 0), digit(2, 25), digit(3, 71)], params).map((ln) => ln.text), ['123']);
});

test('a cut piece makes its number partial, only within cut_gap of it', () => {
  const number = [digit(1, 0), digit(2, 25)];
  const crops = new Float32Array(2 * 784);
  /** @param {number} x */
  const piece = (x) => /** @type {Detection} */ ({ label: CUT, confidence: 0, box: [x, 100, 6, 30] });
  const near = arrange(number, crops, params, [], [piece(45 + 14)]);  // 14 px <= 0.5 * 30
  assert.deepEqual(near.lines, []);
  assert.deepEqual(near.partial.map((ln) => ln.text), ['12?']);
  assert.deepEqual(near.digits.map((d) => d.label), [1, 2]);  // the cut piece is never a digit
  const far = arrange(number, crops, params, [], [piece(45 + 16)]);  // 16 px > 15: another mark
  assert.deepEqual(far.lines.map((ln) => ln.text), ['12']);
  assert.deepEqual(far.partial, []);  // a cut piece alone is no number
  assert.deepEqual(far.cut.map((d) => d.box[0]), [61]);
});

test('arrange puts the crops in reading order', () => {
  const crops = new Float32Array(2 * 784);
  crops[0] = 1;  // digits[0]'s crop
  crops[784] = 2;
  const out = arrange([digit(7, 50), digit(3, 0)], crops, params);
  assert.deepEqual(out.digits.map((d) => d.label), [3, 7]);
  assert.equal(out.crops[0], 2);
  assert.equal(out.crops[784], 1);
});

test('toJson: the keys and rounding of Recognition.to_json, votes only when voted', () => {
  const out = arrange([{ label: 5, confidence: 0.123456789, box: [1, 2, 20, 30] }], new Float32Array(784), params,
    [{ label: 8, confidence: 0.03125, box: [90, 2, 20, 30] }]);
  const json = toJson(out);
  assert.deepEqual(Object.keys(json), ['digits', 'lines', 'partial', 'rejected']);
  assert.deepEqual(json.digits, [{ label: 5, confidence: 0.1235, box: [1, 2, 20, 30] }]);
  assert.deepEqual(json.lines, [{ text: '5', box: [1, 2, 20, 30] }]);
  assert.deepEqual(json.rejected, [{ label: 8, confidence: 0.0312, box: [90, 2, 20, 30] }]);  // a tie: to even
  const voted = toJson({ ...out, lines: [{ ...out.lines[0], votes: 3, frames: 4 }] });
  assert.deepEqual(voted.lines, [{ text: '5', box: [1, 2, 20, 30], votes: 3, frames: 4 }]);
});

test("round4 is Python's round(x, 4)", () => {
  // ties (odd multiples of 1/32) go to the even digit; the rest to the decimal nearest x's exact value
  // (0.12475 is 0.124749999... as a double, where Math.round(x * 1e4) / 1e4 gives 0.1248)
  assert.deepEqual([0.03125, 0.09375, 0.15625, 0.21875].map(round4), [0.0312, 0.0938, 0.1562, 0.2188]);
  assert.deepEqual([0.12475, 0.62805, 0.99995, 0.12345, 1, 0].map(round4), [0.1247, 0.628, 1, 0.1235, 1, 0]);
});

test('digit-like letters in a word of rejected marks are rejected too; a mark beside a number is not a word', () => {
  /** @param {number[]} labels @param {number} x @param {number} y */
  const row = (labels, x, y) => labels.map((label, i) => ({ label, confidence: 0.9, box: /** @type {[number, number, number, number]} */ ([x + 30 * i, y, 25, 40]) }));
  const found = [...row([7, 0, 7, 4, 1], 0, 0), ...row([2, 4], 300, 0), ...row([5, 2, 5], 0, 100), ...row([4, 3], 0, 200)];
  const rejected = found.map((_, i) => [0, 2, 3, 7, 10].includes(i));  // "Total": T, t, a; "$25": $; "x3": x
  const words = inLetterWords(found, rejected, params);
  assert.deepEqual(words.flatMap((w, i) => (w ? [i] : [])), [1, 4]);  // the o and the l only
  assert.ok(!inLetterWords(found, rejected, { ...params, word_letters: 1 }).some(Boolean));  // the rule off
});
