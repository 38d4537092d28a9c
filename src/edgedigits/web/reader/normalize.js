// A digit's ink -> a model input made the way MNIST was made (runtime/normalize.py): the ink's box scaled
// to fit `fit_px` (a thin pen thickened first), its centre of mass put at the field's centre. Where
// OpenCV's or numpy's arithmetic decides a pixel (the INTER_AREA resize, the elliptical dilate, the
// contours' lengths, float32 sums) it is repeated here, so the crops are the Python reader's.
import { roundHalfEven } from './numbers.js';

/** @typedef {import('./types.js').Plane} Plane */
/** @typedef {{fit_px: number, min_stroke_px: number}} NormalizeParams  contract.reader.normalize */

/** MNIST's field: the model reads SIZE x SIZE crops (contract.image_size). */
export const SIZE = 28;
const f32 = Math.fround;

/**
 * A binary crop (ink > 0) of one digit -> float32 [28 * 28] in [0, 1], ink bright.
 * @param {Plane} ink
 * @param {NormalizeParams} norm
 */
export function toMnist(ink, norm) {
  const out = new Float32Array(SIZE * SIZE);
  const box = inkBox(ink);
  if (!box) return out;
  let crop = cropPlane(ink, box);
  let scale = norm.fit_px / Math.max(crop.width, crop.height);
  const width = strokeWidth(crop) * scale;
  if (width > 0 && width < norm.min_stroke_px) {  // thin pen: thicken before shrinking, as MNIST's pen was thick
    const grow = roundHalfEven((norm.min_stroke_px - width) / scale);
    if (grow > 0) {
      crop = dilate(pad(crop, grow), grow + 1);
      scale = norm.fit_px / Math.max(crop.width, crop.height);
    }
  }
  const sw = Math.max(1, roundHalfEven(crop.width * scale));
  const sh = Math.max(1, roundHalfEven(crop.height * scale));
  const bytes = resizeArea(crop, sw, sh);
  const small = new Float32Array(bytes.length);
  bytes.forEach((v, i) => { small[i] = v / 255; });  // a Float32Array stores float32(v / 255), as numpy
  const total = pairwiseSum(small, 0, small.length);
  if (total <= 0) return out;
  // numpy's sums: a row's by pairwise summation, a column's row by row (pairwise when one column)
  const rows = Array.from({ length: sh }, (_, y) => pairwiseSum(small, y * sw, sw) * y);
  const cy = pairwiseSum(rows, 0, sh, false) / total;
  const cols = Array.from({ length: sw }, (_, x) => {
    if (sw === 1) return total;
    let s = 0;
    for (let y = 0; y < sh; y++) s = f32(s + small[y * sw + x]);
    return s;
  });
  const cx = pairwiseSum(cols.map((s, x) => s * x), 0, sw, false) / total;
  // integer shift putting the centre of mass at (14, 14) (the MNIST test set's mean is 13.99, 14.01)
  const top = Math.min(Math.max(roundHalfEven(SIZE / 2 - cy), 0), SIZE - sh);
  const left = Math.min(Math.max(roundHalfEven(SIZE / 2 - cx), 0), SIZE - sw);
  for (let y = 0; y < sh; y++) out.set(small.subarray(y * sw, (y + 1) * sw), (top + y) * SIZE + left);
  return out;
}

/**
 * Mean stroke width of a binary mask: ink area over half its outline length (a stroke of length L and
 * width w has area L*w and an outline of about 2L). The outline is OpenCV's: every outer and hole border
 * of findContours(RETR_LIST, CHAIN_APPROX_NONE), each step 1 or sqrt(2) long as arcLength measures it.
 * @param {Plane} mask
 */
export function strokeWidth(mask) {
  let count = 0;
  for (const v of mask.data) if (v) count++;
  const perimeter = outlineLength(mask);
  return perimeter ? (2 * count) / perimeter : 0;
}

/**
 * The box [x0, y0, x1, y1) of a plane's nonzero pixels, or null when it has none.
 * @param {Plane} p
 */
function inkBox(p) {
  let x0 = p.width, y0 = p.height, x1 = -1, y1 = -1;
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      if (!p.data[y * p.width + x]) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = y;
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

/**
 * @param {Plane} p
 * @param {number[]} box  [x0, y0, x1, y1)
 * @returns {Plane}
 */
function cropPlane(p, [x0, y0, x1, y1]) {
  const width = x1 - x0, height = y1 - y0;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) data.set(p.data.subarray((y0 + y) * p.width + x0, (y0 + y) * p.width + x1), y * width);
  return { data, width, height };
}

/**
 * copyMakeBorder with `by` zero pixels on every side.
 * @param {Plane} p
 * @param {number} by
 * @returns {Plane}
 */
function pad(p, by) {
  const width = p.width + 2 * by, height = p.height + 2 * by;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < p.height; y++) data.set(p.data.subarray(y * p.width, (y + 1) * p.width), (y + by) * width + by);
  return { data, width, height };
}

/**
 * cv2.dilate by getStructuringElement(MORPH_ELLIPSE, (k, k)), anchored at its centre (k / 2, k / 2):
 * the rows' half widths are rounded (half to even), so an even kernel reaches one pixel further back.
 * @param {Plane} p
 * @param {number} k
 * @returns {Plane}
 */
function dilate(p, k) {
  const r = k >> 1, inv = r ? 1 / (r * r) : 0;
  /** @type {[number, number][]} */
  const offsets = [];
  for (let i = 0; i < k; i++) {
    const dy = i - r;
    const dx = roundHalfEven(r * Math.sqrt((r * r - dy * dy) * inv));
    for (let j = Math.max(r - dx, 0); j < Math.min(r + dx + 1, k); j++) offsets.push([j - r, dy]);
  }
  const { width, height, data } = p;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let m = 0;
      for (const [ox, oy] of offsets) {
        const sx = x + ox, sy = y + oy;
        if (sx >= 0 && sy >= 0 && sx < width && sy < height) m = Math.max(m, data[sy * width + sx]);
      }
      out[y * width + x] = m;
    }
  }
  return { data: out, width, height };
}

/**
 * cv2.resize(INTER_AREA) of a uint8 plane to dw x dh. Shrinking averages the source cells with OpenCV's
 * float32 weights (whole factors: integer sums); enlarging along either axis is OpenCV's bilinear
 * variant with 11-bit fixed-point weights and its SIMD rounding of the vertical pass.
 * @param {Plane} src
 * @param {number} dw
 * @param {number} dh
 */
function resizeArea(src, dw, dh) {
  const { width: sw, height: sh, data } = src;
  if (sw === dw && sh === dh) return data.slice();
  const invX = dw / sw, invY = dh / sh;
  const scaleX = 1 / invX, scaleY = 1 / invY;  // as OpenCV computes them, to the last bit
  if (scaleX < 1 || scaleY < 1) return resizeAreaLinear(src, dw, dh, invX, invY);
  const out = new Uint8Array(dw * dh);
  const ix = roundHalfEven(scaleX), iy = roundHalfEven(scaleY);
  if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) {
    const inv = f32(1 / (ix * iy));
    for (let y = 0; y < dh; y++) {
      for (let x = 0; x < dw; x++) {
        let s = 0;
        for (let v = 0; v < iy; v++) for (let u = 0; u < ix; u++) s += data[(y * iy + v) * sw + x * ix + u];
        out[y * dw + x] = ix === 2 && iy === 2 ? (s + 2) >> 2 : saturate(f32(s * inv));  // 2x2: OpenCV's SIMD
      }
    }
    return out;
  }
  const xtab = areaTable(sw, dw, scaleX), ytab = areaTable(sh, dh, scaleY);
  let sum = new Float32Array(dw);
  let prev = ytab[0][0];
  for (const [dy, sy, beta] of ytab) {
    const buf = new Float32Array(dw);
    for (const [dx, sx, alpha] of xtab) buf[dx] = f32(buf[dx] + f32(data[sy * sw + sx] * alpha));
    if (dy !== prev) {
      for (let x = 0; x < dw; x++) out[prev * dw + x] = saturate(sum[x]);
      sum = new Float32Array(dw);
      prev = dy;
    }
    for (let x = 0; x < dw; x++) sum[x] = f32(sum[x] + f32(beta * buf[x]));
  }
  for (let x = 0; x < dw; x++) out[prev * dw + x] = saturate(sum[x]);
  return out;
}

/**
 * OpenCV's computeResizeAreaTab: [destination, source, float32 weight] for each source cell a
 * destination cell covers (in part at its ends).
 * @param {number} ssize
 * @param {number} dsize
 * @param {number} scale
 */
function areaTable(ssize, dsize, scale) {
  /** @type {[number, number, number][]} */
  const tab = [];
  for (let d = 0; d < dsize; d++) {
    const fs1 = d * scale, fs2 = fs1 + scale;
    const cell = Math.min(scale, ssize - fs1);
    const s2 = Math.min(Math.floor(fs2), ssize - 1);
    const s1 = Math.min(Math.ceil(fs1), s2);
    if (s1 - fs1 > 1e-3) tab.push([d, s1 - 1, f32((s1 - fs1) / cell)]);
    for (let s = s1; s < s2; s++) tab.push([d, s, f32(1 / cell)]);
    if (fs2 - s2 > 1e-3) tab.push([d, s2, f32(Math.min(Math.min(fs2 - s2, 1), cell) / cell)]);
  }
  return tab;
}

/**
 * INTER_AREA where an axis grows: two taps per axis, weights from the cells' overlap in 1/2048ths.
 * @param {Plane} src
 * @param {number} dw
 * @param {number} dh
 * @param {number} invX
 * @param {number} invY
 */
function resizeAreaLinear(src, dw, dh, invX, invY) {
  const { width: sw, height: sh, data } = src;
  const xs = linearTable(sw, dw, invX), ys = linearTable(sh, dh, invY);
  const row = (/** @type {number} */ sy) => xs.map(([sx, a0, a1]) => data[sy * sw + sx] * a0 + data[sy * sw + Math.min(sx + 1, sw - 1)] * a1);
  const out = new Uint8Array(dw * dh);
  ys.forEach(([sy, b0, b1], y) => {
    const r0 = row(sy), r1 = row(Math.min(sy + 1, sh - 1));
    for (let x = 0; x < dw; x++) {  // OpenCV's SIMD vertical pass: 16-bit products, rounded in two steps
      const v = ((((r0[x] >> 4) * b0) >> 16) + (((r1[x] >> 4) * b1) >> 16) + 2) >> 2;
      out[y * dw + x] = Math.min(255, Math.max(0, v));
    }
  });
  return out;
}

/**
 * [source index, weight of it, weight of the next] per destination index, weights in 1/2048ths.
 * @param {number} ssize
 * @param {number} dsize
 * @param {number} inv  dsize / ssize
 */
function linearTable(ssize, dsize, inv) {
  const scale = 1 / inv;
  return Array.from({ length: dsize }, (_, d) => {
    let s = Math.floor(d * scale);
    let f = f32(d + 1 - (s + 1) * inv);
    f = f <= 0 ? 0 : f32(f - Math.floor(f));
    if (s >= ssize - 1) [s, f] = [ssize - 1, 0];
    return [s, roundHalfEven(f32(1 - f) * 2048), roundHalfEven(f * 2048)];
  });
}

/** @param {number} v  OpenCV's saturate_cast<uchar> of a float */
function saturate(v) {
  return Math.min(255, Math.max(0, roundHalfEven(v)));
}

/**
 * numpy's pairwise summation of n values from `start` (its float sums and np.sum's order), in float32
 * unless single is false.
 * @param {ArrayLike<number>} a
 * @param {number} start
 * @param {number} n
 * @param {boolean} [single]
 * @returns {number}
 */
function pairwiseSum(a, start, n, single = true) {
  const r = single ? f32 : (/** @type {number} */ v) => v;
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s = r(s + a[start + i]);
    return s;
  }
  if (n <= 128) {
    const acc = Array.from({ length: 8 }, (_, j) => a[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) acc[j] = r(acc[j] + a[start + i + j]);
    let s = r(r(r(acc[0] + acc[1]) + r(acc[2] + acc[3])) + r(r(acc[4] + acc[5]) + r(acc[6] + acc[7])));
    for (; i < n; i++) s = r(s + a[start + i]);
    return s;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return r(pairwiseSum(a, start, half, single) + pairwiseSum(a, start + half, n - half, single));
}

/**
 * Total length of the outlines OpenCV's findContours(RETR_LIST, CHAIN_APPROX_NONE) traces (Suzuki and
 * Abe's border following, as contours_new.cpp marks the pixels): a raster scan starts an outer border at
 * each unvisited ink pixel right after paper, and a hole border at each paper pixel right after ink not
 * yet marked as a border's right end. A one-pixel contour has length 0; a diagonal step is float32 sqrt(2).
 * @param {Plane} mask
 */
function outlineLength(mask) {
  const W = mask.width + 2, H = mask.height + 2;
  const img = new Int8Array(W * H);  // 0 paper, 1 ink; 2 an ink pixel traced, RIGHT one that ends a run
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) img[(y + 1) * W + x + 1] = mask.data[y * mask.width + x] ? 1 : 0;
  }
  let total = 0;
  for (let y = 1; y < H - 1; y++) {
    let prev = 0;
    for (let x = 1; x < W - 1; x++) {
      const at = y * W + x, p = img[at];
      if (p === prev) continue;
      if (prev === 0 && p === 1) total += trace(img, W, at, false);
      else if (p === 0 && prev >= 1) total += trace(img, W, at - 1, true);
      prev = img[at];
    }
  }
  return total;
}

const RIGHT = -126;  // OpenCV's (int8) 2 | 0x80
const DIAGONAL = f32(Math.SQRT2);  // arcLength adds float32 step lengths

/**
 * One border from `start`, marking its pixels; its length.
 * @param {Int8Array} img
 * @param {number} W
 * @param {number} start
 * @param {boolean} hole
 */
function trace(img, W, start, hole) {
  const delta = [1, 1 - W, -W, -1 - W, -1, W - 1, W, W + 1];  // chain codes 0..7, counterclockwise from east
  const last = hole ? 0 : 4;
  let s = last, first;
  do {
    s = (s - 1) & 7;
    first = start + delta[s];
  } while (img[first] === 0 && s !== last);
  if (s === last) {
    img[start] = RIGHT;  // a single pixel
    return 0;
  }
  let length = 0;
  let at = start, next;
  for (;;) {
    const from = s;
    do next = at + delta[++s & 7]; while (img[next] === 0);
    s &= 7;
    if (s - 1 >= 0 && s - 1 < from) img[at] = RIGHT;  // the search passed east: paper on the right
    else if (img[at] === 1) img[at] = 2;
    length += s & 1 ? DIAGONAL : 1;
    if (next === start && at === first) return length;
    at = next;
    s = (s + 4) & 7;
  }
}
