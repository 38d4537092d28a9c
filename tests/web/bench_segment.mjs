// Time the browser segmenter's steps on cases of `python tools/web_cases.py DIR` (single-threaded node):
//   node tests/web/bench_segment.mjs DIR [NAME ...]
// prints, per case, the median of 20 runs of each step in milliseconds, as one JSON object.
import { readCases, readContract } from './cases.mjs';
import { findBlobs, inkMask, removeRules, resolvePolarity, toGrayRGBA } from '../../src/edgedigits/web/reader/segment.js';

const RUNS = 20;

/** @param {() => unknown} step */
function median(step) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    step();
    times.push(performance.now() - start);
  }
  return +times.sort((a, b) => a - b)[RUNS >> 1].toFixed(3);
}

const [dir, ...names] = process.argv.slice(2);
if (!dir) throw new Error('usage: node tests/web/bench_segment.mjs CASES_DIR [NAME ...]');
const seg = readContract(dir).reader.segment;
const cases = readCases(dir).filter((c) => !names.length || names.includes(c.name));
for (let i = 0; i < RUNS; i++) {  // warm the JIT up on every case first
  for (const c of cases) findBlobs(removeRules(inkMask(c.gray, 'dark-on-light', seg), seg), seg);
}
/** @type {Record<string, Record<string, number | string>>} */
const report = {};
for (const c of cases) {
  const { width, height } = c.gray;
  const rgba = new Uint8ClampedArray(width * height * 4).map((_, i) => c.gray.data[i >> 2]);
  const mask = inkMask(c.gray, 'dark-on-light', seg);
  const clean = removeRules(mask, seg);
  const times = {
    toGrayRGBA: median(() => toGrayRGBA(rgba, width, height)),
    resolvePolarity: median(() => resolvePolarity(c.gray, 'auto')),
    inkMask: median(() => inkMask(c.gray, 'dark-on-light', seg)),
    removeRules: median(() => removeRules(mask, seg)),
    findBlobs: median(() => findBlobs(clean, seg)),
  };
  report[c.name] = { size: `${width}x${height}`, ...times, total: median(() => findBlobs(removeRules(inkMask(c.gray, 'dark-on-light', seg), seg), seg)) };
}
console.log(JSON.stringify(report, null, 1));
