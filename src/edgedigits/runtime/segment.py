"""Find digit-sized ink blobs on paper-like frames (pure functions of a frame; torch-free).

Pipeline: grayscale -> (invert for light-on-dark) -> light blur -> adaptive threshold, so uneven light
does not matter -> open away specks -> take out ruled/margin/table lines (repairing the strokes they
crossed) -> connected pieces -> join each fragment to its digit -> filter by size, aspect and ink ratio.
The tunable constants are fields of ``SegmentParams``, each with the reason for its default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edgedigits.core.choices import Polarity, check_polarity
from edgedigits.core.errors import FrameError, UsageError


@dataclass(frozen=True)
class SegmentParams:
    """Tunable constants of the segmenter, with the reason for each default."""

    blur_ksize: int = 3  # odd; suppresses sensor noise and JPEG ringing before thresholding (5 blurred
    # small pencil digits away: pencil pages 74.1% -> 78.5% end to end, columns -1 point)
    block_frac: float = 0.12  # adaptive-threshold window, as a fraction of the frame's short side:
    # wider than the thickest stroke (else stroke cores vanish), narrower than a lighting gradient
    threshold_ratio: float = 0.105  # ink is this fraction darker than its neighbourhood: relative, so the
    # same faint pencil stroke counts in a shadow, where every contrast shrinks with the light
    open_ksize: int = 2  # removes specks smaller than this before finding pieces; 0 turns it off
    speck_px: int = 12  # pieces with fewer ink pixels are noise, not digit pieces
    rule_min_frac: float = 0.25  # a straight line this long (fraction of the frame's side, its pieces
    # added up) is a rule or a table line, never a digit: the widest digit stroke is well under that
    rule_anchor_frac: float = 0.15  # and at least one unbroken piece this long (a digit is shorter)
    rule_straight: float = 0.8  # and this much of it on one straight line (stacked digits wander)
    rule_run_frac: float = 0.05  # rules are found as runs of ink at least this fraction of the side long
    rule_aspect: float = 25.0  # and this many times longer than thick: a tall 1 is a thick short line
    rule_tolerance_px: int = 2  # a rule may wander this far off a straight run (tilt, lens, paper curl)
    rule_density: float = 0.6  # a faint rule thresholds into dashes: this much ink along a run will do
    rule_stroke_px: int = 4  # ink across a rule this much thicker than the rule is a digit's stroke on it
    rule_piece_px: int = 96  # a rule's centre line may bend from piece to piece this long (curled pages)
    merge_fragment: float = 0.55  # a piece shorter than this fraction of a neighbour is a fragment of it
    merge_overlap: float = 0.3  # a fragment overlapping its host horizontally by this fraction of its width
    merge_gap_frac: float = 0.3  # ... and vertically closer than this fraction of the host's height joins it
    min_height_px: int = 14  # shorter blobs cannot be read at 28x28
    max_height_frac: float = 0.9  # taller than this fraction of the frame: a border or shadow, not a digit
    max_aspect: float = 2.2  # width / height; a sloppy 2 or 5 can be twice as wide as tall, a ruled line more
    min_ink_ratio: float = 0.06  # ink pixels / box area: below this, a thin loop or frame edge
    max_ink_ratio: float = 0.85  # above this, a filled blob (a thumb, a shadow)
    edge_margin_px: int = 2  # a piece whose box comes this close to the frame's border is cut by it and
    # not read: the speck opening ends a stroke cut by the border 0-2 px inside it, while a whole digit
    # keeps its own margin of paper; with the thresholded mask at hand (where a cut stroke still reaches
    # the border), only where the border beside it holds ink (-1 turns it off: every piece is read)

    def __post_init__(self) -> None:
        if self.blur_ksize < 0 or (self.blur_ksize and self.blur_ksize % 2 == 0):
            raise UsageError(f"blur_ksize must be 0 or odd, got {self.blur_ksize}")
        if not 0 < self.block_frac < 1:
            raise UsageError(f"block_frac must be in (0, 1), got {self.block_frac}")
        if not 0 < self.rule_run_frac <= self.rule_anchor_frac <= self.rule_min_frac <= 1:
            raise UsageError("need 0 < rule_run_frac <= rule_anchor_frac <= rule_min_frac <= 1")
        if not 0 < self.threshold_ratio < 1:
            raise UsageError(f"threshold_ratio must be in (0, 1), got {self.threshold_ratio}")
        if not (0 < self.rule_density <= 1 and 0 < self.rule_straight <= 1):
            raise UsageError("rule_density and rule_straight must be in (0, 1]")
        if self.rule_piece_px < 2 or self.rule_tolerance_px < 0 or self.rule_stroke_px < 0:
            raise UsageError("need rule_piece_px >= 2, rule_tolerance_px >= 0 and rule_stroke_px >= 0")
        if not 0 < self.merge_fragment < 1:
            raise UsageError(f"merge_fragment must be in (0, 1), got {self.merge_fragment}")
        if not 0 <= self.min_ink_ratio < self.max_ink_ratio <= 1:
            raise UsageError("need 0 <= min_ink_ratio < max_ink_ratio <= 1")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Grayscale uint8 from a grayscale, BGR or BGRA uint8 frame."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    raise FrameError(f"frame must be HxW, HxWx1, HxWx3 or HxWx4, got shape {frame.shape}")


def resolve_polarity(gray: np.ndarray, polarity: str) -> Polarity:
    """``auto``: paper is the majority of a frame, so a bright median means dark ink on light paper."""
    polarity = check_polarity(polarity)
    if polarity is not Polarity.AUTO:
        return polarity
    return Polarity.DARK_ON_LIGHT if np.median(gray[::4, ::4]) >= 128 else Polarity.LIGHT_ON_DARK


def thresholded(gray: np.ndarray, polarity: str, params: SegmentParams) -> np.ndarray:
    """Binary uint8 mask (255 = ink) of a grayscale frame, specks left in: light blur, then ink is what is
    ``threshold_ratio`` darker than the mean of its neighbourhood (so uneven light does not matter).

    Binary on purpose: MNIST itself was made from binary NIST digits, anti-aliased by the downscale the
    normalizer repeats; keeping grey levels instead scored lower on the synthetic scenes. A stroke the
    frame's border cuts still reaches the border here; ``open_specks`` ends it 0-2 px inside."""
    paper = gray if resolve_polarity(gray, polarity) is Polarity.DARK_ON_LIGHT else cv2.bitwise_not(gray)
    if params.blur_ksize:
        paper = cv2.GaussianBlur(paper, (params.blur_ksize, params.blur_ksize), 0)
    block = max(3, int(min(gray.shape) * params.block_frac) | 1)
    local = cv2.blur(paper, (block, block), borderType=cv2.BORDER_REPLICATE)
    return cv2.compare(paper, cv2.convertScaleAbs(local, alpha=1.0 - params.threshold_ratio), cv2.CMP_LT)


def open_specks(mask: np.ndarray, params: SegmentParams) -> np.ndarray:
    """The ink mask the reader reads: ``thresholded`` with specks smaller than ``open_ksize`` opened away."""
    if not params.open_ksize:
        return mask
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((params.open_ksize, params.open_ksize), np.uint8))


def remove_rules(mask: np.ndarray, params: SegmentParams) -> tuple[np.ndarray, np.ndarray]:
    """Take ruled, margin, table and grid lines out of an ink mask; returns (clean mask, rule pixels).

    A rule is a straight line of ink far longer and thinner than any digit. Its centre line is fitted and
    only ink within the rule's own thickness of it is taken, so a digit that touches the rule keeps its
    strokes; where a stroke crossed the rule, the cut is closed again across it. Horizontal rules first,
    then vertical ones (margins, table columns) on the transposed mask."""
    clean, removed = mask, np.zeros_like(mask)
    for horizontal in (True, False):
        # work on a view in which the rules run along x; the transpose of a view costs nothing, and
        # the full-resolution mask is copied into that layout only when a rule is found
        small = cv2.resize(
            clean, (max(1, clean.shape[1] // 2), max(1, clean.shape[0] // 2)), interpolation=cv2.INTER_AREA
        )
        small = (small > 0).astype(np.uint8) * 255
        found = _rule_pixels(
            small if horizontal else np.ascontiguousarray(small.T), clean if horizontal else clean.T, params
        )
        if found is None:
            continue
        view = clean if horizontal else np.ascontiguousarray(clean.T)
        rule, half = found
        rule &= view
        cut = cv2.subtract(view, rule)
        reach = int(2 * half) + 3  # a crossing stroke's cut is at most as tall as the thickest rule
        kept = cv2.morphologyEx(cut, cv2.MORPH_CLOSE, np.ones((reach, 1), np.uint8)) & rule
        cut |= kept
        gone = cv2.subtract(rule, kept)
        clean = cut if horizontal else np.ascontiguousarray(cut.T)
        removed |= gone if horizontal else gone.T
    return clean, removed


def _rule_pixels(
    small: np.ndarray, mask: np.ndarray, params: SegmentParams
) -> tuple[np.ndarray, float] | None:
    """Pixels of the near-horizontal rules of ``mask`` and the largest half thickness taken around a
    rule's centre line (None when there are no rules); ``small`` is ``mask`` at half resolution.

    Runs are found at half resolution (a 2x2 block with any ink is ink, so thin rules survive) as places
    where most of a short window along x is ink, in a mask thickened along y: a tilted rule, or a faint
    one that thresholded into dashes, still forms a run. Each run's centre line is fitted on its clean
    columns (where no digit bulges it); runs on one straight line are one rule (see ``_collinear_long``).
    All runs of a frame are fitted together in arrays, so many rules cost about as much as one."""
    h, w = mask.shape
    sh, sw = small.shape
    tol = max(1, params.rule_tolerance_px // 2)
    run = max(3, int(params.rule_run_frac * sw))
    thick = cv2.dilate(small, np.ones((2 * tol + 1, 1), np.uint8))
    # mostly ink along a run: a faint rule that thresholded into dashes still counts, a digit does not
    density = cv2.blur(thick, (run, 1), borderType=cv2.BORDER_REPLICATE)
    band = (density >= 255 * params.rule_density).astype(np.uint8) * 255
    contours, _ = cv2.findContours(band, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    widths = [cv2.boundingRect(c)[2] for c in contours]
    leads = [  # runs long and thin enough (on average: digits on a rule bulge it) to lead a rule
        cw >= params.rule_anchor_frac * sw
        and cw >= params.rule_aspect / 2 * (cv2.contourArea(c) / cw - 2 * tol)
        for c, cw in zip(contours, widths, strict=True)
    ]
    if not any(leads):
        return None
    # runs: whole rules, or the pieces of one that faded next to a digit
    pieces = [c for c, cw in zip(contours, widths, strict=True) if cw >= 2 * run]
    ids = np.zeros_like(band, np.int32)  # which piece each band pixel belongs to (1-based)
    for k, c in enumerate(pieces):
        cv2.drawContours(ids, [c], -1, k + 1, thickness=cv2.FILLED)
    ys, xs = np.nonzero(ids)
    key = (ids[ys, xs] - 1) * sw + xs
    shape = (len(pieces), sw)
    count = np.bincount(key, minlength=shape[0] * sw).reshape(shape)
    top = np.full(shape[0] * sw, sh, np.int64)
    bottom = np.full(shape[0] * sw, -1, np.int64)
    np.minimum.at(top, key, ys)
    np.maximum.at(bottom, key, ys)
    top, bottom = top.reshape(shape), bottom.reshape(shape)
    # a run's thickness: the median band height over its columns (digits sitting on it bulge only some)
    thickness = _row_medians(np.where(count > 0, count, np.nan), least=1)
    # the centre line is fitted on the clean columns only: one run of the run's own thickness
    clean = (count > 0) & (bottom - top + 1 == count) & (count <= thickness[:, None] + 1)
    observed = np.where(clean, (top + bottom) / 2.0, np.nan)
    centre, slope, straight = _fit_rules(observed, count > 0, params.rule_piece_px // 2)
    keep, anchor = _collinear_long(centre, observed, slope, thickness, straight, params, tol)
    if not keep.any():
        return None
    # a short piece follows its anchor's line: too little of it is clean to fit a line of its own
    cols = np.arange(sw)
    short = np.flatnonzero(keep & (anchor != np.arange(len(keep))))
    for k in short:
        a = anchor[k]
        ref = np.flatnonzero(~np.isnan(centre[a]))
        at = np.interp(cols, ref, centre[a, ref]) + slope[a] * (
            np.clip(cols - ref[-1], 0, None) + np.clip(cols - ref[0], None, 0)
        )
        centre[k] = np.where(np.isnan(centre[k]), np.nan, at)
    centre = centre[keep]
    # to full resolution: every full-res column, its centre row and the rule's half thickness
    cols = np.arange(w)
    present = ~np.isnan(centre)
    full = 2 * centre[:, np.minimum(cols // 2, sw - 1)] + 0.5
    full_present = present[:, np.minimum(cols // 2, sw - 1)]
    counts = _ink_across(mask, full, full_present)
    half = np.maximum(np.nan_to_num(_row_medians(counts, 1), nan=1.0), 1.0) / 2
    # a column where the ink across the rule is clearly thicker than the rule holds a digit's stroke
    # lying on, touching or crossing it: the rule's pixels there stay, so the stroke stays whole
    stroke = counts > 2 * half[:, None] + params.rule_stroke_px
    half += 1.0
    out = np.zeros(mask.shape, np.uint8)  # C order even when mask is a transposed view
    for k in range(len(centre)):  # paint each rule's band of half-thickness around its centre line
        on = np.flatnonzero(full_present[k] & ~stroke[k])
        top = max(0, int(np.nanmin(full[k]) - half[k]))
        bottom = min(h, int(np.nanmax(full[k]) + half[k]) + 2)
        rows = np.arange(top, bottom, dtype=np.float32)[:, None]
        inside = np.abs(rows - full[k, on][None, :]) <= half[k]
        out[top:bottom, on] |= inside.astype(np.uint8) * 255
    return out, float(half.max())


def _fit_rules(centre: np.ndarray, extent: np.ndarray, piece: int):
    """Fit per-column centre rows ``centre`` [rules, columns] (NaN where a column says nothing clean)
    with straight-plus-gently-bent centre lines, given over each rule's ``extent`` (NaN outside); also
    each line's slope and the fraction of its clean columns within ``RULE_FIT_PX[-1]`` of the straight fit."""
    n, w = centre.shape
    present = ~np.isnan(centre)
    cols = np.broadcast_to(np.arange(w, dtype=np.float64), centre.shape)
    use = present.copy()
    line = np.zeros_like(centre)
    for limit in (np.inf, *RULE_FIT_PX):  # least squares per rule, refitted without outlying columns
        use = present & (np.abs(centre - line) <= limit) if np.isfinite(limit) else present
        cnt = np.maximum(use.sum(1, keepdims=True), 1)
        mx = np.where(use, cols, 0).sum(1, keepdims=True) / cnt
        my = np.where(use, centre, 0).sum(1, keepdims=True) / cnt
        dx = np.where(use, cols - mx, 0)
        var = np.maximum((dx**2).sum(1, keepdims=True), 1e-9)
        slope = (dx * np.where(use, centre - my, 0)).sum(1, keepdims=True) / var
        line = my + slope * (cols - mx)
    use = present & (np.abs(centre - line) <= RULE_FIT_PX[-1])  # a gentle bend is followed, never a bulge
    pieces = -(-w // piece)
    residual = np.full((n, pieces * piece), np.nan)
    residual[:, :w] = np.where(use, centre - line, np.nan)
    knots = _row_medians(residual.reshape(n * pieces, piece), least=1).reshape(n, pieces)
    knots = np.nan_to_num(knots, nan=0.0)  # a piece with no clean column does not bend the line
    # linear interpolation of the knots (at each piece's middle) to every column
    pos = np.clip((np.arange(w) - piece / 2.0) / piece, 0, pieces - 1)
    left = np.floor(pos).astype(np.int64)
    right = np.minimum(left + 1, pieces - 1)
    frac = pos - left
    bend = knots[:, left] * (1 - frac) + knots[:, right] * frac
    straight = use.sum(1) / np.maximum(present.sum(1), 1)  # clean columns on the line: 1 for a rule
    return np.where(extent, line + bend, np.nan), slope[:, 0], straight


def _collinear_long(
    centre: np.ndarray,
    observed: np.ndarray,
    slope: np.ndarray,
    thickness: np.ndarray,
    straight: np.ndarray,
    params: SegmentParams,
    tol: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Which runs are rules, and each run's anchor: the longest run of the straight line it lies on.

    One rule fades into pieces next to the digits written on it: pieces on the extension of a longer
    run's line join it. A line is a rule when its pieces add up long and thin, its anchor is long (a
    digit is shorter) and straight (digits stacked in a column wander). ``centre`` [runs, columns] is
    the fitted centre line, NaN off each run; ``observed`` the clean columns' centres it was fitted on
    (a piece crowded by digits has few, and a poor fit of its own); ``thickness`` each run's height."""
    n, w = centre.shape
    cols = np.arange(w)
    length = (~np.isnan(centre)).sum(1)
    on = ~np.isnan(centre)
    mid = np.where(on, cols, 0).sum(1) / np.maximum(length, 1)
    at_mid = centre[np.arange(n), np.clip(np.round(mid).astype(np.int64), 0, w - 1)]
    at_mid = np.where(np.isnan(at_mid), np.nanmean(centre, 1), at_mid)
    anchor = np.arange(n)
    left = np.argsort(-length, kind="stable")  # longest first: each line is led by its longest run
    while len(left) and length[left[0]] >= params.rule_anchor_frac * w:  # shorter ones lead no rule
        a, rest = left[0], left[1:]
        line = at_mid[a] + slope[a] * (cols - mid[a])
        off = _row_medians(observed[rest] - line)  # over each run's clean columns
        guess = at_mid[rest] - line[np.clip(np.round(mid[rest]).astype(np.int64), 0, w - 1)]
        off = np.where(np.isnan(off), guess, off)
        joins = np.abs(off) <= 2 * tol
        anchor[rest[joins]] = a
        left = rest[~joins]
    total = np.bincount(anchor, weights=length, minlength=n)
    thick = np.bincount(anchor, weights=length * thickness, minlength=n) / np.maximum(total, 1)
    thick = np.maximum(thick - 2 * tol, 0)
    rule = (
        (total >= params.rule_min_frac * w)
        & (length >= params.rule_anchor_frac * w)
        & (straight >= params.rule_straight)
        & (total >= params.rule_aspect * thick)
    )
    return rule[anchor], anchor


def _row_medians(values: np.ndarray, least: int = 3) -> np.ndarray:
    """Each row's (lower) median over its non-NaN entries; NaN where a row has fewer than ``least``."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    valid = (~np.isnan(ordered)).sum(1)
    median = ordered[np.arange(len(ordered)), np.maximum(valid - 1, 0) // 2]
    return np.where(valid >= least, median, np.nan)


def _ink_across(mask: np.ndarray, centre: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per rule and column, the ink within ``RULE_REACH_PX`` rows of the rule's centre line (NaN off the
    rule): its median over the columns is the rule's own thickness (digits thicken only some columns)."""
    offsets = np.arange(-RULE_REACH_PX, RULE_REACH_PX + 1)[None, :, None]
    safe = np.where(present, centre, 0)
    rows = np.clip(np.round(safe)[:, None, :].astype(np.int64) + offsets, 0, mask.shape[0] - 1)
    counts = (mask[rows, np.arange(mask.shape[1])[None, None, :]] > 0).sum(1).astype(np.float64)
    counts[~present] = np.nan
    return counts


RULE_FIT_PX = (3.0, 1.5)  # a rule's line is refitted without the columns farther off it than these: a
# digit on the rule bulges its centre by more, tilt and lens curvature by less
RULE_REACH_PX = 6  # the ink across a rule is looked for this far from its centre line: it covers pen-,
# pencil- and printed rules; wider looks took in the digits sitting on them (notebook pages -0.4 points),
# so a marker line thicker than about 13 px is not taken out


@dataclass(frozen=True)
class Blobs:
    """Digit candidates of one frame: boxes (x, y, w, h) and each one's own ink."""

    boxes: np.ndarray  # int [N, 4]
    inks: list[np.ndarray] = field(repr=False)  # uint8 box-sized masks: the candidate's pieces only
    cut: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))  # int [M, 4]: pieces
    # cut by the frame's border (``edge_margin_px``), never read

    def __len__(self) -> int:
        return len(self.boxes)


def find_blobs(mask: np.ndarray, params: SegmentParams, raw: np.ndarray | None = None) -> Blobs:
    """Digit candidates of a (rule-free) ink mask: outer contours, fragments joined to their digit,
    then size, aspect and ink-ratio filters. Linear in the number of pieces, vectorized across them.
    ``raw``: the ``thresholded`` mask; with it, a piece near the border is cut by it only where its side
    of the border holds ink next to it (a whole digit ending a pixel short of the border is read)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contours = [c for c in contours if cv2.contourArea(c) >= params.speck_px]
    if not contours:
        return Blobs(np.zeros((0, 4), np.int64), [])
    boxes = np.array([cv2.boundingRect(c) for c in contours], np.int64)
    root = _fragment_hosts(boxes, params)
    groups, member_of = np.unique(root, return_inverse=True)
    x0 = np.full(len(groups), np.iinfo(np.int64).max)
    y0 = x0.copy()
    x1 = np.zeros(len(groups), np.int64)
    y1 = x1.copy()
    np.minimum.at(x0, member_of, boxes[:, 0])
    np.minimum.at(y0, member_of, boxes[:, 1])
    np.maximum.at(x1, member_of, boxes[:, 0] + boxes[:, 2])
    np.maximum.at(y1, member_of, boxes[:, 1] + boxes[:, 3])
    merged = np.stack([x0, y0, x1 - x0, y1 - y0], 1)
    w, h = merged[:, 2], merged[:, 3]
    m = params.edge_margin_px
    near = np.stack(  # left, top, right, bottom
        [
            merged[:, 0] <= m,
            merged[:, 1] <= m,
            merged[:, 0] + w >= mask.shape[1] - m,
            merged[:, 1] + h >= mask.shape[0] - m,
        ]
    ) & (m >= 0)
    if raw is not None:
        for g in np.flatnonzero(near.any(0)):
            near[:, g] &= _border_ink(raw, merged[g])
    at_edge = near.any(0)
    # a cut piece may be any slice of a digit (a sliver, a foot), so the number it belongs to is known to
    # be cut; left out are specks, frame-tall shadows, and lines running into the frame: one through the
    # left or right border is wider than a digit's slice is (max_aspect), one through the top or bottom
    # border taller than a slice of a digit as thin as it is (CUT_LINE_ASPECT)
    sides = (merged[:, 0] <= m) | (merged[:, 0] + w >= mask.shape[1] - m)
    ends = (merged[:, 1] <= m) | (merged[:, 1] + h >= mask.shape[0] - m)
    not_line = (sides & (w <= params.max_aspect * h)) | (
        ends & (h <= CUT_LINE_ASPECT * np.maximum(w, params.min_height_px))
    )
    cut = np.flatnonzero(
        at_edge
        & not_line
        & (np.maximum(w, h) >= params.min_height_px // 2)
        & (h <= params.max_height_frac * mask.shape[0])
    )
    shaped = np.flatnonzero(
        ~at_edge
        & (h >= params.min_height_px)
        & (h <= params.max_height_frac * mask.shape[0])
        & (w <= params.max_aspect * h)
    )
    members = [[] for _ in groups]
    for i, g in enumerate(member_of):
        members[g].append(contours[i])
    kept, inks = [], []
    for g in shaped:
        x, y, bw, bh = (int(v) for v in merged[g])
        own = np.zeros((bh, bw), np.uint8)
        cv2.drawContours(own, members[g], -1, 255, thickness=cv2.FILLED, offset=(-x, -y))
        own &= mask[y : y + bh, x : x + bw]  # a neighbour's stroke reaching into the box is left out
        if params.min_ink_ratio <= cv2.countNonZero(own) / float(own.size) <= params.max_ink_ratio:
            kept.append(g)
            inks.append(own)
    return Blobs(merged[kept].reshape(-1, 4), inks, merged[cut].reshape(-1, 4))


def segment_frame(gray: np.ndarray, polarity: str, params: SegmentParams) -> Blobs:
    """A grayscale frame's digit candidates: thresholded, specks opened away, rules taken out, blobs
    found (pieces cut by the border told by the thresholded mask)."""
    raw = thresholded(gray, polarity, params)
    clean, _ = remove_rules(open_specks(raw, params), params)
    return find_blobs(clean, params, raw)


def _border_ink(raw: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Whether the frame's left, top, right and bottom border lines hold ink beside ``box`` (within its
    rows or columns: a ruled line meeting the border just under a digit is not its stroke)."""
    x, y, w, h = (int(v) for v in box)
    left, right, top, bottom = raw[y : y + h, 0], raw[y : y + h, -1], raw[0, x : x + w], raw[-1, x : x + w]
    return np.array([left.any(), top.any(), right.any(), bottom.any()])


CUT_LINE_ASPECT = 4.0  # a piece through the top or bottom border taller than this many times its width
# (or the smallest digit's height) is a line drawn into the frame, not a slice of a digit
MAX_FRAGMENT_WIDTH = 1.25  # a 5's bar may stick out beyond its body; an underline is wider still


def _fragment_hosts(boxes: np.ndarray, params: SegmentParams) -> np.ndarray:
    """For each piece, the index of the digit it belongs to: itself, or the piece it is a fragment of.

    A fragment (a 5's detached bar, a broken stroke) is much shorter than its host and sits on or right
    above/below it; two pieces that are each digit-sized never join, so digits in a column and close
    digits of a number stay apart. Candidate pairs come from a sweep over x: each host looks only at
    the pieces starting within its own reach (a fragment is at most ``MAX_FRAGMENT_WIDTH`` times as
    wide as its host), so the work grows with the pieces and their neighbours, never with all pairs,
    even when one piece is as wide as the frame."""
    n = len(boxes)
    host = np.arange(n)
    if n < 2:
        return host
    x, y, w, h = boxes.T
    order = np.argsort(x, kind="stable")
    lo = np.searchsorted(x[order], x - MAX_FRAGMENT_WIDTH * w, "right")  # host j's candidate fragments
    hi = np.searchsorted(x[order], x + w, "left")
    counts = hi - lo
    j = np.repeat(np.arange(n), counts)
    i = order[np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)]
    overlap = np.minimum(x[i] + w[i], x[j] + w[j]) - np.maximum(x[i], x[j])
    gap = np.maximum(y[i], y[j]) - np.minimum(y[i] + h[i], y[j] + h[j])  # negative: overlapping rows
    ok = (
        (h[i] <= params.merge_fragment * h[j])
        & (w[i] <= MAX_FRAGMENT_WIDTH * w[j])  # much wider than its host: an underline, not a fragment
        & (overlap >= params.merge_overlap * np.minimum(w[i], w[j]))
        & (gap <= params.merge_gap_frac * h[j])
    )
    i, j, gap = i[ok], j[ok], gap[ok]
    nearest = np.lexsort((gap, i))  # per fragment, its closest host first
    i, j = i[nearest], j[nearest]
    first = np.r_[True, i[1:] != i[:-1]] if len(i) else np.zeros(0, bool)
    host[i[first]] = j[first]
    while (host[host] != host).any():  # a host that is itself a fragment of a taller piece: follow it
        host = host[host]
    return host
