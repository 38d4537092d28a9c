// Python's rounding, where the reader's results depend on it.

/**
 * Python's round(x) to an integer: halves go to the even neighbour (Math.round sends them up).
 * @param {number} x
 */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Python's round(x, 4): the decimal nearest to x's exact value, a tie to the even last digit. toFixed
 * rounds the exact value too, but a tie up; ties are the odd multiples of 1/32 (x * 10^4 ends in .5).
 * @param {number} x
 */
export function round4(x) {
  const tie = Number.isInteger(x * 32) && Math.abs(x * 32) % 2 === 1;
  return Number(tie ? (roundHalfEven(x * 1e4) / 1e4).toFixed(4) : x.toFixed(4));
}
