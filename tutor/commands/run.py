"""`tutor run LESSON [--lr X] [--jsonl]`: run a lesson headless (design §3).

Plain mode prints exactly what the lesson's code prints, nothing else; an exception
in lesson code is one line on stderr, `PATH:LINE: Type: message`, exit 1. The
figures a lesson shows with matplotlib are printed where they appear, drawn as text
(engine/figures.py); they are not part of what `check --run` compares. With
`--jsonl` every runner event is one JSON object per line on stdout instead (see
`tutor.engine.jsonl`), iteration events with a tensor snapshot each; `--landscape`
adds a landscape event at the end of each steppable loop, `--graph` a `backward`
event (the autograd graph) at every backward() call (design §8).
Bad input (an unknown lesson, an unreadable file, an `--lr` that is not a positive
finite number, an `--until` that is not a condition) is one line and exit 2, before
any lesson code runs.

`--until CONDITION` (engine/until.py) stops the run at the pause point where the
condition is first met, in any loop, and ends with one more line saying where:
`until cost < 0.01: met at iteration 37, cost 0.00998` (exit 0), or, never met,
`until cost < 0.01: not met; ran to the end` (exit 1). With `--jsonl` that line is an
event: `{"event":"until","condition":..,"reason":"met"|"reached"|"end","cell":..,
"iteration":..,"cost":..}`. `@500` means the same as `500` here (there is no going back).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tutor.engine import lr as lr_rule
from tutor.errors import UsageError


def parse_lr(text: str | None) -> float | None:
    """`--lr` by the one lr rule (engine/lr.py); None when not given."""
    if text is None:
        return None
    try:
        return lr_rule.parse_lr(text)
    except lr_rule.LrRefused:
        raise UsageError(f"--lr must be a positive number, not {text!r}") from None


def load(ref: str, lessons: str | None):
    from tutor.engine import loader

    lessons_dir = Path(lessons) if lessons else loader.bundled_lessons_dir()
    try:
        lesson = loader.find_lesson(ref, lessons_dir)
    except loader.LessonError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{ref}: {exc.strerror or exc}") from None
    if lesson is None:
        raise UsageError(f"unknown lesson: {ref}")
    return lesson


REFUSALS = {
    "empty": "is empty",
    "unknown": 'is not a condition (try 500, @500, "cost < 0.01", "cost > 5", "cost rises", "grad > 10", nan)',
    "number": "needs a finite number after < or >",
    "iteration": "needs a whole iteration number (0 or more)",
}


def parse_until(text: str | None):
    """`--until` as a Condition (None when not given)."""
    if text is None:
        return None
    from tutor.engine.until import UntilError, parse_until as parse

    try:
        return parse(text)
    except UntilError as exc:
        raise UsageError(f"--until {text!r} {REFUSALS[exc.reason.value]}") from None


def until_line(outcome) -> str:
    """The last line of `tutor run --until`: where the run stopped, and why."""
    from tutor.engine.jsonl import format_number

    if outcome.reason == "end":
        return f"until {outcome.condition}: not met; ran to the end"
    where = f"iteration {outcome.iteration}"
    if outcome.reason == "met":
        where = f"met at {where}"
        if outcome.parameter is not None:
            where += f", grad of {outcome.parameter} {format_number(outcome.grad_norm)}"
    else:
        where = f"reached {where}"
        if outcome.cost is not None:
            return f"until {outcome.condition}: {where}, last cost {format_number(outcome.cost)}"
    if outcome.cost is not None:
        where += f", cost {format_number(outcome.cost)}"
    return f"until {outcome.condition}: {where}"


def _one_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else ""


def main(args) -> int:
    lr = parse_lr(args.lr)
    landscape = bool(getattr(args, "landscape", False))
    if landscape and not args.jsonl:
        raise UsageError("--landscape needs --jsonl (it adds JSON events)")
    graph = getattr(args, "graph", False)
    if graph and not args.jsonl:
        raise UsageError("--graph needs --jsonl (the graph is reported as JSON lines)")
    until = parse_until(getattr(args, "until", None))
    lesson = load(args.lesson, args.lessons)

    from tutor.engine import events as ev
    from tutor.engine.jsonl import dumps
    from tutor.engine.runner import Runner

    out, err = sys.stdout, sys.stderr  # the terminal's (lesson code's are its run's: streams.py)
    if args.jsonl:
        def on_event(event) -> None:
            out.write(dumps(event) + "\n")
            out.flush()  # one event per line, as it happens, for a reader at the other end
    else:
        def on_event(event) -> None:
            if isinstance(event, ev.Output):
                (out if event.stream == "stdout" else err).write(event.text)
            elif isinstance(event, ev.FigureShown):  # a matplotlib figure, drawn as text
                from tutor.engine.figures import render

                out.write(render(event.figure) + "\n")

    runner = Runner(lesson, lr_override=lr, on_event=on_event, record_every_iteration=args.jsonl,
                    landscape=landscape, graph_events=graph)
    try:
        state = runner.run_to_end(until)
        if until is not None and state.error is None:
            if args.jsonl:
                from tutor.engine.jsonl import until_dumps

                out.write(until_dumps(state.until) + "\n")
            else:
                out.write(until_line(state.until) + "\n")
        out.flush()
    except BrokenPipeError:  # `tutor run x | head`: the reader has gone, so stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return 0
    if state.error is not None:
        if not args.jsonl:
            error = state.error
            print(f"{lesson.path}:{error.line}: {error.type}: {_one_line(error.message)}", file=sys.stderr)
        return 1
    if until is not None and state.until.reason == "end":
        return 1
    return 0
