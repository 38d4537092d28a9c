// PLACEHOLDER until the segmenter's port (runtime/segment.py) lands from branch h-seg, which replaces
// this file: the names and shapes reader.js imports, so the reader type-checks without it.

/** @typedef {import('./types.js').Plane} Plane */
/** @typedef {import('./types.js').Box} Box */

const missing = () => new Error('segment.js: the segmenter is not ported yet');

/**
 * @param {Uint8Array | Uint8ClampedArray} rgba
 * @param {number} width
 * @param {number} height
 * @returns {Plane}
 */
export function toGrayRGBA(rgba, width, height) { throw missing(); }

/**
 * @param {Plane} gray
 * @param {string} polarity
 * @param {object} seg  contract.reader.segment
 * @returns {Plane}  255 = ink
 */
export function inkMask(gray, polarity, seg) { throw missing(); }

/**
 * @param {Plane} mask
 * @param {object} seg
 * @returns {Plane}  the mask without its rules (Python's first result)
 */
export function removeRules(mask, seg) { throw missing(); }

/**
 * @param {Plane} mask
 * @param {object} seg
 * @returns {{boxes: Box[], inks: Plane[], cut: Box[]}}
 */
export function findBlobs(mask, seg) { throw missing(); }
