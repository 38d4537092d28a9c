// The Reader's classification (reader.js): softmax, the shifted re-reads of doubtful crops, labels and
// rejection read from the contract. The model is a stand-in Predict whose answers are known.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SIZE, toMnist } from '../../src/edgedigits/web/reader/normalize.js';
import { Reader, softmax } from '../../src/edgedigits/web/reader/reader.js';

/** @typedef {import('../../src/edgedigits/web/reader/types.js').Box} Box */
/** @typedef {import('../../src/edgedigits/web/reader/reader.js').Contract} Contract */

/** @returns {Contract} a contract as runtime/settings.py writes it, its values chosen for these tests */
const contract = () => ({
  labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  image_size: 28,
  reject: { score: 'max_softmax', threshold: 0.5 },
  reader: {
    segment: /** @type {import('../../src/edgedigits/web/reader/segment.js').SegmentParams} */ ({}),  // read() skips it
    normalize: { fit_px: 20, min_stroke_px: 1.8 },
    lines: { same_line_overlap: 0.5, word_gap: 0.9, cut_gap: 0.5, word_letters: 0.5 },
    classify: { vote_below: 0.98, min_confidence: 0, shifts: [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]] },
    tracker: {
      window: 7, min_iou: 0.3, max_missed: 5, switch_ratio: 1.5, number_switch: null, number_window: null,
      max_shift_px: 160, size_ratio: 0.35, bin_frac: 0.25, min_bin_px: 3, inlier_bins: 1.5, join_inside: 0.8,
      reject_vote: 0.5,
    },
  },
});

/**
 * Logits whose softmax gives `top` to class k and shares the rest evenly.
 * @param {number} k
 * @param {number} top
 */
const logits = (k, top) => Array.from({ length: 10 }, (_, c) => Math.log(c === k ? top : (1 - top) / 9));

/**
 * A stand-in model answering each call with the next rows of `answers` ([class, probability] per
 * crop, or one answer for every crop of that call), and keeping the batches it was given.
 * @param {([number, number][] | [number, number])[]} answers
 */
const model = (answers) => {
  /** @type {{batch: Float32Array, n: number}[]} */
  const calls = [];
  /** @type {import('../../src/edgedigits/web/reader/types.js').Predict} */
  const predict = async (batch, n) => {
    const answer = answers[calls.length];
    calls.push({ batch: batch.slice(), n });
    const rows = typeof answer[0] === 'number' ? Array(n).fill(answer) : answer;
    return Float32Array.from(/** @type {[number, number][]} */ (rows).flatMap(([k, p]) => logits(k, p)));
  };
  return { predict, calls };
};

/** Blobs of upright bars at x = 0, 40, ... on one line. @param {number} n */
const blobs = (n) => {
  const ink = { data: new Uint8Array(8 * 30).fill(255), width: 8, height: 30 };
  return { boxes: Array.from({ length: n }, (_, i) => /** @type {Box} */ ([40 * i, 10, 8, 30])), inks: Array(n).fill(ink), cut: [] };
};

test('softmax of known logits, row by row, safe from overflow', () => {
  const [a, b] = softmax(Float32Array.from([0, Math.log(3), 1000, 1000]), 2);
  assert.ok(Math.abs(a[0] - 0.25) < 1e-7 && Math.abs(a[1] - 0.75) < 1e-7);
  assert.deepEqual([...b], [0.5, 0.5]);
});

test('the rejection rule is read from the contract', async () => {
  /** @param {Contract} c */
  const read = async (c) => (await new Reader(c, model([[3, 0.55], [3, 0.55]]).predict).read(blobs(1)));
  const kept = await read(contract());
  assert.deepEqual(kept.digits.map((d) => d.label), [3]);
  assert.ok(Math.abs(kept.digits[0].confidence - 0.55) < 1e-6);
  assert.deepEqual(kept.lines.map((ln) => ln.text), ['3']);
  const strict = contract();
  strict.reject.threshold = 0.6;
  const rejected = await read(strict);
  assert.deepEqual([rejected.digits, rejected.lines], [[], []]);
  assert.deepEqual(rejected.rejected.map((d) => [d.label, d.box]), [[3, [0, 10, 8, 30]]]);
  const none = contract();
  none.reject = { score: 'none', threshold: 0.6 };
  assert.deepEqual((await read(none)).digits.map((d) => d.label), [3]);
  const unsure = contract();
  unsure.reader.classify.min_confidence = 0.6;  // below it: neither a digit nor a rejected mark
  const dropped = await read(unsure);
  assert.deepEqual([dropped.digits, dropped.rejected], [[], []]);
});

test('labels come from the contract', async () => {
  const c = contract();
  c.labels.reverse();
  const out = await new Reader(c, model([[3, 0.99]]).predict).read(blobs(1));
  assert.deepEqual(out.digits.map((d) => d.label), [6]);
});

test('doubtful crops are read again shifted one pixel four ways, in one batch, and averaged', async () => {
  const { predict, calls } = model([[[1, 0.99], [3, 0.55], [7, 0.999]], [8, 0.9]]);
  const out = await new Reader(contract(), predict).read(blobs(3));
  assert.deepEqual(calls.map((c) => c.n), [3, 4]);  // one batch of the four shifts of the one doubtful crop
  const crop = toMnist(blobs(1).inks[0], contract().reader.normalize);
  assert.deepEqual(calls[0].batch.subarray(SIZE * SIZE, 2 * SIZE * SIZE), crop);
  const down = calls[1].batch.subarray(0, SIZE * SIZE);  // shifts[1] = [1, 0]: one row down, wrapping
  crop.forEach((v, i) => assert.equal(down[(i + SIZE) % (SIZE * SIZE)], v));
  assert.deepEqual(out.digits.map((d) => d.label), [1, 8, 7]);
  assert.ok(Math.abs(out.digits[1].confidence - (0.05 + 4 * 0.9) / 5) < 1e-6);  // its own reading gave 8 0.05
  assert.ok(Math.abs(out.digits[0].confidence - 0.99) < 1e-6);  // sure crops keep their one reading
});

test('a contract this reader cannot follow is refused', () => {
  const { predict } = model([]);
  const odd = contract();
  odd.reject.score = 'energy';
  assert.throws(() => new Reader(odd, predict), /energy/);
  assert.throws(() => new Reader({ ...contract(), image_size: 32 }, predict), /32px/);
});
