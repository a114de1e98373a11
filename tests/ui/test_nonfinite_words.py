"""The UI words the engine's NonFiniteCost fact (the text the engine built before)."""

from __future__ import annotations

from tutor.engine.state import NonFiniteCost
from tutor.ui.steer_words import nonfinite_words

PLAIN_EN = "The cost is no longer a finite number: the learning rate is probably too large. Try a smaller one."
PLAIN_KO = "비용이 더 이상 유한한 수가 아닙니다. 학습률이 너무 큰 것 같습니다. 더 작은 값으로 해 보세요."


def test_plain_fact_in_both_languages():
    for fact in (NonFiniteCost(), NonFiniteCost(lr=0.5)):
        assert nonfinite_words(fact, "en") == PLAIN_EN
        assert nonfinite_words(fact, "ko") == PLAIN_KO


def test_critical_lr_worded_with_its_numbers():
    fact = NonFiniteCost(lr=0.3, critical_lr=0.180327)
    assert nonfinite_words(fact, "en") == (
        f"{PLAIN_EN} Here lr = 0.3 is above 2/λmax = 0.18: every step overshoots further (try lr < 0.18)."
    )
    assert nonfinite_words(fact, "ko") == (
        f"{PLAIN_KO} 여기서 lr = 0.3는 2/λmax = 0.18보다 커서 걸음마다 더 멀리 넘어갑니다(lr < 0.18로 해 보세요)."
    )
