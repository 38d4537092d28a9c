// Unit tests of the browser segmenter on small synthetic planes with known answers (node --test tests/web/).
// Parity with the Python segmenter on generated pages: tests/web/parity_segment.mjs (tests/test_web_segment.py).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findBlobs, openSpecks, removeRules, resolvePolarity, thresholded, toGrayRGBA } from '../../src/edgedigits/web/reader/segment.js';

/** @typedef {import('../../src/edgedigits/web/reader/types.js').Plane} Plane */

// the Python defaults (SegmentParams and segment.py's constants) at the time of writing: these tests pin
// behaviour under known settings, the parity test reads the real ones from contract.json
const SEG = {
  blur_ksize: 3, block_frac: 0.12, threshold_ratio: 0.105, open_ksize: 2, speck_px: 12,
  rule_min_frac: 0.25, rule_anchor_frac: 0.15, rule_straight: 0.8, rule_run_frac: 0.05, rule_aspect: 25.0,
  rule_tolerance_px: 2, rule_density: 0.6, rule_stroke_px: 4, rule_piece_px: 96, merge_fragment: 0.55,
  merge_overlap: 0.3, merge_gap_frac: 0.3, min_height_px: 14, max_height_frac: 0.9, max_aspect: 2.2,
  min_ink_ratio: 0.06, max_ink_ratio: 0.85, edge_margin_px: 2, cut_line_aspect: 4.0, max_fragment_width: 1.25,
  rule_fit_px: [3.0, 1.5], rule_reach_px: 6,
};

/** The reader's ink mask: thresholded, specks opened away. @param {Plane} gray @param {string} polarity @param {typeof SEG} seg */
const inkMask = (gray, polarity, seg) => openSpecks(thresholded(gray, polarity, seg), seg);

/** @param {number} width @param {number} height @param {number} [value] @returns {Plane} */
const plane = (width, height, value = 0) => ({ data: new Uint8Array(width * height).fill(value), width, height });

/** @param {Plane} p @param {number} x @param {number} y @param {number} w @param {number} h @param {number} [v] */
function rect(p, x, y, w, h, v = 255) {
  for (let r = y; r < y + h; r++) p.data.fill(v, r * p.width + x, r * p.width + x + w);
  return p;
}

/** @param {Plane} p @param {number} x @param {number} y @param {number} w @param {number} h */
function inkIn(p, x, y, w, h) {
  let n = 0;
  for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) n += +(p.data[r * p.width + c] > 0);
  return n;
}

/** A 0: a w x h box with a `t` px stroke. @param {Plane} p @param {number} x @param {number} y @param {number} w @param {number} h @param {number} t */
const ring = (p, x, y, w, h, t) => rect(rect(p, x, y, w, h), x + t, y + t, w - 2 * t, h - 2 * t, 0);
/** A 7: a bar and a stem 3 px thick. @param {Plane} p @param {number} x @param {number} y @param {number} w @param {number} h */
const seven = (p, x, y, w, h) => rect(rect(p, x, y, w, 3), x + w - 3, y, 3, h);
/** @param {import('../../src/edgedigits/web/reader/types.js').Box[]} boxes top to bottom, then left to right */
const sorted = (boxes) => [...boxes].sort((a, b) => a[1] - b[1] || a[0] - b[0]);

test('toGrayRGBA uses OpenCV 15-bit weights and rounding (values from cv2.cvtColor RGBA2GRAY)', () => {
  const pixels = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [12, 200, 77], [1, 1, 1], [250, 3, 129], [128, 128, 128], [99, 180, 33]];
  const rgba = new Uint8ClampedArray(pixels.flatMap(([r, g, b], i) => [r, g, b, i * 25]));  // alpha is ignored
  const gray = toGrayRGBA(rgba, 5, 2);
  assert.deepEqual([gray.width, gray.height], [5, 2]);
  assert.deepEqual(Array.from(gray.data), [76, 150, 29, 255, 0, 130, 1, 91, 128, 139]);
});

test('resolvePolarity: explicit choices pass, auto follows the median of the sampled pixels', () => {
  assert.equal(resolvePolarity(plane(8, 8, 0), 'dark-on-light'), 'dark-on-light');
  assert.equal(resolvePolarity(plane(8, 8, 255), 'light-on-dark'), 'light-on-dark');
  assert.equal(resolvePolarity(plane(40, 40, 200), 'auto'), 'dark-on-light');
  assert.equal(resolvePolarity(plane(40, 40, 60), 'auto'), 'light-on-dark');
  // 8 x 8 sampled pixels (every 4th of every 4th row): the median of 127s and 129s is 128: bright
  const even = rect(plane(32, 32, 127), 0, 0, 32, 16, 129);
  assert.equal(resolvePolarity(even, 'auto'), 'dark-on-light');
  assert.equal(resolvePolarity(rect(plane(32, 32, 127), 0, 0, 32, 16, 128), 'auto'), 'light-on-dark');  // 127.5
  assert.throws(() => resolvePolarity(even, 'sideways'), /polarity/);
});

test('inkMask finds a dark stroke on paper, in either polarity, and nothing on blank paper', () => {
  const page = rect(plane(120, 100, 220), 40, 20, 6, 50, 60);
  const mask = inkMask(page, 'dark-on-light', SEG);
  // the whole stroke and nothing else, one pixel right and down: OpenCV anchors the 2x2 opening so
  assert.equal(inkIn(mask, 41, 21, 6, 50), 300);
  assert.equal(inkIn(mask, 0, 0, 120, 100), 300);
  const negative = { ...page, data: page.data.map((v) => 255 - v) };
  assert.deepEqual(inkMask(negative, 'light-on-dark', SEG).data, mask.data);
  assert.deepEqual(inkMask(negative, 'auto', SEG).data, mask.data);
  assert.equal(inkIn(inkMask(plane(120, 100, 220), 'auto', SEG), 0, 0, 120, 100), 0);
});

test('inkMask: the 2x2 opening (anchored as OpenCV does) removes a lone pixel, open_ksize 0 keeps it', () => {
  const page = rect(plane(100, 80, 230), 50, 40, 1, 1, 0);
  assert.equal(inkIn(inkMask(page, 'dark-on-light', { ...SEG, blur_ksize: 0 }), 0, 0, 100, 80), 0);
  const kept = inkMask(page, 'dark-on-light', { ...SEG, blur_ksize: 0, open_ksize: 0 });
  assert.equal(inkIn(kept, 0, 0, 100, 80), 1);
  assert.equal(kept.data[40 * 100 + 50], 255);
  assert.throws(() => inkMask(page, 'dark-on-light', { ...SEG, blur_ksize: 5 }), /blur_ksize/);
});

test('removeRules takes a ruled line out and keeps the digit written across it', () => {
  const mask = rect(plane(320, 200), 0, 100, 320, 2);  // a rule the width of the frame
  ring(mask, 150, 80, 20, 34, 3);  // a 0 across it
  const before = mask.data.slice();
  const clean = removeRules(mask, SEG);
  assert.equal(inkIn(clean, 0, 100, 150, 2) + inkIn(clean, 170, 100, 150, 2), 0);  // the rule is gone
  const digit = ring(plane(320, 200), 150, 80, 20, 34, 3);
  assert.equal(inkIn(clean, 0, 0, 320, 200), inkIn(digit, 0, 0, 320, 200));
  for (let i = 0; i < digit.data.length; i++) if (digit.data[i]) assert.equal(clean.data[i], 255);  // whole
  assert.deepEqual(mask.data, before);  // a new mask; the input is untouched
});

test('removeRules takes a vertical margin line out too, and leaves a rule-free mask as it is', () => {
  const mask = rect(plane(320, 240), 40, 0, 2, 240);
  const digit = ring(plane(320, 240), 120, 100, 18, 30, 3);
  ring(mask, 120, 100, 18, 30, 3);
  assert.deepEqual(removeRules(mask, SEG).data, digit.data);
  assert.deepEqual(removeRules(digit, SEG).data, digit.data);
});

test('removeRules follows a tilted rule that thresholded into dashes', () => {
  const mask = plane(400, 300);
  for (let x = 0; x < 400; x++) if (x % 10 < 7) rect(mask, x, 150 + Math.floor(x / 80), 1, 2);  // 1 px down every 80
  const digit = ring(plane(400, 300), 200, 130, 20, 34, 3);
  for (let i = 0; i < mask.data.length; i++) mask.data[i] |= digit.data[i];
  const clean = removeRules(mask, SEG);
  for (let i = 0; i < digit.data.length; i++) if (digit.data[i]) assert.equal(clean.data[i], 255);
  // all of the rule goes but a sliver of its last dash at the frame's end, as in Python
  assert.equal(inkIn(clean, 0, 0, 400, 300) - inkIn(digit, 0, 0, 400, 300), 2);
  assert.equal(inkIn(clean, 396, 154, 1, 2), 2);
});

test('removeRules leaves a short line (a digit-sized stroke) alone', () => {
  const mask = rect(plane(320, 240), 100, 100, 30, 3);  // under rule_anchor_frac of the frame
  assert.deepEqual(removeRules(mask, SEG).data, mask.data);
});

test('findBlobs boxes a digit with its own ink; holes and what lies in them belong to it', () => {
  const mask = ring(plane(200, 150), 60, 40, 20, 30, 3);
  rect(mask, 68, 53, 4, 4);  // a blot inside the 0
  seven(mask, 120, 45, 12, 28);
  const { boxes, inks, cut } = findBlobs(mask, SEG);
  assert.deepEqual(sorted(boxes), [[60, 40, 20, 30], [120, 45, 12, 28]]);
  const zero = inks[boxes.findIndex((b) => b[0] === 60)];
  assert.deepEqual([zero.width, zero.height], [20, 30]);
  assert.equal(inkIn(zero, 0, 0, 20, 30), 20 * 30 - 14 * 24 + 16);  // the ring and the blot, not the hole
  assert.equal(inkIn(inks[boxes.findIndex((b) => b[0] === 120)], 0, 0, 12, 28), 12 * 3 + 3 * 25);
  assert.deepEqual(cut, []);
});

test('findBlobs: a piece touching any border is cut, not read', () => {
  const W = 200;
  const H = 150;
  for (const [x, y] of [[0, 60], [60, 0], [W - 10, 60], [60, H - 20]]) {
    const { boxes, cut } = findBlobs(ring(plane(W, H), x, y, 10, 20, 3), SEG);
    assert.deepEqual(boxes, [], `piece at ${x},${y}`);
    assert.deepEqual(cut, [[x, y, 10, 20]], `piece at ${x},${y}`);
  }
  // within edge_margin_px of the border counts as touching it; -1 reads every piece
  assert.deepEqual(findBlobs(ring(plane(W, H), 2, 60, 10, 20, 3), SEG).cut, [[2, 60, 10, 20]]);
  assert.deepEqual(findBlobs(ring(plane(W, H), 3, 60, 10, 20, 3), SEG).boxes, [[3, 60, 10, 20]]);
  const all = findBlobs(ring(plane(W, H), 0, 60, 10, 20, 3), { ...SEG, edge_margin_px: -1 });
  assert.deepEqual([all.boxes, all.cut], [[[0, 60, 10, 20]], []]);
  // a line running into the frame is not a cut digit
  assert.deepEqual(findBlobs(rect(plane(W, H), 0, 60, 100, 3), SEG).cut, []);
  // with the thresholded mask: cut only where the border beside the piece (within its rows or columns)
  // holds ink, on each side
  for (const [x, y, ix, iy, iw, ih] of [[2, 60, 0, 70, 2, 3], [60, 2, 65, 0, 3, 2], [W - 12, 60, W - 2, 79, 2, 1], [60, H - 22, 69, H - 2, 1, 2]]) {
    const near = ring(plane(W, H), x, y, 10, 20, 3);
    assert.deepEqual(findBlobs(near, SEG, near).boxes, [[x, y, 10, 20]], `whole at ${x},${y}`);
    const inked = rect(ring(plane(W, H), x, y, 10, 20, 3), ix, iy, iw, ih);
    assert.deepEqual(findBlobs(near, SEG, inked).cut, [[x, y, 10, 20]], `cut at ${x},${y}`);
  }
  // ink on the border past the box's rows (a rule under the digit) is not its stroke
  const near = ring(plane(W, H), 2, 60, 10, 20, 3);
  assert.deepEqual(findBlobs(near, SEG, rect(ring(plane(W, H), 2, 60, 10, 20, 3), 0, 80, 2, 2)).cut, []);
});

test('findBlobs drops specks by contour area, which is not the pixel count', () => {
  const seg = { ...SEG, min_height_px: 2, speck_px: 12 };
  // a solid 4 x 4 square has 16 pixels but its outline encloses (4-1)(4-1) = 9: a speck
  assert.deepEqual(findBlobs(rect(plane(60, 60), 20, 20, 4, 4), { ...seg, max_ink_ratio: 1 }).boxes, []);
  assert.deepEqual(findBlobs(rect(plane(60, 60), 20, 20, 5, 5), { ...seg, max_ink_ratio: 1 }).boxes, [[20, 20, 5, 5]]);
  // a one-pixel-wide line encloses nothing
  assert.deepEqual(findBlobs(rect(plane(60, 60), 20, 20, 1, 30), seg).boxes, []);
});

test('findBlobs filters by height, aspect and ink ratio', () => {
  const one = (/** @type {number} */ w, /** @type {number} */ h) => findBlobs(seven(plane(200, 150), 50, 40, w, h), SEG).boxes;
  assert.deepEqual(one(12, 13), []);  // shorter than min_height_px
  assert.deepEqual(one(12, 14), [[50, 40, 12, 14]]);
  assert.deepEqual(one(40, 16), []);  // wider than max_aspect times its height
  const filled = rect(plane(200, 150), 50, 40, 20, 20);
  assert.deepEqual(findBlobs(filled, SEG).boxes, []);  // a filled blob: ink ratio 1
  assert.deepEqual(findBlobs(ring(plane(200, 150), 50, 40, 60, 60, 1), SEG).boxes, [[50, 40, 60, 60]]);
  assert.deepEqual(findBlobs(ring(plane(200, 150), 50, 40, 80, 80, 1), SEG).boxes, []);  // a thin frame
});

test('findBlobs joins a fragment to the digit it sits on, never two digits', () => {
  const mask = seven(plane(200, 150), 60, 50, 12, 30);  // the body of a digit
  rect(mask, 60, 44, 14, 3);  // a detached bar right above, like a 5's
  const joined = findBlobs(mask, SEG);
  assert.deepEqual(joined.boxes, [[60, 44, 14, 36]]);
  assert.equal(inkIn(joined.inks[0], 0, 0, 14, 36), 14 * 3 + 12 * 3 + 3 * 27);  // both pieces' ink
  // an underline much wider than the digit stays apart (and is too flat to read)
  const under = rect(seven(plane(200, 150), 60, 50, 12, 30), 40, 84, 60, 3);
  assert.deepEqual(findBlobs(under, SEG).boxes, [[60, 50, 12, 30]]);
  // two digits in a column, each digit-sized, stay two
  const column = seven(seven(plane(200, 150), 60, 20, 12, 30), 60, 55, 12, 30);
  assert.deepEqual(sorted(findBlobs(column, SEG).boxes), [[60, 20, 12, 30], [60, 55, 12, 30]]);
  // a fragment as near to the digit above as to the one below joins the first in OpenCV's contour
  // order (the piece starting last in raster order), as in Python: the lower one
  const between = rect(seven(seven(plane(200, 150), 60, 20, 12, 30), 60, 57, 12, 30), 60, 52, 12, 3);
  assert.deepEqual(sorted(findBlobs(between, SEG).boxes), [[60, 20, 12, 30], [60, 52, 12, 35]]);
});
