// The browser reader's steps after segmentation against the Python reader's, on the cases
// `python tools/web_cases.py DIR` writes: toMnist on Python's ink planes against its crops, the Reader's
// classification (onnxruntime-web in node) on Python's blobs against its recognition, and the
// LabelStabilizer on Python's per-frame recognitions of a video against its stabilizer. Prints one JSON
// object of figures (tests/test_web_reader.py asserts them).
//
//     node tests/web/parity_reader.mjs DIR
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { readCases, readContract, readVideos } from './cases.mjs';
import { toJson } from '../../src/edgedigits/web/reader/lines.js';
import { SIZE, toMnist } from '../../src/edgedigits/web/reader/normalize.js';
import { Reader } from '../../src/edgedigits/web/reader/reader.js';
import { LabelStabilizer } from '../../src/edgedigits/web/reader/tracker.js';

/** @typedef {import('../../src/edgedigits/web/reader/types.js').Detection} Detection */

const dir = process.argv[2];
const contract = readContract(dir);
ort.env.wasm.numThreads = 1;
const model = fileURLToPath(new URL(`../../models/${contract.model}`, import.meta.url));
const session = await ort.InferenceSession.create(model);
/** @type {import('../../src/edgedigits/web/reader/types.js').Predict} */
const predict = async (batch, n) => {
  const out = await session.run({ [contract.input]: new ort.Tensor('float32', batch, [n, 1, SIZE, SIZE]) });
  return /** @type {Float32Array} */ (out[contract.output].data);
};
const reader = new Reader(contract, predict);

const crops = { n: 0, exact: 0, max_abs: 0, sum_abs: 0, ms: 0 };
const digits = { n: 0, same_label: 0, confidence_max_abs: 0 };
const cases = { n: 0, lines_equal: 0, partial_equal: 0, rejected_equal: 0, json_equal: 0, mismatches: /** @type {string[]} */ ([]) };
/**
 * @template {{box: number[]}} T
 * @param {T[]} ds
 */
const byBox = (ds) => new Map(ds.map((d) => [d.box.join(','), d]));
/** @param {{text: string}[]} ls */
const texts = (ls) => ls.map((ln) => ln.text);

for (const c of readCases(dir)) {
  cases.n++;
  const t0 = performance.now();
  const mine = c.inks.map((ink) => toMnist(ink, contract.reader.normalize));
  crops.ms += performance.now() - t0;
  mine.forEach((crop, i) => {
    let worst = 0;
    crop.forEach((v, k) => {
      const d = Math.abs(v - c.crops[i * SIZE * SIZE + k]);
      worst = Math.max(worst, d);
      crops.sum_abs += d;
    });
    crops.n++;
    crops.exact += worst === 0 ? 1 : 0;
    crops.max_abs = Math.max(crops.max_abs, worst);
  });
  const got = toJson(await reader.read({ boxes: c.boxes, inks: c.inks, cut: c.cut }));
  const want = c.recognition;
  const gotDigits = byBox(got.digits);
  for (const d of want.digits) {
    const g = gotDigits.get(d.box.join(','));
    digits.n++;
    if (g && g.label === d.label) {
      digits.same_label++;
      digits.confidence_max_abs = Math.max(digits.confidence_max_abs, Math.abs(g.confidence - d.confidence));
    }
  }
  const same = {
    lines: isDeepStrictEqual(texts(got.lines), texts(want.lines)),
    partial: isDeepStrictEqual(texts(got.partial), texts(want.partial)),
    rejected: isDeepStrictEqual([...byBox(got.rejected).keys()].sort(), [...byBox(want.rejected).keys()].sort()),
  };
  cases.lines_equal += same.lines ? 1 : 0;
  cases.partial_equal += same.partial ? 1 : 0;
  cases.rejected_equal += same.rejected ? 1 : 0;
  cases.json_equal += isDeepStrictEqual(got, want) ? 1 : 0;
  if (!same.lines || !same.partial || !same.rejected) cases.mismatches.push(c.name);
}

const videos = { n: 0, frames: 0, stable_equal: 0, shift_equal: 0, ms: 0, first_mismatch: /** @type {string | null} */ (null) };
for (const v of readVideos(dir)) {
  videos.n++;
  const stabilizer = new LabelStabilizer(contract.reader.tracker, contract.reader.lines);
  v.frames.forEach((f, t) => {
    /** @param {[number, number, number[]][]} ds */
    const detections = (ds) => ds.map(([label, confidence, box]) => /** @type {Detection} */ ({ label, confidence, box }));
    const recognition = {
      digits: detections(f.digits), rejected: detections(f.rejected), cut: detections(f.cut),
      lines: [], partial: [], crops: new Float32Array(f.digits.length * SIZE * SIZE),
      rejected_crops: new Float32Array(f.rejected.length * SIZE * SIZE),
    };
    const t0 = performance.now();
    const stable = toJson(stabilizer.update(recognition));
    videos.ms += performance.now() - t0;
    videos.frames++;
    const equal = isDeepStrictEqual(stable, f.stable);
    videos.stable_equal += equal ? 1 : 0;
    videos.shift_equal += isDeepStrictEqual(stabilizer.shift, f.shift) ? 1 : 0;
    if (!equal && videos.first_mismatch === null) videos.first_mismatch = `${v.name} frame ${t}`;
  });
}

console.log(JSON.stringify({
  crops: { n: crops.n, exact: crops.exact, max_abs: crops.max_abs, mean_abs: crops.sum_abs / Math.max(1, crops.n * SIZE * SIZE) },
  digits: { ...digits, agreement: digits.same_label / Math.max(1, digits.n) },
  cases,
  videos: { n: videos.n, frames: videos.frames, stable_equal: videos.stable_equal, shift_equal: videos.shift_equal, first_mismatch: videos.first_mismatch },
  ms: { to_mnist_per_crop: crops.ms / Math.max(1, crops.n), tracker_per_frame: videos.ms / Math.max(1, videos.frames) },
}));
