// Read the cases `python tools/web_cases.py DIR` writes (the Python reader's results on generated pages).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A binary PGM (P5, 8-bit) as a plane.
 * @param {string} path
 * @returns {import('../../src/edgedigits/web/reader/types.js').Plane}
 */
export function readPgm(path) {
  const bytes = readFileSync(path);
  const header = [];
  let pos = 0;
  while (header.length < 4) {
    while (/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    if (bytes[pos] === 0x23) { while (bytes[pos] !== 0x0a) pos++; continue; }  // a comment line
    let start = pos;
    while (!/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    header.push(bytes.subarray(start, pos).toString('latin1'));
  }
  pos++;  // the single whitespace after maxval
  const [magic, w, h] = [header[0], Number(header[1]), Number(header[2])];
  if (magic !== 'P5' || Number(header[3]) !== 255) throw new Error(`${path}: not an 8-bit P5 PGM`);
  return { data: new Uint8Array(bytes.buffer, bytes.byteOffset + pos, w * h).slice(), width: w, height: h };
}

/** @typedef {import('../../src/edgedigits/web/reader/types.js').Plane} Plane */
/** @typedef {import('../../src/edgedigits/web/reader/types.js').Box} Box */
/** @typedef {{label: number, confidence: number, box: Box}} JsonDetection  confidence to 4 decimals */
/** @typedef {{text: string, box: Box, votes?: number, frames?: number}} JsonLine */
/** @typedef {{digits: JsonDetection[], lines: JsonLine[], partial: JsonLine[], rejected: JsonDetection[]}} JsonRecognition */
/**
 * @typedef {object} Case  one page: its planes, find_blobs' boxes, cut pieces, inks and the crops made of
 *   them, and the Python reader's recognition as `detect --json` writes it
 * @property {string} name
 * @property {Plane} gray
 * @property {Plane} raw  the thresholded mask, specks left in
 * @property {Plane} mask
 * @property {Plane} clean
 * @property {Float32Array} crops
 * @property {Plane[]} inks
 * @property {Box[]} boxes
 * @property {Box[]} cut
 * @property {JsonRecognition} recognition
 */

/**
 * The cases of a folder written by tools/web_cases.py.
 * @param {string} dir
 * @returns {Case[]}
 */
export function readCases(dir) {
  /** @type {string[]} */
  const names = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  return names.map((name) => {
    const cropBytes = readFileSync(join(dir, `${name}.crops.f32`));
    const record = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
    const inks = readFileSync(join(dir, `${name}.inks.u8`));
    let at = 0;
    const planes = record.boxes.map((/** @type {Box} */ [, , width, height]) => {
      const data = new Uint8Array(inks.subarray(at, (at += width * height)));
      return { data, width, height };
    });
    return {
      name,
      gray: readPgm(join(dir, `${name}.pgm`)),
      raw: readPgm(join(dir, `${name}.raw.pgm`)),
      mask: readPgm(join(dir, `${name}.mask.pgm`)),
      clean: readPgm(join(dir, `${name}.clean.pgm`)),
      crops: new Float32Array(cropBytes.buffer.slice(cropBytes.byteOffset, cropBytes.byteOffset + cropBytes.length)),
      inks: planes,
      ...record,
    };
  });
}

/**
 * The videos of a folder written by tools/web_cases.py: per frame, the recognition's digits, rejected
 * marks and cut pieces ([label, confidence, box]), the camera shift and the stabilized result's JSON.
 * @param {string} dir
 * @returns {{name: string, frames: {digits: [number, number, number[]][], rejected: [number, number, number[]][],
 *   cut: [number, number, number[]][], shift: [number, number], stable: object}[]}[]}
 */
export function readVideos(dir) {
  /** @type {string[]} */
  const names = JSON.parse(readFileSync(join(dir, 'videos.json'), 'utf8'));
  return names.map((name) => ({ name, frames: JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) }));
}

/** @param {string} dir */
export const readContract = (dir) => JSON.parse(readFileSync(join(dir, 'contract.json'), 'utf8'));
