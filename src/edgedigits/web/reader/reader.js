// Frame -> digits in reading order and the numbers read: the Python reader's steps
// (runtime/recognizer.py: DigitRecognizer.recognize), with every tunable read from the web export's
// contract.json and the model run through a Predict (onnxruntime-web in the page).
import { CUT, arrange, inLetterWords, pickCrops } from './lines.js';
import { SIZE, toMnist } from './normalize.js';
import { segmentFrame, toGrayRGBA } from './segment.js';

/** @typedef {import('./types.js').Box} Box */
/** @typedef {import('./types.js').Plane} Plane */
/** @typedef {import('./types.js').Detection} Detection */
/** @typedef {import('./types.js').Recognition} Recognition */
/** @typedef {import('./types.js').Predict} Predict */
/**
 * @typedef {object} Contract  contract.json (runtime/settings.py: web_contract), the parts read here
 * @property {string[]} labels
 * @property {number} image_size
 * @property {{score: string, threshold: number}} reject
 * @property {{segment: import('./segment.js').SegmentParams, normalize: import('./normalize.js').NormalizeParams,
 *   lines: import('./lines.js').LineParams,
 *   classify: {vote_below: number, min_confidence: number, shifts: number[][]},
 *   tracker: import('./tracker.js').TrackerParams}} reader
 */

const CROP = SIZE * SIZE;

export class Reader {
  /**
   * @param {Contract} contract
   * @param {Predict} predict
   * @param {string} [polarity]  of the paper: 'dark-on-light', 'light-on-dark' or 'auto'
   */
  constructor(contract, predict, polarity = 'dark-on-light') {
    if (contract.image_size !== SIZE) throw new Error(`the model reads ${contract.image_size}px crops, this reader makes ${SIZE}px ones`);
    if (!['none', 'max_softmax'].includes(contract.reject.score)) {
      throw new Error(`rejection rule score ${contract.reject.score} is not one this reader knows`);
    }
    const { vote_below: voteBelow, shifts } = contract.reader.classify;
    if (!(voteBelow >= 0 && voteBelow <= 1)) throw new Error(`vote_below must be in [0, 1], got ${voteBelow}`);
    if (shifts[0][0] !== 0 || shifts[0][1] !== 0) throw new Error('the first of classify.shifts must be the crop itself, [0, 0]');
    this.contract = contract;
    this.predict = predict;
    this.polarity = polarity;
    this.labels = contract.labels.map(Number);
  }

  /**
   * @param {Uint8Array | Uint8ClampedArray} rgba  a canvas's ImageData.data
   * @param {number} width
   * @param {number} height
   */
  recognizeRGBA(rgba, width, height) {
    return this.recognize(toGrayRGBA(rgba, width, height));
  }

  /**
   * @param {Plane} gray
   * @returns {Promise<Recognition>}
   */
  async recognize(gray) {
    const seg = this.contract.reader.segment;
    if (!gray.width || !gray.height) return arrange([], new Float32Array(0), this.contract.reader.lines);
    return this.read(segmentFrame(gray, this.polarity, seg));
  }

  /**
   * The steps after segmentation: each blob's ink to a crop, one batched model call (and one for the
   * doubtful crops' shifted copies), the contract's labels and rejection rule, reading order.
   * @param {{boxes: Box[], inks: Plane[], cut: Box[]}} found
   * @returns {Promise<Recognition>}
   */
  async read(found) {
    const { lines, normalize, classify } = this.contract.reader;
    /** @type {Detection[]} */
    const cut = found.cut.map((box) => ({ label: CUT, confidence: 0, box }));
    const n = found.boxes.length;
    const crops = new Float32Array(n * CROP);
    found.inks.forEach((ink, i) => crops.set(toMnist(ink, normalize), i * CROP));
    const probs = n ? await this.probabilities(crops, n) : [];
    /** @type {Detection[]} */
    const digits = [];
    /** @type {Detection[]} */
    const rejected = [];
    /** @type {number[]} */
    const kept = [];
    /** @type {number[]} */
    const marks = [];
    const foundAs = probs.map((p, i) => {
      const k = argmax(p);
      return { label: this.labels[k], confidence: p[k], box: found.boxes[i] };
    });
    const byModel = foundAs.map((d) => this.rejects(d.confidence));
    const inWords = inLetterWords(foundAs, byModel, lines);
    foundAs.forEach((d, i) => {
      if (byModel[i] || inWords[i]) {
        marks.push(i);
        rejected.push(d);
      } else if (d.confidence >= classify.min_confidence) {
        kept.push(i);
        digits.push(d);
      }
    });
    return arrange(digits, pickCrops(crops, kept), lines, rejected, cut, pickCrops(crops, marks));
  }

  /**
   * Class probabilities of n crops. Crops the model is less than vote_below sure of are read again
   * shifted by the contract's shifts (one pixel four ways), in one batch, and the readings averaged:
   * centring by mass quantizes to whole pixels, and borderline digits then flip.
   * @param {Float32Array} crops
   * @param {number} n
   * @returns {Promise<Float64Array[]>}
   */
  async probabilities(crops, n) {
    const { vote_below: voteBelow, shifts } = this.contract.reader.classify;
    const probs = softmax(await this.predict(crops, n), n);
    const doubtful = probs.flatMap((p, i) => (Math.max(...p) < voteBelow ? [i] : []));
    if (!doubtful.length) return probs;
    const moves = shifts.slice(1);
    const batch = new Float32Array(moves.length * doubtful.length * CROP);
    moves.forEach(([dy, dx], s) => doubtful.forEach((i, j) => {
      roll(crops.subarray(i * CROP, (i + 1) * CROP), dy, dx, batch.subarray((s * doubtful.length + j) * CROP));
    }));
    const shifted = softmax(await this.predict(batch, moves.length * doubtful.length), moves.length * doubtful.length);
    doubtful.forEach((i, j) => {
      probs[i] = probs[i].map((p, c) => {
        let others = 0;
        for (let s = 0; s < moves.length; s++) others += shifted[s * doubtful.length + j][c];
        return (p + others) / shifts.length;
      });
    });
    return probs;
  }

  /** @param {number} top  the top class probability */
  rejects(top) {
    return this.contract.reject.score === 'max_softmax' && top < this.contract.reject.threshold;
  }
}

/**
 * Row-wise softmax of n rows of logits.
 * @param {Float32Array} logits  [n, classes]
 * @param {number} n
 * @returns {Float64Array[]}
 */
export function softmax(logits, n) {
  const classes = logits.length / n;
  return Array.from({ length: n }, (_, i) => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const top = Math.max(...row);
    const e = Float64Array.from(row, (v) => Math.exp(v - top));
    const sum = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / sum);
  });
}

/**
 * The first index of the largest value (np.argmax).
 * @param {Float64Array} values
 */
function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * np.roll of one crop by dy rows and dx columns, wrapping around, into `out`.
 * @param {Float32Array} crop
 * @param {number} dy
 * @param {number} dx
 * @param {Float32Array} out
 */
function roll(crop, dy, dx, out) {
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      out[mod(y + dy) * SIZE + mod(x + dx)] = crop[y * SIZE + x];
    }
  }
}

/** @param {number} i  an index wrapped into [0, SIZE) */
const mod = (i) => ((i % SIZE) + SIZE) % SIZE;
