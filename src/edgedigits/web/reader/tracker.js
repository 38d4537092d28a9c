// Stability over video (runtime/tracker.py): each digit box, each rejected mark and each number is
// tracked across frames, after the camera's own motion is taken out, and voted over its last frames, so
// what is shown stays put while it is in view.
import { greedyMatches, intersection, union } from './boxes.js';
import { arrange, median, pickCrops } from './lines.js';
import { SIZE } from './normalize.js';
import { roundHalfEven } from './numbers.js';

const CROP = SIZE * SIZE;

/** @typedef {import('./types.js').Box} Box */
/** @typedef {import('./types.js').Detection} Detection */
/** @typedef {import('./types.js').Line} Line */
/** @typedef {import('./types.js').Recognition} Recognition */
/** @typedef {import('./lines.js').LineParams} LineParams */
/**
 * @typedef {object} TrackerParams  contract.reader.tracker
 * @property {number} window
 * @property {number} min_iou
 * @property {number} max_missed
 * @property {number} switch_ratio
 * @property {number | null} number_switch  null: switch_ratio
 * @property {number | null} number_window  null: twice window
 * @property {number} max_shift_px
 * @property {number} size_ratio
 * @property {number} bin_frac  shifts are binned by this fraction of a digit's height ...
 * @property {number} min_bin_px  ... at least this many pixels
 * @property {number} inlier_bins  the pairs within this many bins of the best bin vote
 * @property {number} join_inside
 * @property {number} reject_vote  a rejection's vote against a tracked piece being a digit; 0: off
 */
/**
 * @typedef {{box: Box, missed: number, votes: [number | null, number][], label: number | null,
 *   digit: boolean | null}} DigitTrack  votes: (label, confidence), label null where rejected
 */
/** @typedef {{box: Box, missed: number, votes: [string, number][], text: string | null}} NumberTrack */

/**
 * The camera's translation between two frames, from their pieces' boxes: [dx, dy, support], the shift most
 * pairs of like-sized boxes agree on (within `bin_frac` of a digit's height) and how many pairs agree. A
 * pan moves every box alike while a wrong pairing agrees with nothing, so the mode is the motion. Support
 * under 2 is no estimate: [0, 0, support].
 * @param {Box[]} before
 * @param {Box[]} after
 * @param {Pick<TrackerParams, 'max_shift_px' | 'size_ratio' | 'bin_frac' | 'min_bin_px' | 'inlier_bins'>} p
 * @returns {[number, number, number]}
 */
export function estimateShift(before, after, p) {
  /** @type {[number, number][]} */
  const shifts = [];
  for (const a of before) {
    for (const b of after) {
      const dx = b[0] + b[2] / 2 - (a[0] + a[2] / 2), dy = b[1] + b[3] / 2 - (a[1] + a[3] / 2);
      const like = Math.abs(b[3] - a[3]) <= p.size_ratio * a[3] && Math.abs(b[2] - a[2]) <= p.size_ratio * Math.max(a[2], a[3]);
      if (like && Math.max(Math.abs(dx), Math.abs(dy)) <= p.max_shift_px) shifts.push([dx, dy]);
    }
  }
  if (shifts.length < 2) return [0, 0, shifts.length];
  const tol = Math.max(p.min_bin_px, p.bin_frac * median(after.map((b) => b[3])));
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const [dx, dy] of shifts) {
    const key = `${Math.floor(dx / tol)},${Math.floor(dy / tol)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  // the bins in np.unique's order; the first best-supported one, among equals the smallest motion
  const bins = [...counts.keys()].map((k) => k.split(',').map(Number)).sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  let centre = bins[0], best = -1, motion = Infinity;
  for (const [kx, ky] of bins) {
    let score = 0;
    for (const i of [-1, 0, 1]) for (const j of [-1, 0, 1]) score += counts.get(`${kx + i},${ky + j}`) ?? 0;
    const size = Math.abs(2 * kx + 1) + Math.abs(2 * ky + 1);  // bin k's centre is k + 1/2
    if (score > best || (score === best && size < motion)) [best, motion, centre] = [score, size, [kx, ky]];
  }
  const [cx, cy] = centre.map((k) => (k + 0.5) * tol);
  const inliers = shifts.filter(([dx, dy]) => Math.max(Math.abs(dx - cx), Math.abs(dy - cy)) <= p.inlier_bins * tol);
  if (inliers.length < 2) return [0, 0, inliers.length];
  return [median(inliers.map((s) => s[0])), median(inliers.map((s) => s[1])), inliers.length];
}

/**
 * Greedy IoU tracking; each track's label is the confidence-weighted vote of its last `window` frames,
 * with hysteresis: a new label takes over only when its votes reach `switch_ratio` times the shown
 * label's. Before matching, the tracks move by the camera's translation since the last frame. Each
 * number (a line) is a track too, its text voted the same way over its last `number_window` frames, a
 * frame's vote weighing the sum of its digits' confidences; its `votes` and `frames` say how many of the
 * last frames read the text shown. Rejected marks are tracked too, each rejection a vote of `reject_vote`
 * against the piece being a digit, with the same hysteresis: a mark that passes for a digit now and then
 * stays out of the number beside it, and a digit its track has read is shown through the frames that
 * reject it, with its voted label (it needs the frame's `rejected_crops`).
 */
export class LabelStabilizer {
  /**
   * @param {TrackerParams} tracker
   * @param {LineParams} lines
   */
  constructor(tracker, lines) {
    const t = tracker;
    if (t.window < 1 || t.max_missed < 0 || !(t.min_iou > 0 && t.min_iou <= 1) || t.switch_ratio < 1 || !(t.reject_vote >= 0)) {
      throw new Error('need window >= 1, max_missed >= 0, 0 < min_iou <= 1, switch_ratio >= 1 and reject_vote >= 0');
    }
    this.params = t;
    this.lines = lines;
    this.numberSwitch = t.number_switch ?? t.switch_ratio;
    this.numberWindow = t.number_window ?? 2 * t.window;
    /** @type {DigitTrack[]} */
    this.tracks = [];
    /** @type {NumberTrack[]} */
    this.numberTracks = [];
    /** @type {[number, number]} the camera's translation estimated at the last update */
    this.shift = [0, 0];
  }

  /**
   * One frame's recognition -> the same with voted labels and number texts.
   * @param {Recognition} result
   * @returns {Recognition}
   */
  update(result) {
    const marks = this.params.reject_vote ? result.rejected : [];
    const markCrops = result.rejected_crops ?? new Float32Array(0);
    if (marks.length && markCrops.length !== marks.length * CROP) {
      throw new Error('reject_vote needs the rejected marks\' crops (Recognition.rejected_crops)');
    }
    const pieces = [...result.digits, ...marks];
    const crops = new Float32Array(pieces.length * CROP);
    crops.set(result.crops.subarray(0, result.digits.length * CROP));
    crops.set(markCrops.subarray(0, marks.length * CROP), result.digits.length * CROP);
    const boxes = pieces.map((p) => p.box);
    const live = this.tracks.filter((t) => t.missed === 0).map((t) => t.box);
    const [dx, dy] = estimateShift(live, boxes, this.params);
    this.shift = [dx, dy];
    for (const t of [...this.tracks, ...this.numberTracks]) {
      t.box = [roundHalfEven(t.box[0] + dx), roundHalfEven(t.box[1] + dy), t.box[2], t.box[3]];
    }
    const [trackOf, tracks] = this.associate(this.tracks, boxes);
    this.tracks = tracks;
    /** @type {Detection[]} */
    const stable = [];
    /** @type {number[]} */
    const shown = [];
    /** @type {number[]} */
    const hidden = [];
    pieces.forEach((p, pi) => {
      let track = trackOf.get(pi);
      if (!track) this.tracks.push((track = { box: p.box, missed: 0, votes: [], label: null, digit: null }));
      track.box = p.box;
      track.missed = 0;
      const read = pi < result.digits.length;
      push(track.votes, read ? [p.label, p.confidence] : [null, this.params.reject_vote], this.params.window);
      if (this.isDigit(track)) {
        shown.push(pi);
        stable.push(this.vote(p, track));
      } else {
        hidden.push(pi);
      }
    });
    const untracked = result.rejected.slice(marks.length);  // all of them with reject_vote 0
    const rest = markCrops.subarray(marks.length * CROP);
    const out = arrange(
      stable, pickCrops(crops, shown), this.lines, [...hidden.map((i) => pieces[i]), ...untracked], result.cut,
      concat(pickCrops(crops, hidden), rest),
    );
    return { ...out, lines: this.voteNumbers(out.lines) };
  }

  /**
   * Whether a track is shown as a digit at all: its readings' confidences against its rejections, with
   * the labels' hysteresis.
   * @param {DigitTrack} track
   */
  isDigit(track) {
    let read = 0, rejected = 0;
    for (const [label, w] of track.votes) {
      if (label === null) rejected += w;
      else read += w;
    }
    const [shown, other] = track.digit ? [read, rejected] : [rejected, read];
    if (track.digit === null || other >= this.params.switch_ratio * shown) track.digit = read >= rejected;
    return track.digit;
  }

  /**
   * @param {Detection} d
   * @param {DigitTrack} track
   * @returns {Detection}
   */
  vote(d, track) {
    const totals = tally(/** @type {[number, number][]} */ (track.votes.filter(([label]) => label !== null)));
    const best = first(totals);
    if (track.label === null || (totals.get(best) ?? 0) >= this.params.switch_ratio * (totals.get(track.label) ?? 0)) {
      track.label = best;
    }
    return { label: track.label, confidence: (totals.get(track.label) ?? 0) / track.votes.length, box: d.box };
  }

  /**
   * Match tracks (digits or numbers) to this frame's boxes: box index -> track, and the tracks kept (an
   * unmatched one ages, and is dropped after max_missed frames).
   * @template {{box: Box, missed: number}} T
   * @param {T[]} tracks
   * @param {Box[]} boxes
   * @returns {[Map<number, T>, T[]]}
   */
  associate(tracks, boxes) {
    const matched = greedyMatches(tracks.map((t) => t.box), boxes, this.params.min_iou);
    const used = new Set(matched.map(([ti]) => ti));
    tracks.forEach((t, ti) => { if (!used.has(ti)) t.missed += 1; });
    return [new Map(matched.map(([ti, bi]) => [bi, tracks[ti]])), tracks.filter((t) => t.missed <= this.params.max_missed)];
  }

  /**
   * @param {Line[]} lines
   * @returns {Line[]}
   */
  voteNumbers(lines) {
    const joined = this.joinSplit(lines);
    const [trackOf, kept] = this.associate(this.numberTracks, joined.map((ln) => ln.box));
    this.numberTracks = kept;
    return joined.map((line, li) => {
      let track = trackOf.get(li);
      if (!track) this.numberTracks.push((track = { box: line.box, missed: 0, votes: [], text: null }));
      track.box = line.box;
      track.missed = 0;
      const weight = line.digits.reduce((s, d) => s + d.confidence, 0);
      push(track.votes, [line.text, Math.max(weight, 1e-3)], this.numberWindow);
      const totals = tally(track.votes);
      const best = first(totals);
      if (track.text === null || (totals.get(best) ?? 0) > this.numberSwitch * (totals.get(track.text) ?? 0)) {
        track.text = best;
      }
      const votes = track.votes.filter(([text]) => text === track.text).length;
      return { ...line, text: track.text, votes, frames: track.votes.length };
    });
  }

  /**
   * A number whose middle digit was not found this frame falls apart at the gap ("7359" as "7" and
   * "59"); lines that lie mostly (join_inside) within one live number track's box and hold fewer digits
   * than its text are that number again, joined for its vote.
   * @param {Line[]} lines
   * @returns {Line[]}
   */
  joinSplit(lines) {
    if (lines.length < 2 || !this.numberTracks.length) return lines;
    /** @type {Map<number, Line[]>} */
    const groups = new Map();
    for (const line of lines) {
      const owners = this.numberTracks.flatMap((n, ni) => (n.missed === 0 && inside(line.box, n.box) >= this.params.join_inside ? [ni] : []));
      if (owners.length === 1) groups.set(owners[0], [...(groups.get(owners[0]) ?? []), line]);
    }
    /** @type {Map<Line, Line>} */
    const joined = new Map();
    const skip = new Set();
    for (const [ni, group] of groups) {
      const length = group.reduce((s, ln) => s + ln.text.length, 0);
      if (group.length < 2 || length >= (this.numberTracks[ni].text ?? '').length) continue;  // read apart
      joined.set(group[0], join(group));
      group.slice(1).forEach((ln) => skip.add(ln));
    }
    return lines.filter((ln) => !skip.has(ln)).map((ln) => joined.get(ln) ?? ln);
  }
}

/**
 * @param {Float32Array} a
 * @param {Float32Array} b
 */
function concat(a, b) {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Append to a window of votes, dropping the oldest beyond `size` (a deque's maxlen).
 * @template T
 * @param {T[]} votes
 * @param {T} vote
 * @param {number} size
 */
function push(votes, vote, size) {
  votes.push(vote);
  if (votes.length > size) votes.shift();
}

/**
 * Total weight per key, in the order keys first appear.
 * @template K
 * @param {[K, number][]} votes
 */
function tally(votes) {
  /** @type {Map<K, number>} */
  const totals = new Map();
  for (const [key, weight] of votes) totals.set(key, (totals.get(key) ?? 0) + weight);
  return totals;
}

/**
 * The first key with the most weight (Python's max over a dict).
 * @template K
 * @param {Map<K, number>} totals
 * @returns {K}
 */
function first(totals) {
  const [[key0, w0], ...rest] = totals;
  let [best, most] = [key0, w0];
  for (const [key, w] of rest) if (w > most) [best, most] = [key, w];
  return best;
}

/**
 * The fraction of a's area inside b.
 * @param {Box} a
 * @param {Box} b
 */
function inside(a, b) {
  return intersection(a, b) / Math.max(1, a[2] * a[3]);
}

/**
 * Pieces of one number as one line, left to right.
 * @param {Line[]} pieces
 * @returns {Line}
 */
function join(pieces) {
  const sorted = [...pieces].sort((a, b) => a.box[0] - b.box[0]);
  return { text: sorted.map((p) => p.text).join(''), box: union(sorted.map((p) => p.box)), digits: sorted.flatMap((p) => p.digits) };
}
