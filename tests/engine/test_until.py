"""The run-until field's language (engine/until.py): accepted forms and refusals."""

from __future__ import annotations

import math

import pytest

from tutor.engine.until import Condition, Refusal, UntilError, parse_until


@pytest.mark.parametrize("text, kind, value, shown", [
    ("500", "iteration", 500, "500"),
    (" 0 ", "iteration", 0, "0"),
    ("@500", "jump", 500, "@500"),
    ("@ 12", "jump", 12, "@12"),
    ("cost < 0.01", "cost_below", 0.01, "cost < 0.01"),
    ("COST<1e-3", "cost_below", 0.001, "cost < 1e-3"),
    ("loss < .5", "cost_below", 0.5, "cost < .5"),
    ("cost > 5", "cost_above", 5.0, "cost > 5"),
    ("cost > -2", "cost_above", -2.0, "cost > -2"),
    ("cost rises", "cost_rises", None, "cost rises"),
    ("cost   RISES", "cost_rises", None, "cost rises"),
    ("grad > 10", "grad_above", 10.0, "grad > 10"),
    ("nan", "nan", None, "nan"),
    ("NaN", "nan", None, "nan"),
])
def test_accepted_forms(text, kind, value, shown):
    condition = parse_until(text)
    assert (condition.kind, condition.value, condition.text) == (kind, value, shown)


@pytest.mark.parametrize("text, reason", [
    ("", Refusal.EMPTY),
    ("   ", Refusal.EMPTY),
    ("cost < abc", Refusal.NUMBER),
    ("cost < nan", Refusal.NUMBER),
    ("cost < inf", Refusal.NUMBER),
    ("cost > 1e999", Refusal.NUMBER),
    ("cost < ０.１", Refusal.NUMBER),  # full-width digits: float() would take them
    ("cost <", Refusal.UNKNOWN),
    ("grad < 10", Refusal.UNKNOWN),
    ("cost == 3", Refusal.UNKNOWN),
    ("until the end", Refusal.UNKNOWN),
    ("-5", Refusal.ITERATION),
    ("1.5", Refusal.ITERATION),
    ("@-1", Refusal.ITERATION),
    ("@x", Refusal.ITERATION),
    ("@", Refusal.UNKNOWN),
    ("٣", Refusal.UNKNOWN),  # an Arabic-Indic digit is not an iteration
])
def test_refused_inputs_say_why(text, reason):
    with pytest.raises(UntilError) as caught:
        parse_until(text)
    assert caught.value.reason is reason
    assert isinstance(caught.value, ValueError)


def test_conditions_on_numbers():
    assert parse_until("cost < 0.01").met(0.009, 1.0, None)
    assert not parse_until("cost < 0.01").met(0.01, 1.0, None)
    assert not parse_until("cost < 0.01").met(math.nan, 1.0, None)
    assert parse_until("cost > 5").met(5.5, None, None)
    assert parse_until("cost > 5").met(math.inf, None, None)
    assert parse_until("cost rises").met(2.0, 1.0, None)
    assert not parse_until("cost rises").met(1.0, 1.0, None)
    assert not parse_until("cost rises").met(2.0, None, None)  # the loop's first iteration
    assert not parse_until("cost rises").met(math.nan, 1.0, None)
    assert parse_until("grad > 10").met(1.0, None, 10.5)
    assert not parse_until("grad > 10").met(1.0, None, None)
    assert parse_until("nan").met(math.inf, 1.0, None)
    assert not parse_until("nan").met(1e30, 1.0, None)
    assert not parse_until("500").met(1.0, 2.0, 3.0)  # the runner stops at the point itself
    assert Condition("jump", 3).is_iteration and not parse_until("nan").is_iteration
