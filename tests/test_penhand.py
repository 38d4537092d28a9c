"""The simulated pen (held-out evaluation hand): shapes, sizes, determinism, coverage of labels and marks."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits.evaluation.penhand import MARK_KINDS, pen_digit, pen_mark

LABELS = range(10)


def _ink_rows(alpha: np.ndarray) -> int:
    rows = np.nonzero(alpha.max(axis=1) > 0)[0]
    return int(rows[-1] - rows[0] + 1)


def _check_alpha(alpha: np.ndarray) -> None:
    assert isinstance(alpha, np.ndarray)
    assert alpha.ndim == 2
    assert alpha.dtype == np.float32
    assert np.isfinite(alpha).all()
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    # a zero margin all round
    assert alpha[0].max() == 0 and alpha[-1].max() == 0
    assert alpha[:, 0].max() == 0 and alpha[:, -1].max() == 0
    # real ink, not a faint smudge
    assert alpha.max() > 0.9
    assert (alpha > 0.5).sum() >= 10


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("height", [20, 64])
def test_digit_is_float32_alpha_with_ink_and_margin(label, height):
    rng = np.random.default_rng(100 + label)
    for _ in range(5):
        _check_alpha(pen_digit(label, height, rng))


@pytest.mark.parametrize("height", [20, 32, 64, 100])
def test_digit_ink_box_is_about_height_tall(height):
    for seed in range(8):
        rng = np.random.default_rng(seed)
        for label in LABELS:
            alpha = pen_digit(label, height, rng)
            ink = _ink_rows(alpha)
            assert abs(ink - height) <= 0.1 * height, (label, seed, ink)


def test_digit_shapes_vary_in_width():
    """Width/height ratio, slant and allograph vary per sample: widths of one label are not all alike."""
    rng = np.random.default_rng(5)
    for label in (0, 2, 4, 7):
        widths = {int(np.ptp(np.nonzero(pen_digit(label, 64, rng).max(axis=0) > 0)[0])) for _ in range(12)}
        assert len(widths) >= 4, (label, widths)


@pytest.mark.parametrize("label", LABELS)
def test_digit_is_deterministic_for_a_seed(label):
    a = pen_digit(label, 48, np.random.default_rng(42))
    b = pen_digit(label, 48, np.random.default_rng(42))
    c = pen_digit(label, 48, np.random.default_rng(43))
    assert a.shape == b.shape and np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_mark_kinds_are_not_digit_lookalikes():
    assert len(MARK_KINDS) == len(set(MARK_KINDS)) >= 25
    for kind in ("O", "I", "l", "S", "Z", "B", "G", "q", "g", *map(str, range(10))):
        assert kind not in MARK_KINDS
    for kind in ("A", "E", "H", "#", "@", "?", "box", "smiley", "star", "wavy_underline"):
        assert kind in MARK_KINDS


@pytest.mark.parametrize("kind", MARK_KINDS)
def test_every_mark_kind_draws_ink(kind):
    rng = np.random.default_rng(7)
    for height in (24, 64):
        got, alpha = pen_mark(height, rng, kind)
        assert got == kind
        _check_alpha(alpha)


def test_random_mark_kind_is_one_of_the_kinds_and_varies():
    rng = np.random.default_rng(0)
    kinds = set()
    for _ in range(60):
        kind, alpha = pen_mark(40, rng)
        assert kind in MARK_KINDS
        _check_alpha(alpha)
        kinds.add(kind)
    assert len(kinds) >= 15


def test_mark_is_deterministic_for_a_seed():
    for kind in (None, "R", "spiral"):
        ka, a = pen_mark(48, np.random.default_rng(9), kind)
        kb, b = pen_mark(48, np.random.default_rng(9), kind)
        kc, c = pen_mark(48, np.random.default_rng(10), kind)
        assert ka == kb and np.array_equal(a, b)
        assert ka != kc or a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("label", [-1, 10, 3.0, True, "3", None])
def test_bad_label_raises(label):
    with pytest.raises(ValueError):
        pen_digit(label, 32, np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["O", "0", "digit", "", "a"])
def test_unknown_mark_kind_raises(kind):
    with pytest.raises(ValueError):
        pen_mark(32, np.random.default_rng(0), kind)


@pytest.mark.parametrize("height", [0, 3, -5, 12.5])
def test_bad_height_raises(height):
    with pytest.raises(ValueError):
        pen_digit(4, height, np.random.default_rng(0))
    with pytest.raises(ValueError):
        pen_mark(height, np.random.default_rng(0), "A")
