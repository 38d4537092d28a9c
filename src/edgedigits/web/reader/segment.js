// The segmenter of the browser reader: src/edgedigits/runtime/segment.py on plain typed arrays.
// Each OpenCV call is redone with OpenCV's borders, anchors and rounding, so masks and boxes equal the
// Python ones. Every tunable comes from `seg` (contract.json's reader.segment); the reasons for them are
// in segment.py, beside SegmentParams.

/** @typedef {import('./types.js').Plane} Plane */
/** @typedef {import('./types.js').Box} Box */
/** @typedef {'dark-on-light' | 'light-on-dark'} Polarity */
/**
 * @typedef {object} SegmentParams  contract.reader.segment: SegmentParams' fields and segment.py's constants
 * @property {number} blur_ksize  0 (off) or 3: the browser blurs with OpenCV's 3x3 kernel only
 * @property {number} block_frac
 * @property {number} threshold_ratio
 * @property {number} open_ksize
 * @property {number} speck_px
 * @property {number} rule_min_frac
 * @property {number} rule_anchor_frac
 * @property {number} rule_straight
 * @property {number} rule_run_frac
 * @property {number} rule_aspect
 * @property {number} rule_tolerance_px
 * @property {number} rule_density
 * @property {number} rule_stroke_px
 * @property {number} rule_piece_px
 * @property {number} merge_fragment
 * @property {number} merge_overlap
 * @property {number} merge_gap_frac
 * @property {number} min_height_px
 * @property {number} max_height_frac
 * @property {number} max_aspect
 * @property {number} min_ink_ratio
 * @property {number} max_ink_ratio
 * @property {number} edge_margin_px
 * @property {number} cut_line_aspect
 * @property {number} max_fragment_width
 * @property {number[]} rule_fit_px
 * @property {number} rule_reach_px
 */
/**
 * @typedef {object} Pieces  outer contours of a binary plane, filled (see outerPieces)
 * @property {number} n
 * @property {Int32Array} x0  box: columns x0 .. x1-1, rows y0 .. y1-1
 * @property {Int32Array} y0
 * @property {Int32Array} x1
 * @property {Int32Array} y1
 * @property {Float64Array} area  cv2.contourArea of the outline
 * @property {number[]} runY  the filled pieces as runs of pixels: row, columns runX0 .. runX1-1, piece
 * @property {number[]} runX0
 * @property {number[]} runX1
 * @property {number[]} runPiece
 */

/**
 * Grayscale of an RGBA frame (canvas ImageData), as cv2.cvtColor(COLOR_RGBA2GRAY) and, on the same
 * pixel, COLOR_BGR2GRAY: OpenCV's 15-bit fixed-point weights, rounded.
 * @param {Uint8Array | Uint8ClampedArray} rgba
 * @param {number} width
 * @param {number} height
 * @returns {Plane}
 */
export function toGrayRGBA(rgba, width, height) {
  const data = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < data.length; i++, j += 4) {
    data[i] = (rgba[j] * 9798 + rgba[j + 1] * 19235 + rgba[j + 2] * 3735 + 16384) >> 15;
  }
  return { data, width, height };
}

/**
 * `auto`: paper is the majority of a frame, so a bright median (of every 4th pixel of every 4th row)
 * means dark ink on light paper.
 * @param {Plane} gray
 * @param {string} polarity
 * @returns {Polarity}
 */
export function resolvePolarity(gray, polarity) {
  if (polarity === 'dark-on-light' || polarity === 'light-on-dark') return polarity;
  if (polarity !== 'auto') throw new Error(`polarity must be dark-on-light, light-on-dark or auto, got ${polarity}`);
  const hist = new Int32Array(256);
  let n = 0;
  for (let y = 0; y < gray.height; y += 4) {
    for (let x = 0; x < gray.width; x += 4, n++) hist[gray.data[y * gray.width + x]]++;
  }
  /** @param {number} k the k-th smallest value (0-based) */
  const nth = (k) => {
    let v = 0;
    for (let seen = hist[0]; seen <= k; seen += hist[++v]);
    return v;
  };
  // np.median: the mean of the two middle values when there is an even number of them
  return nth((n - 1) >> 1) + nth(n >> 1) >= 256 ? 'dark-on-light' : 'light-on-dark';
}

/**
 * Binary mask (255 = ink) of a grayscale frame, specks left in, as thresholded: light blur, then ink is
 * what is `threshold_ratio` darker than the mean of its neighbourhood (so uneven light does not
 * matter). A stroke the frame's border cuts still reaches the border here; openSpecks ends it inside.
 * @param {Plane} gray
 * @param {string} polarity
 * @param {SegmentParams} seg
 * @returns {Plane}
 */
export function thresholded(gray, polarity, seg) {
  const { width: w, height: h } = gray;
  let paper = gray.data;
  if (resolvePolarity(gray, polarity) === 'light-on-dark') paper = paper.map((v) => 255 - v);
  if (seg.blur_ksize && seg.blur_ksize !== 3) throw new Error(`blur_ksize must be 0 or 3 here, got ${seg.blur_ksize}`);
  if (seg.blur_ksize) paper = blur3(paper, w, h);
  const block = Math.max(3, Math.trunc(Math.min(w, h) * seg.block_frac) | 1);
  const a = block >> 1;
  const area = block * block;
  // a pixel is ink when darker than convertScaleAbs(mean, 1 - threshold_ratio) (a float32 product,
  // rounded half to even) of its block's mean (rounded: the block is odd, so it never ties); `least`:
  // for each grey level, the least block sum that makes it ink
  const alpha = Math.fround(1 - seg.threshold_ratio);
  const least = new Int32Array(256).fill(255 * area + 1);
  for (let mean = 255; mean >= 0; mean--) least.fill(Math.ceil((mean - 0.5) * area), 0, roundEven(Math.fround(mean * alpha)));
  // cv2.blur with BORDER_REPLICATE by running sums: colSum holds the window's rows per column, padded
  // with the border columns' sums
  const colSum = new Int32Array(w + 2 * a + 1);  // one spare slot: the sum slides past the last column
  const rowAt = (/** @type {number} */ y) => Math.min(h - 1, Math.max(0, y)) * w;
  for (let dy = -a; dy <= a; dy++) {
    const r = rowAt(dy);
    for (let x = 0; x < w; x++) colSum[a + x] += paper[r + x];
  }
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    colSum.fill(colSum[a], 0, a);
    colSum.fill(colSum[a + w - 1], a + w);
    let s = 0;
    for (let i = 0; i < block; i++) s += colSum[i];
    for (let x = 0, i = y * w; x < w; x++, i++) {
      if (s >= least[paper[i]]) mask[i] = 255;
      s += colSum[x + block] - colSum[x];
    }
    const add = rowAt(y + a + 1);
    const sub = rowAt(y - a);
    for (let x = 0; x < w; x++) colSum[a + x] += paper[add + x] - paper[sub + x];
  }
  return { data: mask, width: w, height: h };
}

/**
 * Specks opened away (open_specks): cv2.MORPH_OPEN with an open_ksize square, anchored as OpenCV does.
 * @param {Plane} mask
 * @param {SegmentParams} seg
 * @returns {Plane}
 */
export function openSpecks(mask, seg) {
  const { width: w, height: h, data } = mask;
  const k = seg.open_ksize;
  return { data: k ? morph(morph(data, w, h, k, k, true), w, h, k, k, false) : data, width: w, height: h };
}

/**
 * cv2.GaussianBlur(src, (3, 3), 0): the kernel [1, 2, 1] / 4 both ways, BORDER_REFLECT_101, and (its
 * bit-exact 8-bit path) the exact sum rounded once, half up.
 * @param {Uint8Array} src
 * @param {number} w
 * @param {number} h
 */
function blur3(src, w, h) {
  const across = new Uint16Array(w * h);
  for (let y = 0, row = 0; y < h; y++, row += w) {
    across[row] = 2 * (src[row] + src[row + 1]);
    for (let x = 1; x < w - 1; x++) across[row + x] = src[row + x - 1] + 2 * src[row + x] + src[row + x + 1];
    across[row + w - 1] = 2 * (src[row + w - 2] + src[row + w - 1]);
  }
  const out = new Uint8Array(w * h);
  for (let y = 0, row = 0; y < h; y++, row += w) {
    const up = (y ? y - 1 : 1) * w;
    const down = (y < h - 1 ? y + 1 : h - 2) * w;
    for (let x = 0; x < w; x++) out[row + x] = (across[up + x] + 2 * across[row + x] + across[down + x] + 8) >> 4;
  }
  return out;
}

/**
 * Binary erosion (`erode`) or dilation by a kw x kh rectangle, as cv2.erode/dilate: OpenCV's anchor
 * (k/2) puts the window at offsets -(k>>1) .. k-1-(k>>1) for both, and outside the frame never counts.
 * @param {Uint8Array} src
 * @param {number} w
 * @param {number} h
 * @param {number} kw
 * @param {number} kh
 * @param {boolean} erode
 */
function morph(src, w, h, kw, kh, erode) {
  return combine(combine(src, w, h, kw, 1, erode), w, h, kh, w, erode);
}

/**
 * The AND (`erode`) or OR of each pixel's line neighbours at offsets -(k>>1) .. k-1-(k>>1), along x
 * (`step` 1) or y (`step` w): one tight loop per offset.
 * @param {Uint8Array} src
 * @param {number} w
 * @param {number} h
 * @param {number} k
 * @param {number} step
 * @param {boolean} erode
 */
function combine(src, w, h, k, step, erode) {
  const out = src.slice();
  for (let d = -(k >> 1); d < k - (k >> 1); d++) {
    if (!d) continue;
    if (step === 1) {
      const [lo, hi] = [Math.max(0, -d), Math.min(w, w - d)];
      for (let row = 0; row < w * h; row += w) {
        if (erode) for (let i = row + lo; i < row + hi; i++) out[i] &= src[i + d];
        else for (let i = row + lo; i < row + hi; i++) out[i] |= src[i + d];
      }
      continue;
    }
    // rows whose length is a multiple of 4 go four pixels at a time
    const words = w % 4 === 0 && src.byteOffset % 4 === 0 ? 4 : 1;
    const a = words === 4 ? new Uint32Array(out.buffer) : out;
    const b = words === 4 ? new Uint32Array(src.buffer, src.byteOffset, src.length / 4) : src;
    const [lo, hi, o] = [(Math.max(0, -d) * w) / words, (Math.min(h, h - d) * w) / words, (d * w) / words];
    if (erode) for (let i = lo; i < hi; i++) a[i] &= b[i + o];
    else for (let i = lo; i < hi; i++) a[i] |= b[i + o];
  }
  return out;
}

/**
 * Take ruled, margin, table and grid lines out of an ink mask, as remove_rules()[0]. A rule is a
 * straight line of ink far longer and thinner than any digit: its centre line is fitted, only ink within
 * the rule's own thickness of it is taken, and where a stroke crossed the rule the cut is closed again.
 * Horizontal rules first, then vertical ones, read through a transposed view (strides).
 * The result may share its data with `mask` when there are no rules.
 * @param {Plane} mask
 * @param {SegmentParams} seg
 * @returns {Plane}
 */
export function removeRules(mask, seg) {
  const { width: w, height: h } = mask;
  let clean = mask.data;
  for (const horizontal of [true, false]) {
    // view(x, y) = clean[x * xs + y * ys]; the rules run along the view's x
    const [vw, vh, xs, ys] = horizontal ? [w, h, 1, w] : [h, w, w, 1];
    const found = rulePixels(halfAny(clean, w, h, horizontal), clean, vw, vh, xs, ys, seg);
    if (found) clean = closeAcross(clean, found, vw, vh, xs, ys);
  }
  return { data: clean, width: w, height: h };
}

/**
 * The mask at half resolution, as cv2.resize(INTER_AREA) to the floor-half size, then > 0. Even sizes
 * halve exactly: a 2x2 block with any ink is ink. Otherwise each target pixel averages the source area
 * it covers, with OpenCV's weights (areaWeights), and is ink when that rounds above 0.
 * In the view's layout: transposed for vertical rules.
 * @param {Uint8Array} src
 * @param {number} w
 * @param {number} h
 * @param {boolean} horizontal
 * @returns {Plane}
 */
function halfAny(src, w, h, horizontal) {
  const hw = Math.max(1, w >> 1);
  const hh = Math.max(1, h >> 1);
  const data = new Uint8Array(hw * hh);
  if (w % 2 === 0 && h % 2 === 0) {
    for (let y = 0; y < hh; y++) {
      const [r0, r1, row] = [2 * y * w, (2 * y + 1) * w, y * hw];
      for (let x = 0, c = 0; x < hw; x++, c += 2) {
        if (src[r0 + c] | src[r0 + c + 1] | src[r1 + c] | src[r1 + c + 1]) data[row + x] = 255;
      }
    }
  } else {
    // in float32, in OpenCV's order: a lone ink pixel with a small share can add up to 0.5 exactly,
    // which rounds to 0
    const across = areaWeights(w, hw);
    const down = areaWeights(h, hh);
    const sum = new Float32Array(hw);
    for (let y = 0; y < hh; y++) {
      sum.fill(0);
      for (let t = down.start[y]; t < down.start[y + 1]; t++) {
        const row = down.source[t] * w;
        for (let x = 0; x < hw; x++) {
          let v = 0;
          for (let u = across.start[x]; u < across.start[x + 1]; u++) {
            if (src[row + across.source[u]]) v = Math.fround(v + Math.fround(255 * across.weight[u]));
          }
          sum[x] += Math.fround(down.weight[t] * v);
        }
      }
      for (let x = 0; x < hw; x++) if (sum[x] > 0.5) data[y * hw + x] = 255;
    }
  }
  if (horizontal) return { data, width: hw, height: hh };
  const transposed = new Uint8Array(hw * hh);
  for (let y = 0; y < hh; y++) for (let x = 0; x < hw; x++) transposed[x * hh + y] = data[y * hw + x];
  return { data: transposed, width: hh, height: hw };
}

/**
 * INTER_AREA's weights along one axis (OpenCV's computeResizeAreaTab): target index d averages the
 * source pixels source[start[d]] .. source[start[d+1]-1], weighted by the share of each it covers (a
 * share under 1e-3 is left out).
 * @param {number} size
 * @param {number} target
 */
function areaWeights(size, target) {
  const scale = 1 / (target / size);
  /** @type {number[]} */ const source = [];
  /** @type {number[]} */ const weight = [];
  const start = new Int32Array(target + 1);
  for (let d = 0; d < target; d++) {
    const [f1, f2] = [d * scale, (d + 1) * scale];
    const cell = Math.min(scale, size - f1);
    const s2 = Math.min(Math.floor(f2), size - 1);
    const s1 = Math.min(Math.ceil(f1), s2);
    if (s1 - f1 > 1e-3) source.push(s1 - 1), weight.push(Math.fround((s1 - f1) / cell));
    for (let s = s1; s < s2; s++) source.push(s), weight.push(Math.fround(1 / cell));
    if (f2 - s2 > 1e-3) source.push(s2), weight.push(Math.fround(Math.min(f2 - s2, 1, cell) / cell));
    start[d + 1] = source.length;
  }
  return { source, weight, start };
}

/**
 * @typedef {object} Rules  the rule pixels of a view, as _rule_pixels returns them
 * @property {Uint8Array} rule  view layout (row-major in view coordinates), 255 on the rules' ink
 * @property {number} half  the largest half thickness taken around a rule's centre line
 * @property {Int32Array} top  [rule, column]: the rows painted, top..bottom (top > bottom: none)
 * @property {Int32Array} bottom
 */

/**
 * Pixels of the near-horizontal rules of a view of the mask (null when there are none); `small` is the
 * view at half resolution. Runs are places where most of a window along x is ink in a mask thickened
 * along y (a tilted or dashed rule still forms one); each run's centre line is fitted on its clean
 * columns, runs on one straight line are one rule (collinearLong).
 * @param {Plane} small
 * @param {Uint8Array} mask
 * @param {number} vw
 * @param {number} vh
 * @param {number} xs
 * @param {number} ys
 * @param {SegmentParams} seg
 * @returns {Rules | null}
 */
function rulePixels(small, mask, vw, vh, xs, ys, seg) {
  const { width: sw, height: sh } = small;
  const tol = Math.max(1, Math.floor(seg.rule_tolerance_px / 2));
  const run = Math.max(3, Math.trunc(seg.rule_run_frac * sw));
  const thick = morph(small.data, sw, sh, 1, 2 * tol + 1, false);
  // mostly ink along a run: cv2.blur((run, 1), BORDER_REPLICATE), whose mean OpenCV rounds half up
  const dense = new Uint8Array(run + 1);
  for (let c = 0; c <= run; c++) dense[c] = +(Math.floor((255 * c) / run + 0.5) >= 255 * seg.rule_density);
  const band = new Uint8Array(sw * sh);
  const before = run >> 1;  // the window of x: x - before .. x + run - 1 - before
  const padded = new Uint8Array(sw + run);  // a row of thick as 0/1, its border columns replicated
  for (let y = 0, row = 0; y < sh; y++, row += sw) {
    padded.fill(thick[row] & 1, 0, before);
    for (let x = 0; x < sw; x++) padded[before + x] = thick[row + x] & 1;
    padded.fill(thick[row + sw - 1] & 1, before + sw);
    let c = 0;
    for (let i = 0; i < run; i++) c += padded[i];
    for (let x = 0; x < sw; x++) {
      if (dense[c]) band[row + x] = 255;
      c += padded[x + run] - padded[x];
    }
  }
  const p = outerPieces(band, sw, sh);
  let leads = false;  // a run long and thin enough (on average: digits on a rule bulge it) to lead a rule
  for (let k = 0; k < p.n; k++) {
    const cw = p.x1[k] - p.x0[k];
    leads ||= cw >= seg.rule_anchor_frac * sw && cw >= (seg.rule_aspect / 2) * (p.area[k] / cw - 2 * tol);
  }
  if (!leads) return null;
  // runs: whole rules, or the pieces of one that faded next to a digit
  /** @type {number[]} */
  const runs = [];
  const slot = new Int32Array(p.n).fill(-1);
  for (let k = 0; k < p.n; k++) if (p.x1[k] - p.x0[k] >= 2 * run) slot[k] = runs.push(k) - 1;
  const n = runs.length;
  const count = new Float64Array(n * sw);
  const top = new Float64Array(n * sw).fill(sh);
  const bottom = new Float64Array(n * sw).fill(-1);
  for (let r = 0; r < p.runY.length; r++) {
    const k = slot[p.runPiece[r]];
    if (k < 0) continue;
    const y = p.runY[r];
    for (let i = k * sw + p.runX0[r], end = k * sw + p.runX1[r]; i < end; i++) {
      count[i]++;
      top[i] = Math.min(top[i], y);
      bottom[i] = y;  // runs come in raster order
    }
  }
  // a run's columns are contiguous (a piece is connected), [from, to)
  const from = Int32Array.from(runs, (k) => p.x0[k]);
  const to = Int32Array.from(runs, (k) => p.x1[k]);
  const scratch = new Float64Array(Math.max(sw, vw));
  // a run's thickness: the median band height over its columns (digits sitting on it bulge only some)
  const thickness = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let m = 0;
    for (let x = from[k]; x < to[k]; x++) if (count[k * sw + x] > 0) scratch[m++] = count[k * sw + x];
    thickness[k] = lowerMedian(scratch, m, 1);
  }
  // the centre line is fitted on the clean columns only: one run of the run's own thickness
  const observed = new Float64Array(n * sw).fill(NaN);
  for (let k = 0; k < n; k++) {
    for (let i = k * sw + from[k]; i < k * sw + to[k]; i++) {
      const c = count[i];
      if (c > 0 && bottom[i] - top[i] + 1 === c && c <= thickness[k] + 1) observed[i] = (top[i] + bottom[i]) / 2;
    }
  }
  const { centre, slope, straight } = fitRules(observed, count, n, sw, Math.floor(seg.rule_piece_px / 2), seg);
  const { keep, anchor } = collinearLong(centre, observed, from, to, sw, slope, thickness, straight, seg, tol);
  /** @type {number[]} */
  const rules = [];
  for (let k = 0; k < n; k++) {
    if (!keep[k]) continue;
    rules.push(k);
    const a = anchor[k];
    if (a === k) continue;
    // a short piece follows its anchor's line, extended straight past its ends: too little of it is
    // clean to fit a line of its own
    const first = from[a];
    const last = to[a] - 1;
    for (let x = from[k]; x < to[k]; x++) {
      centre[k * sw + x] =
        x < first ? centre[a * sw + first] + slope[a] * (x - first)
        : x > last ? centre[a * sw + last] + slope[a] * (x - last)
        : centre[a * sw + x];
    }
  }
  if (!rules.length) return null;
  // to full resolution: each view column's centre row (NaN: off the rule)
  const nr = rules.length;
  const full = new Float64Array(nr * vw);
  for (let j = 0; j < nr; j++) {
    for (let x = 0; x < vw; x++) full[j * vw + x] = 2 * centre[rules[j] * sw + Math.min(x >> 1, sw - 1)] + 0.5;
  }
  const counts = inkAcross(mask, full, nr, vw, vh, xs, ys, seg.rule_reach_px);
  const rule = new Uint8Array(vw * vh);
  const tops = new Int32Array(nr * vw).fill(vh);
  const bottoms = new Int32Array(nr * vw).fill(-1);
  let largest = -Infinity;
  for (let j = 0; j < nr; j++) {
    let m = 0;
    for (let x = 0; x < vw; x++) if (!Number.isNaN(counts[j * vw + x])) scratch[m++] = counts[j * vw + x];
    const median = lowerMedian(scratch, m, 1);
    const half = Math.max(Number.isNaN(median) ? 1 : median, 1) / 2;
    // a column where the ink across the rule is clearly thicker than the rule holds a digit's stroke
    // lying on, touching or crossing it: the rule's pixels there stay, so the stroke stays whole
    const stroke = 2 * half + seg.rule_stroke_px;
    const reach = half + 1;
    largest = Math.max(largest, reach);
    for (let x = 0; x < vw; x++) {
      const f = full[j * vw + x];
      if (Number.isNaN(f) || counts[j * vw + x] > stroke) continue;
      for (let y = Math.max(0, Math.ceil(f - reach) - 1); y < vh && y <= f + reach + 1; y++) {
        if (Math.abs(y - f) > reach || !mask[x * xs + y * ys]) continue;  // rule &= view
        rule[y * vw + x] = 255;
        tops[j * vw + x] = Math.min(tops[j * vw + x], y);
        bottoms[j * vw + x] = y;
      }
    }
  }
  return { rule, half: largest, top: tops, bottom: bottoms };
}

/**
 * Fit per-column centre rows `centre` [runs, w] (NaN where a column says nothing clean) with
 * straight-plus-gently-bent lines given over each run's extent (count > 0; NaN outside), as _fit_rules:
 * least squares refitted without the columns farther off than each of rule_fit_px, then the clean
 * columns' median residual per piece of `piece` columns, interpolated. Also each line's slope and the
 * fraction of its clean columns near the straight fit.
 * @param {Float64Array} centre
 * @param {Float64Array} extent
 * @param {number} n
 * @param {number} w
 * @param {number} piece
 * @param {SegmentParams} seg
 */
function fitRules(centre, extent, n, w, piece, seg) {
  const line = new Float64Array(n * w);
  const slope = new Float64Array(n);
  const limits = [Infinity, ...seg.rule_fit_px];
  for (const limit of limits) {
    for (let k = 0, o = 0; k < n; k++, o += w) {
      let cnt = 0;
      let sx = 0;
      let sy = 0;
      for (let x = 0; x < w; x++) {
        if (Math.abs(centre[o + x] - line[o + x]) <= limit) {  // NaN: never; Infinity: every present column
          cnt++;
          sx += x;
          sy += centre[o + x];
        }
      }
      const mx = sx / Math.max(cnt, 1);
      const my = sy / Math.max(cnt, 1);
      let v = 0;
      let cov = 0;
      for (let x = 0; x < w; x++) {
        if (Math.abs(centre[o + x] - line[o + x]) <= limit) {
          v += (x - mx) ** 2;
          cov += (x - mx) * (centre[o + x] - my);
        }
      }
      slope[k] = cov / Math.max(v, 1e-9);
      for (let x = 0; x < w; x++) line[o + x] = my + slope[k] * (x - mx);
    }
  }
  const near = limits[limits.length - 1];  // only a gentle bend is followed, never a bulge
  const pieces = Math.ceil(w / piece);
  const knots = new Float64Array(pieces);
  const scratch = new Float64Array(piece);
  const straight = new Float64Array(n);
  const out = new Float64Array(n * w).fill(NaN);
  for (let k = 0, o = 0; k < n; k++, o += w) {
    let used = 0;
    let present = 0;
    for (let q = 0; q < pieces; q++) {
      let m = 0;
      for (let x = q * piece; x < Math.min(w, (q + 1) * piece); x++) {
        const r = centre[o + x] - line[o + x];
        if (r === r) present++;
        if (Math.abs(r) <= near) scratch[m++] = r;
      }
      used += m;
      const knot = lowerMedian(scratch, m, 1);
      knots[q] = Number.isNaN(knot) ? 0 : knot;  // a piece with no clean column does not bend the line
    }
    straight[k] = used / Math.max(present, 1);
    for (let x = 0; x < w; x++) {
      if (!(extent[o + x] > 0)) continue;
      // the knots sit at each piece's middle
      const pos = Math.min(Math.max((x - piece / 2) / piece, 0), pieces - 1);
      const left = Math.floor(pos);
      const right = Math.min(left + 1, pieces - 1);
      const frac = pos - left;
      out[o + x] = line[o + x] + (knots[left] * (1 - frac) + knots[right] * frac);
    }
  }
  return { centre: out, slope, straight };
}

/**
 * Which runs are rules, and each run's anchor: the longest run of the straight line it lies on, as
 * _collinear_long. Pieces on the extension of a longer run's line join it; a line is a rule when its
 * pieces add up long and thin, its anchor is long (a digit is shorter) and straight (digits stacked in
 * a column wander). `observed`: the clean columns' centres the lines were fitted on.
 * @param {Float64Array} centre
 * @param {Float64Array} observed
 * @param {Int32Array} from
 * @param {Int32Array} to
 * @param {number} w
 * @param {Float64Array} slope
 * @param {Float64Array} thickness
 * @param {Float64Array} straight
 * @param {SegmentParams} seg
 * @param {number} tol
 */
function collinearLong(centre, observed, from, to, w, slope, thickness, straight, seg, tol) {
  const n = from.length;
  const length = Int32Array.from(to, (t, k) => t - from[k]);
  const mid = Float64Array.from(to, (t, k) => (from[k] + t - 1) / 2);  // the mean column of the extent
  /** @param {number} k */
  const midCol = (k) => Math.min(Math.max(roundEven(mid[k]), 0), w - 1);
  const atMid = Float64Array.from(mid, (_, k) => centre[k * w + midCol(k)]);
  const anchor = Int32Array.from(length, (_, k) => k);
  const scratch = new Float64Array(w);
  // longest first (a stable sort): each line is led by its longest run; shorter ones lead no rule
  let left = Array.from(anchor).sort((i, j) => length[j] - length[i]);
  while (left.length && length[left[0]] >= seg.rule_anchor_frac * w) {
    const a = left[0];
    /** @param {number} x */
    const line = (x) => atMid[a] + slope[a] * (x - mid[a]);
    left = left.slice(1).filter((r) => {
      let m = 0;
      for (let x = from[r]; x < to[r]; x++) {
        const d = observed[r * w + x] - line(x);
        if (d === d) scratch[m++] = d;
      }
      let off = lowerMedian(scratch, m, 3);  // over the run's clean columns, else its middle
      if (Number.isNaN(off)) off = atMid[r] - line(midCol(r));
      if (Math.abs(off) > 2 * tol) return true;
      anchor[r] = a;
      return false;
    });
  }
  const total = new Float64Array(n);
  const weighted = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    total[anchor[k]] += length[k];
    weighted[anchor[k]] += length[k] * thickness[k];
  }
  const rule = Uint8Array.from(total, (t, k) => {
    const thick = Math.max(weighted[k] / Math.max(t, 1) - 2 * tol, 0);
    return +(
      t >= seg.rule_min_frac * w &&
      length[k] >= seg.rule_anchor_frac * w &&
      straight[k] >= seg.rule_straight &&
      t >= seg.rule_aspect * thick
    );
  });
  return { keep: Uint8Array.from(anchor, (a) => rule[a]), anchor };
}

/**
 * Per rule and view column, the ink within `reach` rows of the rule's centre line (NaN off the rule;
 * rows clamped to the view, so a border row counts again), as _ink_across.
 * @param {Uint8Array} mask
 * @param {Float64Array} full
 * @param {number} nr
 * @param {number} vw
 * @param {number} vh
 * @param {number} xs
 * @param {number} ys
 * @param {number} reach
 */
function inkAcross(mask, full, nr, vw, vh, xs, ys, reach) {
  const counts = new Float64Array(nr * vw).fill(NaN);
  for (let i = 0; i < nr * vw; i++) {
    if (Number.isNaN(full[i])) continue;
    const x = i % vw;
    const row = roundEven(full[i]);
    let c = 0;
    for (let y = row - reach; y <= row + reach; y++) if (mask[x * xs + Math.min(Math.max(y, 0), vh - 1) * ys]) c++;
    counts[i] = c;
  }
  return counts;
}

/**
 * The view without its rules' pixels, except where a stroke crossed a rule: a vertical closing of the
 * rest (cv2.morphologyEx MORPH_CLOSE, kernel int(2 half) + 3 tall) bridges the cut, and the rule pixels
 * it fills stay. Computed only around the rules; returns a new mask.
 * @param {Uint8Array} clean
 * @param {Rules} found
 * @param {number} vw
 * @param {number} vh
 * @param {number} xs
 * @param {number} ys
 */
function closeAcross(clean, found, vw, vh, xs, ys) {
  const { rule, top, bottom } = found;
  const out = clean.slice();
  const k = Math.trunc(2 * found.half) + 3;  // a crossing stroke's cut is at most as tall as the thickest rule
  const before = k >> 1;  // OpenCV's window: offsets -before .. k-1-before, for dilation and erosion
  const cuts = new Int32Array(vh + 1);  // prefix counts along a column
  const dilated = new Int32Array(vh + 1);
  for (let i = 0; i < top.length; i++) {
    if (top[i] > bottom[i]) continue;
    const x = i % vw;
    // kept(y) reads the cut within k rows of y; y0..y1 clip only at the view's border
    const y0 = Math.max(0, top[i] - k);
    const y1 = Math.min(vh - 1, bottom[i] + k);
    let crossed = false;  // most of a rule crosses nothing: its pixels there simply go
    for (let y = y0; y <= y1 && !crossed; y++) crossed = clean[x * xs + y * ys] > 0 && !rule[y * vw + x];
    if (!crossed) {
      for (let y = top[i]; y <= bottom[i]; y++) if (rule[y * vw + x]) out[x * xs + y * ys] = 0;
      continue;
    }
    for (let y = y0; y <= y1; y++) {
      const cut = clean[x * xs + y * ys] && !rule[y * vw + x] ? 1 : 0;
      cuts[y - y0 + 1] = cuts[y - y0] + cut;
    }
    for (let y = y0; y <= y1; y++) {
      const lo = Math.max(y0, y - before) - y0;
      const hi = Math.min(y1, y + k - 1 - before) - y0;
      dilated[y - y0 + 1] = dilated[y - y0] + (cuts[hi + 1] > cuts[lo] ? 1 : 0);
    }
    for (let y = top[i]; y <= bottom[i]; y++) {
      if (!rule[y * vw + x]) continue;
      const lo = Math.max(y0, y - before) - y0;
      const hi = Math.min(y1, y + k - 1 - before) - y0;
      if (dilated[hi + 1] - dilated[lo] < hi - lo + 1) out[x * xs + y * ys] = 0;  // not bridged: it goes
    }
  }
  return out;
}

/**
 * Digit candidates of a (rule-free) ink mask, as find_blobs: outer contours (specks by contour area
 * dropped), fragments joined to their digit, then size, aspect and ink-ratio filters. `inks`: each
 * box's own pieces' ink (a neighbour's stroke reaching into the box is left out); `cut`: pieces cut by
 * the frame's border, never read. In the order of the pieces, not Python's. `raw`: the thresholded
 * mask; with it, a piece near the border is cut only where its side of the border holds ink beside it.
 * @param {Plane} mask
 * @param {SegmentParams} seg
 * @param {Plane} [raw]
 * @returns {{boxes: Box[], inks: Plane[], cut: Box[]}}
 */
export function findBlobs(mask, seg, raw) {
  const { width: W, height: H, data } = mask;
  const p = outerPieces(data, W, H);
  /** @type {Box[]} */
  const pieces = [];
  const pieceOf = new Int32Array(p.n).fill(-1);
  for (let k = 0; k < p.n; k++) {
    if (p.area[k] >= seg.speck_px) pieceOf[k] = pieces.push([p.x0[k], p.y0[k], p.x1[k] - p.x0[k], p.y1[k] - p.y0[k]]) - 1;
  }
  const root = fragmentHosts(pieces, seg);
  // each digit's box: the union of its pieces' boxes, kept at its root piece
  const gx0 = new Int32Array(pieces.length).fill(W);
  const gy0 = new Int32Array(pieces.length).fill(H);
  const gx1 = new Int32Array(pieces.length);
  const gy1 = new Int32Array(pieces.length);
  pieces.forEach(([x, y, w, h], i) => {
    const g = root[i];
    gx0[g] = Math.min(gx0[g], x);
    gy0[g] = Math.min(gy0[g], y);
    gx1[g] = Math.max(gx1[g], x + w);
    gy1[g] = Math.max(gy1[g], y + h);
  });
  const m = seg.edge_margin_px;
  /** @type {Box[]} */
  const cut = [];
  /** @type {Map<number, {box: Box, ink: Uint8Array, count: number}>} */
  const shaped = new Map();
  for (let g = 0; g < pieces.length; g++) {
    if (root[g] !== g) continue;
    const [x0, y0, x1, y1] = [gx0[g], gy0[g], gx1[g], gy1[g]];
    const [w, h] = [x1 - x0, y1 - y0];
    const sides = x0 <= m || x1 >= W - m;
    const ends = y0 <= m || y1 >= H - m;
    const tall = h > seg.max_height_frac * H;  // a border or a shadow
    const near = [x0 <= m, y0 <= m, x1 >= W - m, y1 >= H - m];  // left, top, right, bottom
    const inked = raw && near.some(Boolean) ? borderInk(raw, x0, y0, x1, y1) : [true, true, true, true];
    if (m >= 0 && near.some((n, k) => n && inked[k])) {
      // a cut piece may be any slice of a digit; left out are specks, frame-tall shadows, and lines
      // running into the frame (wider than a digit's slice, or taller than a slice as thin as it)
      const notLine =
        (sides && w <= seg.max_aspect * h) || (ends && h <= seg.cut_line_aspect * Math.max(w, seg.min_height_px));
      if (notLine && Math.max(w, h) >= Math.floor(seg.min_height_px / 2) && !tall) cut.push([x0, y0, w, h]);
    } else if (h >= seg.min_height_px && !tall && w <= seg.max_aspect * h) {
      shaped.set(g, { box: [x0, y0, w, h], ink: new Uint8Array(w * h), count: 0 });
    }
  }
  // each candidate's own ink: its pieces, filled as drawContours(FILLED) fills them, and the mask
  for (let r = 0; r < p.runY.length; r++) {
    const i = pieceOf[p.runPiece[r]];
    const blob = i < 0 ? undefined : shaped.get(root[i]);
    if (!blob) continue;
    const [bx, by, bw] = blob.box;
    const y = p.runY[r];
    for (let x = p.runX0[r]; x < p.runX1[r]; x++) {
      if (data[y * W + x]) {
        blob.ink[(y - by) * bw + x - bx] = 255;
        blob.count++;
      }
    }
  }
  /** @type {Box[]} */
  const boxes = [];
  /** @type {Plane[]} */
  const inks = [];
  for (const { box, ink, count } of shaped.values()) {
    const ratio = count / ink.length;
    if (ratio < seg.min_ink_ratio || ratio > seg.max_ink_ratio) continue;  // a thin loop, a filled blob
    boxes.push(box);
    inks.push({ data: ink, width: box[2], height: box[3] });
  }
  return { boxes, inks, cut };
}

/**
 * A gray frame's digit candidates, as segment_frame: thresholded, specks opened away, rules taken out,
 * blobs found (pieces cut by the border told by the thresholded mask).
 * @param {Plane} gray
 * @param {string} polarity
 * @param {SegmentParams} seg
 */
export function segmentFrame(gray, polarity, seg) {
  const raw = thresholded(gray, polarity, seg);
  return findBlobs(removeRules(openSpecks(raw, seg), seg), seg, raw);
}

/**
 * Whether the frame's left, top, right and bottom border lines hold ink beside the box x0..x1-1,
 * y0..y1-1 (within its rows or columns: a ruled line meeting the border just under a digit is not its
 * stroke), as _border_ink.
 * @param {Plane} raw
 * @param {number} x0
 * @param {number} y0
 * @param {number} x1
 * @param {number} y1
 */
function borderInk(raw, x0, y0, x1, y1) {
  const { width: W, height: H, data } = raw;
  let left = false, top = false, right = false, bottom = false;
  for (let y = y0; y < y1; y++) {
    left ||= data[y * W] > 0;
    right ||= data[y * W + W - 1] > 0;
  }
  for (let x = x0; x < x1; x++) {
    top ||= data[x] > 0;
    bottom ||= data[(H - 1) * W + x] > 0;
  }
  return [left, top, right, bottom];
}

/**
 * For each piece, the index of the digit it belongs to: itself, or the piece it is a fragment of, as
 * _fragment_hosts. A fragment is much shorter than its host and sits on or right above/below it; of
 * several hosts the nearest (then the first) wins, and a host that is itself a fragment is followed.
 * Candidates come from a sweep over x: a host looks only at pieces starting within its reach.
 * @param {Box[]} boxes
 * @param {SegmentParams} seg
 */
function fragmentHosts(boxes, seg) {
  const n = boxes.length;
  const host = Int32Array.from(boxes, (_, i) => i);
  const order = Array.from(host).sort((i, j) => boxes[i][0] - boxes[j][0]);
  const xs = order.map((i) => boxes[i][0]);
  /** @param {number} v @param {boolean} right first position with xs > v (right) or xs >= v */
  const search = (v, right) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (right ? xs[mid] <= v : xs[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const best = new Float64Array(n).fill(Infinity);
  for (let j = 0; j < n; j++) {
    const [xj, yj, wj, hj] = boxes[j];
    const end = search(xj + wj, false);
    for (let s = search(xj - seg.max_fragment_width * wj, true); s < end; s++) {
      const i = order[s];
      const [xi, yi, wi, hi] = boxes[i];
      const overlap = Math.min(xi + wi, xj + wj) - Math.max(xi, xj);
      const gap = Math.max(yi, yj) - Math.min(yi + hi, yj + hj);  // negative: overlapping rows
      if (
        hi <= seg.merge_fragment * hj &&
        wi <= seg.max_fragment_width * wj &&  // much wider than its host: an underline
        overlap >= seg.merge_overlap * Math.min(wi, wj) &&
        gap <= seg.merge_gap_frac * hj &&
        gap < best[i]
      ) {
        best[i] = gap;
        host[i] = j;
      }
    }
  }
  // a fragment's host is strictly taller, so the chains end
  return host.map((i) => {
    while (host[i] !== i) i = host[i];
    return i;
  });
}

// For each 8-neighbourhood (bit t: the neighbour at t * 45 degrees, counterclockwise from east), how
// often an outer contour passes through its centre pixel: once per gap among the neighbours that a
// 4-neighbour opens (a gap of one diagonal is stepped over)
const PASSES = Uint8Array.from({ length: 256 }, (_, code) => {
  if (!code) return 1;  // a lone pixel (its area is 0 all the same)
  let start = 0;
  while (!((code >> start) & 1)) start++;
  let passes = 0;
  let opens = false;  // the gap being walked holds a 4-neighbour
  for (let t = start + 1; t <= start + 8; t++) {
    if ((code >> t % 8) & 1) {
      passes += +opens;
      opens = false;
    } else if (t % 2 === 0) opens = true;
  }
  return passes;
});

/**
 * The outer contours of a binary plane as cv2.findContours(RETR_EXTERNAL) and drawContours(FILLED)
 * give them: 8-connected pieces of ink with their holes, and whatever lies in them, filled; in OpenCV's
 * order (the piece starting last in raster order first). Worked on runs of pixels, since masks are
 * sparse: a hole is a run of paper not 4-connected to the frame's border. `area` is contourArea, the
 * polygon area of the traced outline (for a solid w x h box (w-1)(h-1)): by Pick's theorem, the filled
 * pixels less half the steps of the outline, less 1.
 * @param {Uint8Array} data
 * @param {number} w
 * @param {number} h
 * @returns {Pieces}
 */
function outerPieces(data, w, h) {
  // ink runs, row by row: run r spans columns x0[r] .. x1[r]-1 of row y[r]; rows[y] .. rows[y+1]-1
  /** @type {number[]} */ const ry = [];
  /** @type {number[]} */ const rx0 = [];
  /** @type {number[]} */ const rx1 = [];
  const rows = new Int32Array(h + 1);
  // rows whose length is a multiple of 4 skip paper four pixels at a time
  const words = w % 4 === 0 && data.byteOffset % 4 === 0 ? new Uint32Array(data.buffer, data.byteOffset, (w * h) / 4) : null;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (words && !(x & 3) && !words[(row + x) >> 2]) {
        x += 3;
        continue;
      }
      if (!data[row + x]) continue;
      const x0 = x;
      while (x < w && data[row + x]) x++;
      ry.push(y);
      rx0.push(x0);
      rx1.push(x);
    }
    rows[y + 1] = ry.length;
  }
  // the paper of a row lies in gaps: before its first run, between runs j-1 and j (gap id: run j-1),
  // after its last run. Gaps 4-connected across rows are one region; a region that reaches the frame's
  // border (a row's end, the first or last row) is outside, any other is a hole
  const gapParent = Int32Array.from(ry, (_, r) => r);
  const outside = new Uint8Array(ry.length);
  /** @param {Int32Array} parent @param {number} i */
  const find = (parent, i) => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  /** @param {number} y @param {number} j */
  const gapStart = (y, j) => (j ? rx1[rows[y] + j - 1] : 0);
  /** @param {number} y @param {number} j */
  const gapEnd = (y, j) => (j < rows[y + 1] - rows[y] ? rx0[rows[y] + j] : w);
  /** @param {number} y @param {number} j */
  const gapId = (y, j) => (j && j < rows[y + 1] - rows[y] && y && y < h - 1 ? rows[y] + j - 1 : -1);
  for (let y = 1; y < h; y++) {
    const [above, here] = [rows[y] - rows[y - 1], rows[y + 1] - rows[y]];  // gaps: runs + 1
    for (let i = 0, j = 0; i <= above && j <= here; ) {
      const [s0, e0, s1, e1] = [gapStart(y - 1, i), gapEnd(y - 1, i), gapStart(y, j), gapEnd(y, j)];
      if (s0 < e0 && s1 < e1 && s0 < e1 && s1 < e0) {
        const [u, v] = [gapId(y - 1, i), gapId(y, j)];
        if (u < 0 && v >= 0) outside[find(gapParent, v)] = 1;
        else if (v < 0 && u >= 0) outside[find(gapParent, u)] = 1;
        else if (u >= 0) {
          const [ru, rv] = [find(gapParent, u), find(gapParent, v)];
          gapParent[ru] = rv;
          outside[rv] |= outside[ru];
        }
      }
      if (e0 < e1) i++;
      else j++;
    }
  }
  // filled runs: ink runs joined across the holes between them
  /** @type {number[]} */ const fy = [];
  /** @type {number[]} */ const fx0 = [];
  /** @type {number[]} */ const fx1 = [];
  const filledRows = new Int32Array(h + 1);
  for (let y = 0; y < h; y++) {
    for (let r = rows[y]; r < rows[y + 1]; r++) {
      const hole = r > rows[y] && gapId(y, r - rows[y]) >= 0 && !outside[find(gapParent, r - 1)];
      if (hole) fx1[fx1.length - 1] = rx1[r];
      else { fy.push(y); fx0.push(rx0[r]); fx1.push(rx1[r]); }
    }
    filledRows[y + 1] = fy.length;
  }
  // pieces: filled runs 8-connected across rows
  const parent = Int32Array.from(fy, (_, r) => r);
  for (let y = 1; y < h; y++) {
    let q = filledRows[y - 1];
    for (let r = filledRows[y]; r < filledRows[y + 1]; r++) {
      while (q < filledRows[y] && fx1[q] < fx0[r]) q++;  // ends left of r, not even diagonally touching
      for (let s = q; s < filledRows[y] && fx0[s] <= fx1[r]; s++) parent[find(parent, r)] = find(parent, s);
    }
  }
  let n = 0;
  const label = new Int32Array(fy.length).fill(-1);
  const runPiece = fy.map((_, r) => {
    const root = find(parent, r);
    if (label[root] < 0) label[root] = n++;
    return label[root];
  });
  // OpenCV lists the pieces in reverse order of their first pixel
  for (let r = 0; r < runPiece.length; r++) runPiece[r] = n - 1 - runPiece[r];
  const x0 = new Int32Array(n).fill(w);
  const y0 = new Int32Array(n).fill(h);
  const x1 = new Int32Array(n);
  const y1 = new Int32Array(n);
  const pixels = new Float64Array(n);
  const passes = new Float64Array(n);
  const filled = new Uint8Array(w * h);
  for (let r = 0; r < fy.length; r++) filled.fill(1, fy[r] * w + fx0[r], fy[r] * w + fx1[r]);
  for (let r = 0; r < fy.length; r++) {
    const k = runPiece[r];
    const y = fy[r];
    x0[k] = Math.min(x0[k], fx0[r]);
    x1[k] = Math.max(x1[k], fx1[r]);
    y0[k] = Math.min(y0[k], y);
    y1[k] = y + 1;
    pixels[k] += fx1[r] - fx0[r];
    const up = y > 0 ? -w : 0;  // a missing row reads as the pixel itself: masked out below
    const down = y < h - 1 ? w : 0;
    const edge = (y > 0 ? 0 : 0b00001110) | (y < h - 1 ? 0 : 0b11100000);
    for (let x = fx0[r], i = y * w + x; x < fx1[r]; x++, i++) {
      const left = x > 0 ? 1 : 0;
      const right = x < w - 1 ? 1 : 0;
      const code =
        ((right && filled[i + 1]) |
          ((right && filled[i + up + 1]) << 1) |
          (filled[i + up] << 2) |
          ((left && filled[i + up - 1]) << 3) |
          ((left && filled[i - 1]) << 4) |
          ((left && filled[i + down - 1]) << 5) |
          (filled[i + down] << 6) |
          ((right && filled[i + down + 1]) << 7)) &
        ~edge;
      passes[k] += PASSES[code];
    }
  }
  const area = Float64Array.from(pixels, (px, k) => Math.max(0, px - passes[k] / 2 - 1));
  return { n, x0, y0, x1, y1, area, runY: fy, runX0: fx0, runX1: fx1, runPiece };
}

/**
 * The lower median of the first `m` values of `buf` (reordered in place: quickselect), as _row_medians:
 * NaN under `least`.
 * @param {Float64Array} buf
 * @param {number} m
 * @param {number} least
 */
function lowerMedian(buf, m, least) {
  if (m < least || m === 0) return NaN;
  const k = (m - 1) >> 1;
  for (let lo = 0, hi = m - 1; lo < hi; ) {
    const pivot = buf[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (buf[i] < pivot) i++;
      while (buf[j] > pivot) j--;
      if (i > j) break;
      const swap = buf[i];
      buf[i++] = buf[j];
      buf[j--] = swap;
    }
    if (k <= j) hi = j;  // between j and i: all equal to the pivot
    else if (k >= i) lo = i;
    else break;
  }
  return buf[k];
}

/** np.round: halves to the even neighbour. @param {number} v */
function roundEven(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
