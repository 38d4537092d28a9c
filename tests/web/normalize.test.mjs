// A digit's ink -> the model's 28x28 input (normalize.js), with known answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SIZE, strokeWidth, toMnist } from '../../src/edgedigits/web/reader/normalize.js';

const norm = { fit_px: 20, min_stroke_px: 1.8 };
/**
 * A width x height plane with ink (255) where ink(x, y).
 * @param {number} width
 * @param {number} height
 * @param {(x: number, y: number) => boolean} ink
 */
const plane = (width, height, ink) => {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = ink(x, y) ? 255 : 0;
  return { data, width, height };
};
/** Centre of mass (x, y) and the box [x0, y0, x1, y1] of a crop's ink. @param {Float32Array} crop */
const mass = (crop) => {
  let total = 0, sx = 0, sy = 0, x0 = SIZE, y0 = SIZE, x1 = -1, y1 = -1;
  crop.forEach((v, i) => {
    const x = i % SIZE, y = Math.floor(i / SIZE);
    total += v; sx += v * x; sy += v * y;
    if (v > 0) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
  });
  return { cx: sx / total, cy: sy / total, box: [x0, y0, x1, y1] };
};

test('a bar: scaled to fit 20 px, its mass at the centre, values in [0, 1]', () => {
  // 40x4 ink in a wider plane: halved to 20x2 and placed with its mass at (14, 14), rounded half to
  // even as Python's round(): rows 4..23 (mass 13.5), columns 14..15 (mass 14.5)
  const crop = toMnist(plane(10, 44, (x, y) => x >= 3 && x < 7 && y >= 2 && y < 42), norm);
  assert.equal(crop.length, SIZE * SIZE);
  assert.ok(crop.every((v) => v >= 0 && v <= 1));
  assert.deepEqual(mass(crop), { cx: 14.5, cy: 13.5, box: [14, 4, 15, 23] });
  assert.ok(crop.every((v) => v === 0 || v === 1));  // whole 2x2 cells of ink
});

test('a hollow box: centred, its ring kept', () => {
  const crop = toMnist(plane(30, 30, (x, y) => Math.max(Math.abs(x - 14.5), Math.abs(y - 14.5)) > 11.5), norm);
  const { cx, cy, box } = mass(crop);
  assert.ok(Math.abs(cx - 14) <= 0.5 && Math.abs(cy - 14) <= 0.5, `mass at ${cx}, ${cy}`);
  assert.deepEqual(box, [4, 4, 23, 23]);  // 30 px -> 20 px
  assert.equal(crop[14 * SIZE + 14], 0);  // the hole
});

test('a thin pen is thickened before shrinking', () => {
  // a 1 px diagonal 60 px long would be a third of a pixel wide at 20 px; dilated first, it stays ink
  const crop = toMnist(plane(60, 60, (x, y) => x === y), norm);
  const strong = crop.filter((v) => v > 0.5).length;
  assert.ok(strong >= 20, `${strong} pixels over 0.5`);
});

test('no ink: an empty crop', () => {
  assert.ok(toMnist(plane(5, 5, () => false), norm).every((v) => v === 0));
});

test("strokeWidth: ink area over half the outline OpenCV's contours trace", () => {
  // a 10 px line: one contour out and back, 18 steps; a filled 4x4 square: 12 steps
  assert.equal(strokeWidth(plane(10, 1, () => true)), 20 / 18);
  assert.equal(strokeWidth(plane(4, 4, () => true)), 32 / 12);
  // a diagonal of 6 pixels: 10 diagonal steps, each float32 sqrt(2) long as arcLength adds them
  assert.equal(strokeWidth(plane(6, 6, (x, y) => x === y)), 12 / (10 * Math.fround(Math.SQRT2)));
  // a 5x5 ring: the outer border (16 steps) and the hole's, which cuts its 4 corners (8 steps + 4 diagonals)
  const ring = plane(5, 5, (x, y) => x === 0 || y === 0 || x === 4 || y === 4);
  assert.equal(strokeWidth(ring), 32 / (16 + 8 + 4 * Math.fround(Math.SQRT2)));  // 1.0790085770816273, as cv2
  assert.equal(strokeWidth(plane(1, 1, () => true)), 0);  // a single pixel has no outline
});
