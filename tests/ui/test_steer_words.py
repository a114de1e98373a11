"""The steering facts worded in both languages (tutor/ui/steer_words.py), without an app."""

from __future__ import annotations

import math

from tutor.engine.state import Divergence, UntilOutcome
from tutor.session import Branch
from tutor.ui.steer_words import branch_words, divergence_words, until_words


def test_until_outcomes_in_both_languages():
    met = UntilOutcome("cost < 0.01", "met", cell=1, iteration=37, cost=0.0099)
    assert until_words(met, "en") == "Stopped: cost < 0.01 at iteration 37 (cost 0.0099)."
    assert "반복 37에서 cost < 0.01 조건을 만족했습니다" in until_words(met, "ko")
    grad = UntilOutcome("grad > 10", "met", cell=1, iteration=3, cost=1.0, parameter="W", grad_norm=12.5)
    assert "the gradient of W has norm 12.5" in until_words(grad, "en")
    assert "W의 기울기(gradient) 크기는 12.5" in until_words(grad, "ko")
    end = UntilOutcome("nan", "loop_end", cell=1, iteration=999, cost=0.5)
    assert "the loop ended at iteration 999" in until_words(end, "en")
    assert "반복문이 반복 999에서 끝났습니다" in until_words(end, "ko")
    assert "run to the end" in until_words(UntilOutcome("500", "end"), "en")


def test_divergence_names_the_parameter_and_the_way_back():
    div = Divergence(kind="nonfinite", cell=2, iteration=119, cost=math.inf, last_finite=118,
                     growth_start=0, back_point=40, parameter="W", update_growth=math.inf)
    en = divergence_words(div, "en")
    assert "cost became inf at iter 119" in en and "after iter 118" in en
    assert "W's update grew fastest (×∞)" in en and "b: back to iter 0" in en
    ko = divergence_words(div, "ko")
    assert "학습률이 너무 큰 것 같습니다" in ko and "반복 0(으)로 돌아가기" in ko
    growth = Divergence(kind="growth", cell=2, iteration=5, cost=1129900000.0, last_finite=5,
                        growth_start=0, back_point=3, parameter="b", update_growth=16807.0)
    assert "grew 10× in 5 iterations (iter 5: 1.13e+09)" in divergence_words(growth, "en")
    assert "(×1.68e+04)" in divergence_words(growth, "en")


def test_branch_labels():
    assert branch_words(Branch(step=20, iteration=20, old_lr=0.1, new_lr=0.5), "en") == "lr 0.1 → 0.5 at iter 20"
    assert branch_words(Branch(step=20, iteration=20, old_lr=0.1, new_lr=0.5), "ko") == "반복 20에서 lr 0.1 → 0.5"
    assert branch_words(Branch(step=0, iteration=None, edited_cell=2), "en") == "cell 3 edited"
