"""Events → JSON lines (design §3)."""

from __future__ import annotations

import json

from tutor.engine import events as ev
from tutor.engine.jsonl import dumps
from tutor.engine.state import TensorView


def test_each_event_kind():
    assert json.loads(dumps(ev.CellStarted(cell=2, line=17))) == {"event": "cell", "cell": 2, "line": 17}
    assert json.loads(dumps(ev.Output(cell=0, text="한글\n"))) == {"event": "output", "cell": 0, "text": "한글\n"}
    assert json.loads(dumps(ev.Error(cell=1, line=9, type="ValueError", message="bad"))) == {
        "event": "error", "cell": 1, "line": 9, "type": "ValueError", "message": "bad"}
    assert json.loads(dumps(ev.Done(seconds=0.25))) == {"event": "done", "seconds": 0.25}


def test_iteration_with_small_and_big_tensors():
    small = TensorView(name="W", shape=(2, 1), dtype="float32", value=[[1.0], [2.0]], grad=[[0.5], [0.25]])
    big = TensorView(name="x", shape=(10, 10), dtype="float32",
                     stats={"mean": 0.0, "std": 1.0, "min": -2.0, "max": 2.0})
    line = dumps(ev.Iteration(cell=3, iteration=4, lr=0.1, cost=0.5, tensors=(small, big)))
    assert json.loads(line) == {
        "event": "iteration", "cell": 3, "iteration": 4, "lr": 0.1, "cost": 0.5,
        "tensors": {
            "W": {"shape": [2, 1], "value": [[1.0], [2.0]], "grad": [[0.5], [0.25]]},
            "x": {"shape": [10, 10], "stats": {"mean": 0.0, "std": 1.0, "min": -2.0, "max": 2.0}, "grad": None},
        },
    }


def test_non_finite_numbers_stay_valid_json():
    view = TensorView(name="W", shape=(2,), dtype="float32", value=[float("nan"), float("-inf")], grad=None)
    line = dumps(ev.Iteration(cell=0, iteration=0, lr=10.0, cost=float("inf"), tensors=(view,)))
    data = json.loads(line, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert data["cost"] == "Infinity"
    assert data["tensors"]["W"]["value"] == ["NaN", "-Infinity"]
    assert float(data["cost"]) == float("inf")
    assert "\n" not in line


def test_values_json_cannot_hold_become_strings():
    view = TensorView(name="z", shape=(1,), dtype="complex64", value=[1 + 2j])
    data = json.loads(dumps(ev.Iteration(cell=0, iteration=0, lr=None, cost=None, tensors=(view,))))
    assert data["tensors"]["z"]["value"] == ["(1+2j)"]
    assert data["lr"] is None and data["cost"] is None
