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

/**
 * The cases of a folder written by tools/web_cases.py.
 * @param {string} dir
 */
export function readCases(dir) {
  /** @type {string[]} */
  const names = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  return names.map((name) => {
    const raw = readFileSync(join(dir, `${name}.crops.f32`));
    return {
      name,
      gray: readPgm(join(dir, `${name}.pgm`)),
      mask: readPgm(join(dir, `${name}.mask.pgm`)),
      clean: readPgm(join(dir, `${name}.clean.pgm`)),
      crops: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)),
      ...JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')),
    };
  });
}

/** @param {string} dir */
export const readContract = (dir) => JSON.parse(readFileSync(join(dir, 'contract.json'), 'utf8'));
