// Shared shapes of the browser reader (JSDoc types, checked by `npm run typecheck`).

/** @typedef {{data: Uint8Array, width: number, height: number}} Plane  one 8-bit channel, row-major */
/** @typedef {[number, number, number, number]} Box  x, y, w, h in frame pixels */
/** @typedef {{label: number, confidence: number, box: Box}} Detection  label -1: a piece cut by the border */
/**
 * @typedef {object} Line  one number: its text, box and digits (`votes`/`frames`: video only)
 * @property {string} text
 * @property {Box} box
 * @property {Detection[]} digits
 * @property {number} [votes]
 * @property {number} [frames]
 */
/**
 * @typedef {object} Recognition  one frame's result, as the Python reader's `Recognition`
 * @property {Detection[]} digits
 * @property {Line[]} lines
 * @property {Line[]} partial
 * @property {Detection[]} rejected
 * @property {Detection[]} cut
 * @property {Float32Array} crops  [N, 28, 28], the model's inputs of `digits`, in their order
 * @property {Float32Array} rejected_crops  those of `rejected` (or none): video votes may show a mark
 */
/** @typedef {(batch: Float32Array, n: number) => Promise<Float32Array>} Predict  [n,1,28,28] -> logits [n, classes] */

export {};
