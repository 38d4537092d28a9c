"""Marks that are not digits (issue 16): the shipped model's figures on material it never trained on, the
held-out pen's marks and digits (evaluation.penhand) and its pages. Floors are the shipped model's own
figures, rounded down: a model that rejects less, or keeps fewer digits, fails here."""

import pytest

from edgedigits.evaluation.rejection import crop_figures
from edgedigits.evaluation.scenes import Inks, score_pages


def test_held_out_pen_marks_are_rejected_and_pen_digits_kept(recognizer):
    figures = crop_figures(recognizer, count=500)
    assert figures.marks_rejected >= 0.60, figures
    assert figures.digits_kept >= 0.99 and figures.digits_read >= 0.99, figures


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "recall", "precision"), [("clutter", 0.98, 0.77), ("words", 0.99, 0.66)])
def test_held_out_pages_with_marks(recognizer, test_split, kind, recall, precision):
    score = score_pages(recognizer.recognize, kind, Inks(test_split, "heldout"), pages=30)
    assert score.recall >= recall and score.precision >= precision, score.to_json()
