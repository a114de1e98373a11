"""How close a learner's prediction of a cell's output was, as two counts.

The lesson screen shows a prediction beside the real output line by line (non-blank
lines paired in order, each pair matched by `compare.lines_match`, the rule of
`tutor check --run`). A teacher's view needs the same judgement as a number it can
sum over cells and learners: `closeness(prediction, output)` is (pairs that match,
pairs compared), where a line that has no partner on the other side counts as
compared and not matched. So an exact prediction gives (n, n), and predicting three
lines of a one-line output gives (at most 1, 3).
"""

from __future__ import annotations

from itertools import zip_longest

from tutor.engine.compare import lines_match


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def closeness(prediction: str, output: str) -> tuple[int, int]:
    """(matched line pairs, compared line pairs); (0, 0) when both are blank."""
    pairs = list(zip_longest(_lines(prediction), _lines(output)))
    matched = sum(1 for guess, got in pairs
                  if guess is not None and got is not None and lines_match(guess, got))
    return matched, len(pairs)
