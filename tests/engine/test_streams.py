"""What lesson code writes to sys.stdout and sys.stderr (engine/streams.py).

Real notebooks write past `print()`: `sys.stdout.write`, warnings, logging, progress
bars on stderr. In the app's kernel those streams are /dev/null and the fault log, so
the run must take them: stdout into the cell's output (compared as Jupyter's stdout
stream is), stderr apart (shown, never compared). Other threads keep the real streams.
"""

from __future__ import annotations

import io
import sys
import threading

from tutor.engine import events as ev
from tutor.engine import streams
from tutor.engine.jsonl import dumps
from tutor.engine.run_check import run_and_compare
from tutor.engine.runner import Runner

TIMEOUT = 30

WRITES = """
import sys, logging
print("one")
_ = sys.stdout.write("two\\n")
_ = sys.stderr.write("to stderr\\n")
print("three", file=sys.stderr)
logging.getLogger("lesson").warning("a logged warning")
print("four")
"""
# (pytest records the warnings of its own process: they are checked in a kernel)
WARNS = WRITES + "import warnings\nwarnings.warn('mind the gap')\n"


def _run(lesson, **options):
    events = []
    runner = Runner(lesson, on_event=events.append, **options)
    try:
        runner.run()
        state = runner.wait(TIMEOUT)
    finally:
        runner.close()
    return state, events


def test_stdout_writes_join_the_output_and_stderr_is_kept_apart(make_lesson):
    lesson = make_lesson([WRITES])
    state, events = _run(lesson)
    assert state.status == "done", state.error
    assert state.outputs[0] == "one\ntwo\nfour\n"
    # (logging too, but pytest takes the records of its own process: checked in a kernel)
    assert state.stderr[0].startswith("to stderr\nthree\n")
    streamed = [(e.stream, e.text) for e in events if isinstance(e, ev.Output)]
    assert streamed[:3] == [("stdout", "one\n"), ("stdout", "two\n"), ("stderr", "to stderr\n")]
    assert '"stream": "stderr"' in dumps([e for e in events if isinstance(e, ev.Output)][2])
    assert '"stream"' not in dumps([e for e in events if isinstance(e, ev.Output)][0])


def test_other_threads_keep_the_real_streams(make_lesson):
    """While a run is paused (its worker holds the route), this thread's writes pass
    through to the stream the route replaced."""
    lesson = make_lesson(["print('in the lesson')", "sys_out = 1"])
    runner = Runner(lesson)
    seen = io.StringIO()
    real = sys.stdout
    try:
        runner.next()
        state = runner.wait(TIMEOUT)
        assert state.outputs[0] == "in the lesson\n"
        assert isinstance(sys.stdout, streams._Routed)
        sys.stdout.original, saved = seen, sys.stdout.original
        try:
            done = threading.Event()

            def other() -> None:
                sys.stdout.write("from another thread\n")
                done.set()

            threading.Thread(target=other).start()
            assert done.wait(5)
        finally:
            sys.stdout.original = saved
        assert seen.getvalue() == "from another thread\n"
        runner.next()
        assert runner.wait(TIMEOUT).outputs == {0: "in the lesson\n", 1: ""}
    finally:
        runner.close()
        assert sys.stdout is real or sys.stdout.original is real


def test_a_handler_that_prints_does_not_loop(make_lesson):
    """An event handler runs on the worker thread; what it prints goes to the real
    stream, not back into the run."""
    lesson = make_lesson(["import sys\n_ = sys.stdout.write('x\\n')\nprint('y')"])
    printed = []

    def handler(event) -> None:
        if isinstance(event, ev.Output):
            print("handler saw", event.text.strip())
            printed.append(event.text)

    runner = Runner(lesson, on_event=handler)
    try:
        runner.run()
        state = runner.wait(TIMEOUT)
    finally:
        runner.close()
    assert state.outputs[0] == "x\ny\n" and printed == ["x\n", "y\n"]


def test_stderr_is_not_compared_with_the_expected_output(make_lesson):
    lesson = make_lesson([("import sys\nprint('warning: noisy', file=sys.stderr)\nprint(42)", "42\n")])
    assert run_and_compare(lesson) == []
    state, _ = _run(lesson)
    assert (state.outputs, state.stderr) == ({0: "42\n"}, {0: "warning: noisy\n"})


def test_the_kernel_shows_both_streams(make_lesson, client):
    """The kernel's own streams go nowhere a learner looks: the run's are its cells'."""
    lesson = make_lesson([WARNS])
    remote = client(lesson)
    remote.run()
    state = remote.wait(TIMEOUT)
    assert state.status == "done", state.error
    assert state.outputs[0] == "one\ntwo\nfour\n"
    line = lesson.path.read_text(encoding="utf-8").splitlines().index("warnings.warn('mind the gap')") + 1
    assert state.stderr[0] == (f"to stderr\nthree\na logged warning\n"
                               f"{lesson.path}:{line}: UserWarning: mind the gap\n"
                               f"  warnings.warn('mind the gap')\n")


def test_a_complex_tensor_has_no_statistics_of_its_real_part_alone(make_lesson):
    """min, max and a float64 mean of a complex tensor would be its real part's (the
    inspector showed `mean 2.000 min 1.000 max 3.000` for [1+2j, 3-1j]); what it
    wrote (the cast's warning) is not the cell's stderr either."""
    from tutor.engine.inspection import inspect

    lesson = make_lesson(["import torch\nc = torch.tensor([1+2j, 3-1j])\n"])
    state, _ = _run(lesson)
    view = next(t for t in state.tensors if t.name == "c")
    assert view.value == [1 + 2j, 3 - 1j] and view.stats is None
    import torch
    assert inspect({"c": torch.tensor([1 + 2j, 3 - 1j])}, "c", None, ()).stats is None
    assert state.stderr == {}


def test_a_flood_on_stderr_is_capped_like_printed_output(make_lesson, monkeypatch):
    from tutor.engine import runner as runner_mod

    monkeypatch.setattr(runner_mod, "OUTPUT_CAP", 1000)
    lesson = make_lesson(["import sys\nfor i in range(3000):\n    _ = sys.stderr.write(f'{i}\\n')\n"])
    state, _ = _run(lesson)
    assert state.output_truncated and len(state.stderr[0]) <= 1000
    assert state.stderr[0].endswith("2998\n2999\n")
