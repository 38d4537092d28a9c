// Time the browser segmenter's steps on cases of `python tools/web_cases.py DIR` (single-threaded node):
//   node tests/web/bench_segment.mjs DIR [NAME ...]
// prints, per case, the median of 20 runs of each step in milliseconds, as one JSON object: wall clock
// (performance.now()) and the process's CPU time, which a machine shared with other work inflates less.
import { readCases, readContract } from './cases.mjs';
import { findBlobs, openSpecks, removeRules, resolvePolarity, segmentFrame, thresholded, toGrayRGBA } from '../../src/edgedigits/web/reader/segment.js';

const RUNS = 20;

/** @param {() => unknown} step @returns {[number, number]} wall and CPU milliseconds */
function median(step) {
  const wall = [];
  const cpu = [];
  for (let i = 0; i < RUNS; i++) {
    const [start, used] = [performance.now(), process.cpuUsage()];
    step();
    const { user, system } = process.cpuUsage(used);
    wall.push(performance.now() - start);
    cpu.push((user + system) / 1000);
  }
  const middle = (/** @type {number[]} */ times) => +times.sort((a, b) => a - b)[RUNS >> 1].toFixed(3);
  return [middle(wall), middle(cpu)];
}

const [dir, ...names] = process.argv.slice(2);
if (!dir) throw new Error('usage: node tests/web/bench_segment.mjs CASES_DIR [NAME ...]');
const seg = readContract(dir).reader.segment;
const cases = readCases(dir).filter((c) => !names.length || names.includes(c.name));
for (let i = 0; i < RUNS; i++) {  // warm the JIT up on every case first
  for (const c of cases) segmentFrame(c.gray, 'dark-on-light', seg);
}
/** @type {Record<string, {size: string, wall_ms: Record<string, number>, cpu_ms: Record<string, number>}>} */
const report = {};
for (const c of cases) {
  const { width, height } = c.gray;
  const rgba = new Uint8ClampedArray(width * height * 4).map((_, i) => c.gray.data[i >> 2]);
  const raw = thresholded(c.gray, 'dark-on-light', seg);
  const mask = openSpecks(raw, seg);
  const clean = removeRules(mask, seg);
  const steps = {
    toGrayRGBA: median(() => toGrayRGBA(rgba, width, height)),
    resolvePolarity: median(() => resolvePolarity(c.gray, 'auto')),
    thresholded: median(() => thresholded(c.gray, 'dark-on-light', seg)),
    openSpecks: median(() => openSpecks(raw, seg)),
    removeRules: median(() => removeRules(mask, seg)),
    findBlobs: median(() => findBlobs(clean, seg, raw)),
    frame: median(() => segmentFrame(toGrayRGBA(rgba, width, height), 'auto', seg)),
  };
  const pick = (/** @type {0 | 1} */ i) => Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, v[i]]));
  report[c.name] = { size: `${width}x${height}`, wall_ms: pick(0), cpu_ms: pick(1) };
}
console.log(JSON.stringify(report, null, 1));
