"""The one learning-rate rule: what text and which values are a usable lr.

Used by the lr field (text the learner typed), `tutor run --lr` (a command-line
argument), the runner (overrides given through its API) and the progress file
(lrs read back from disk), so all four accept and refuse the same things. Refusals
carry a reason key (`lr.empty`, `lr.not_number`, `lr.not_positive`,
`lr.not_finite`) that the UI words in tutor/ui/i18n.py; the engine says no words.
"""

from __future__ import annotations

import math
import re
from typing import Any

# ASCII decimal only: `float()` would also take "nan", "inf", "1_0", "0x10" (via
# other paths) or full-width digits, none of which a learner means as a rate.
_NUMBER = re.compile(r"[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class LrRefused(ValueError):
    """Not a usable learning rate; `key` names the reason, `text` what was given."""

    def __init__(self, key: str, text: str = "") -> None:
        super().__init__(f"{key}: {text!r}" if text else key)
        self.key = key
        self.text = text


def parse_lr(text: str) -> float:
    """A learning rate from text, or LrRefused saying why not."""
    stripped = text.strip()
    if not stripped:
        raise LrRefused("lr.empty")
    if not _NUMBER.fullmatch(stripped):
        lowered = stripped.lower().lstrip("+-")
        if lowered in ("nan", "inf", "infinity"):
            raise LrRefused("lr.not_finite", stripped)
        if stripped.startswith("-") and _NUMBER.fullmatch(stripped[1:]):
            raise LrRefused("lr.not_positive", stripped)
        raise LrRefused("lr.not_number", stripped)
    return check_lr(float(stripped), stripped)


def check_lr(value: Any, text: str = "") -> float:
    """A number that is a usable learning rate, as a float, or LrRefused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LrRefused("lr.not_number", text or repr(value))
    value = float(value)
    if not math.isfinite(value):  # 1e400 too
        raise LrRefused("lr.not_finite", text or repr(value))
    if value <= 0:
        raise LrRefused("lr.not_positive", text or repr(value))
    return value


def is_lr(value: Any) -> bool:
    try:
        check_lr(value)
    except LrRefused:
        return False
    return True
