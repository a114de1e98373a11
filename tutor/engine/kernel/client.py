"""The app's side of one lesson's kernels: `KernelClient` (no torch here).

The kernels come from the app's `KernelHost` (host.py: the zygote, the listener
the kernels connect back to, and the lifeline).

`KernelClient` is a drop-in for `Runner` (docs/architecture.md): the same methods,
returning at once, and a `.state` replaced atomically by a reader thread. Commands
are sent over the socket; `reset()`, `close()` and a kernel that does not answer
within ANSWER_TIMEOUT are hard cancels: SIGKILL, and the next command forks a fresh
kernel. A kernel that dies (os._exit, a segfault, the memory limit's OOM) shows as
an error state ("KernelDied" with its exit code or signal); `r` recovers.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

from tutor.engine.kernel import protocol
from tutor.engine.kernel.host import KernelHost
from tutor.engine.lesson import Lesson
from tutor.engine.state import ErrorInfo, RunState

EXIT_STATUS_WAIT = 0.5  # seconds to wait for a dead kernel's exit status from its parent
QUIET_STATE = 0.25  # seconds without a state from a running kernel: read where it is
# A checkpoint is used for a goto when the replay it saves (its CPU seconds from the
# start) is at least this many times what resuming costs (fork, connect: measured,
# RESUME_COST at first). Lesson 05's first cells replay in ~30 ms: a fork is no gain.
RESUME_WORTH = 2.0
RESUME_COST = 0.03
# Filling (checkpoints.py): while the kernel is settled, the span from the last
# checkpoint to where the learner is, then spans of more than twice FILL_SPACING CPU
# seconds between checkpoints, the latest first (a learner steps back from where
# they are), get checkpoints every FILL_SPACING, or spread evenly (by pause points) over
# the span when the budget left allows fewer, made by a filler on the other core, up to FILL_UP_TO in
# all (each holds ~5 MB of its own; room is left below MAX_CHECKPOINTS for the run's
# own). The kernel's settled states carry its CPU time there, so the span to the
# learner has a size too.
# It starts once the kernel has been quiet for FILL_IDLE (not between the keys of a
# burst of steps: each command kills a filler).
FILL_SPACING = 0.05
FILL_UP_TO = 24
FILL_IDLE = 0.3
_FILL_ASKED = -1  # self._filler while the checkpoint has not said the filler's pid


class _Incarnation:
    """One kernel process of a client (generation `gen`)."""

    __slots__ = ("gen", "pid", "conn", "killed", "sent_at", "source", "target", "born", "state_at",
                 "shown_tensors")

    def __init__(self, gen: int, source: "_Checkpoint | None" = None, target: int = -1) -> None:
        self.gen = gen
        self.source = source  # the checkpoint it is forked from (None: the zygote)
        self.target = target  # ...and the point it replays to from there
        self.born = time.monotonic()
        self.pid: int | None = None
        self.conn: Connection | None = None
        self.killed = False
        self.sent_at: float | None = None  # oldest command not yet acknowledged
        self.state_at = time.monotonic()  # when its last state message arrived
        # The tensors already shown for its target (from the old kernel's history): its
        # own state there shows them, as a goto in one process does (see _resume).
        self.shown_tensors: tuple | None = None


class _Checkpoint:
    """A paused copy of the kernel at pause point `point` (checkpoints.py)."""

    __slots__ = ("point", "pid", "conn", "elapsed", "schedule", "cell", "line", "costs")

    def __init__(self, point: int, pid: int, conn: Connection, info: dict) -> None:
        self.point, self.pid, self.conn = point, pid, conn
        self.elapsed = float(info.get("elapsed", 0.0))
        self.schedule = _before(tuple(info.get("schedule", ())), point)
        self.cell, self.line = info.get("cell"), info.get("line")
        self.costs = int(info.get("costs", 0))  # cost points its run had recorded

    def valid_for(self, schedule: tuple) -> bool:
        """It ran with `schedule` up to its point (entries at or after it are to come)."""
        return _before(schedule, self.point) == self.schedule


def _before(schedule: tuple, point: int) -> tuple:
    return tuple((p, lr) for p, lr in schedule if p < point)


class KernelClient:
    """A Runner whose lesson code runs in a kernel process (see the module docstring)."""

    def __init__(
        self, host: KernelHost, lesson: Lesson, lr_override: float | None = None,
        memory: int | None = None, checkpoints: bool | dict = True, **options: Any,
    ) -> None:
        from tutor.engine.runner import ITER_MODE, STMT, check_lr  # plain Python: no torch

        self._check_lr = check_lr
        self._modes = {"step": STMT, "next": ITER_MODE, "run": ITER_MODE, "jump": ITER_MODE,
                       "goto_cell": ITER_MODE, "run_to_cell_end": ITER_MODE}
        self._moved_by = STMT  # how the learner moved forward last (a resumed kernel needs it)
        # True: the kernel's own policy; a dict: its parameters (tests: {"every": n}, a
        # checkpoint every n pause points whatever the machine's load, and "keep": how
        # many this client keeps, MAX_CHECKPOINTS by default); False: none
        self.use_checkpoints = checkpoints
        self._checkpoints: list[_Checkpoint] = []  # by point
        self.options = options  # Runner keyword arguments (landscape=True, ...)
        self.host = host
        self.lesson = lesson
        self.memory = memory or host.memory  # --kernel-memory, bytes
        self._override = check_lr(lr_override)
        self._schedule: tuple = ((-1, self._override),)  # the kernel's lr schedule, last told
        self._lock = threading.RLock()
        self._cv = threading.Condition(self._lock)
        self._gen = 0
        self._current: _Incarnation | None = None
        self._pending: list[tuple] = []  # commands for an incarnation not connected yet
        self._unacked: list[tuple] = []  # commands sent to the current one, not yet done
        self._resume_after_shown: tuple | None = None  # (incarnation, k, seq): see _read
        self._resume_cost = RESUME_COST  # seconds from resume to the new kernel's hello
        self._seq = 0  # commands are numbered from 1 (per incarnation)
        self._acked = 0
        self._settled = True
        self._costs: tuple = ()
        self._results: dict[int, tuple[bool, Any]] = {}
        self._queries: set[int] = set()
        self._closed = False
        self._last_gen = 0  # the incarnation a fault is about
        # Filling: the filler's pid (or _FILL_ASKED), the checkpoint it is forked from,
        # the span it fills (from point, stop, the lr schedule before stop), and the
        # spans filled (or given up) since the checkpoints were last dropped; only the
        # app's default policy fills (tests' {"every": n} do not unless they say
        # {"fill": True}). The watchdog starts each fill (_check_answer).
        self._filler: int | None = None
        self._fill_source: _Checkpoint | None = None
        self._fill_span: tuple | None = None
        self._filled: set[tuple] = set()
        self._here_cpu: float | None = None  # the run's CPU seconds where the kernel waits
        self._fills = checkpoints is True or (isinstance(checkpoints, dict) and checkpoints.get("fill", False))
        self._pair: tuple[RunState, tuple[int, ...]] = (self._idle(), ())  # the state, its back targets
        self.cid = host._register(self)
        self._spawn()

    # --- the Runner API ------------------------------------------------------------

    @property
    def state(self) -> RunState:
        return self._pair[0]

    def back_target(self, state: RunState | None = None) -> int | None:
        """The point step_back() goes to from the current state (computed by the
        kernel for each state it sends)."""
        state_now, backs = self._pair
        if state is None or state is state_now:
            return backs[0] if backs else None
        return None if state.pause_index < 0 else state.pause_index - 1

    def step_back(self) -> None:
        """Runner.step_back. The kernel sent with the shown state where step backs in a
        row go from it: a step back goes there at once (shown under way at the target,
        with the rest of the chain, so the next `b` of a burst goes on from it). After a
        command that moves the run (`n b`, typed faster than the kernel answers) the
        point is not known here yet: the kernel takes the step back in its turn."""
        with self._lock:
            target = self.back_target()
            if target is not None:
                self.goto(target)
            elif self._in_flight():
                self._command("step_back")

    def can_step_back(self) -> bool:
        """Would step_back() go anywhere? (Runner.can_step_back)"""
        with self._lock:
            return self.back_target() is not None or self._in_flight()

    def _in_flight(self) -> bool:
        """Commands are sent and not all answered yet, or the run goes on."""
        return self._current is not None and (self._acked < self._seq or not self._settled)

    @property
    def lr_override(self) -> float | None:
        """The learner's lr as last set, before the kernel has answered (a runner made
        from this one's, e.g. after a cell edit, must not get the one before)."""
        return self._override

    def set_lr(self, value: float | None) -> None:
        value = self._check_lr(value)  # bad input: ValueError here, in the caller
        with self._lock:
            self._override = value
            if self._current is None:  # no kernel (it died): show it, the next one uses it
                state = self.state
                self._show(replace(state, lr_override=value, lr=value if value is not None else state.lr))
                return
            self._command("set_lr", value)

    def show_view(self, view: str) -> None:
        """Runner.show_view, kept for every kernel after this one (a fresh fork gets
        it with its options, one resumed from a checkpoint by a command)."""
        with self._lock:
            self.options = {**self.options, "view": view}
            self._command("show_view", view)

    def run_until(self, condition: Any) -> None:
        """Runner.run_until in the kernel; a text is parsed here first, so a refused
        one raises UntilError in the caller and changes nothing."""
        from tutor.engine.until import Condition, parse_until

        if not isinstance(condition, Condition):
            condition = parse_until(condition)
        with self._lock:
            if self._command("run_until", condition):
                self._moved_by = self._modes["run"]
                self._running()

    @property
    def lr_schedule(self) -> tuple:
        """The kernel's lr schedule, as its latest state message said."""
        return self._schedule

    def goto(self, k: int) -> None:
        with self._lock:
            if k < 0:
                self.reset()
                return
            if self._current is None or self._current.conn is None:
                if self._resume(k):  # no kernel to ask (it died, or is on its way)
                    return
            if self._current is None:
                self._spawn()
            if self._command("goto", k):  # the kernel answers ("goto", k, kept): see _read
                # like Runner.goto: under way, already counted at k (a second step
                # back goes back from k: the rest of the kernel's chain)
                self._show(replace(self.state, status="running", pause_index=k), self._backs_from(k))

    def reset(self) -> None:
        """Hard cancel: SIGKILL the kernel; a fresh one (forked at once) starts over."""
        with self._lock:
            self._stop_filling()
            self._kill_current()
            self._drop_checkpoints()
            self._costs = ()
            self._show(self._idle())
            self._spawn()

    def close(self) -> None:
        """SIGKILL the kernel; returns at once (the process is gone in microseconds)."""
        with self._lock:
            self._closed = True
            self._stop_filling()
            self._kill_current()
            self._drop_checkpoints()
            self._pending.clear()
            self._cv.notify_all()
            for gen in (self._gen - 1, self._gen):
                self._forget_files(gen)
        self.host._unregister(self.cid)

    def wait(self, timeout: float | None = None) -> RunState:
        """Block until the kernel has done every command sent and waits for the next
        one (or ended, or died). For tests and headless drivers."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while not self._closed and self._current is not None and not (
                self._settled and self._acked >= self._seq and self._current.conn is not None
            ):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._cv.wait(remaining)
        return self.state

    def run_to_end(self) -> RunState:
        """Headless: run every cell in the kernel, wait for the end, return the state."""
        with self._lock:
            if self._seq or self._current is None or self.state.status != "idle":
                self.reset()
            seq = self._command("run_to_end")
            self._queries.add(seq)
            while seq not in self._results and not self._closed and self._current is not None:
                self._cv.wait(0.5)
            self._queries.discard(seq)
            ok, value = self._results.pop(seq, (False, None))
        if ok:
            return self.state
        if value is None:  # the kernel died: its state says how
            return self.state
        raise RuntimeError(value)

    # --- sending ---------------------------------------------------------------------

    def _running(self) -> None:
        state, back = self._pair
        if state.status in ("idle", "paused"):
            self._show(replace(state, status="running"), back)

    def _command(self, name: str, *args: Any) -> int:
        """Send (or queue) a command; its number, 0 when it was dropped."""
        with self._lock:
            if self._closed:
                return 0
            self._stop_filling()
            if self._current is None:
                if name not in ("goto", "goto_cell", "set_lr", "set_lr_schedule", "run_to_end", "inspect"):
                    return 0  # no kernel after a fault: like a Runner in error
                self._spawn()
            self._seq += 1
            message = (self._seq, name, args)
            current = self._current
            if current.conn is None:
                self._pending.append(message)
            else:
                self._send(current, message)
            return self._seq

    def _send(self, inc: _Incarnation, message: tuple) -> None:
        self._unacked.append(message)
        if inc.sent_at is None:
            inc.sent_at = time.monotonic()
        try:
            inc.conn.send(message)
        except OSError:  # it died: the reader thread reports it
            pass

    def _spawn(self) -> None:
        """Fork a fresh kernel (from the zygote); it connects back by itself."""
        with self._lock:
            if self._closed:
                return
            self._gen += 1
            self._forget_files(self._gen - 2)  # the previous one may still be asked about
            inc = _Incarnation(self._gen)
            self._current = inc
            self._acked, self._seq = 0, 0
            self._settled = False
            self._pending.clear()
            policy = self.use_checkpoints
            if isinstance(policy, dict):
                policy = {k: v for k, v in policy.items() if k not in ("keep", "fill")}  # the client's
            request = {"cid": self.cid, "gen": inc.gen, "lesson": self.lesson,
                       "lr_override": self._override, "memory": self.memory,
                       "where": self._where_path(inc.gen), "checkpoints": policy,
                       "options": self.options}

        def send_when_ready() -> None:
            if self.host.failure:
                self._died(inc, None, ErrorInfo(cell=0, line=0, type="KernelDied", message=self.host.failure))
            elif not self.host.fork(request):
                self._died(inc, None, None)

        self.host.on_ready(send_when_ready)

    # --- checkpoints -------------------------------------------------------------------

    def _resume(self, k: int, after: int | None = None, shown: bool = False,
                graph_at: int | None = None) -> bool:
        """goto(k) from the nearest checkpoint <= k: the current kernel is killed, the
        checkpoint forks a new one that replays from there. False: none to use.
        `after`: the kernel was asked for this goto by command number `after`; the
        commands sent to it since go to the new one. `shown`: the state at k is shown
        already (the old kernel had it in its history). `graph_at`: the point of the
        last backward() before k, as the old kernel knew it (None: not known)."""
        schedule = self._schedule
        usable = [c for c in self._checkpoints if c.point <= k and c.valid_for(schedule)]
        state = self.state
        if not usable or (state.pause_index == k and state.status == "paused" and self._settled):
            return False
        if usable[-1].elapsed < RESUME_WORTH * self._resume_cost:
            return False  # replaying from the start is about as quick as a fork
        source = usable[-1]
        self._stop_filling()
        # What the learner saw last, so that "changed since" counts from it as a goto in
        # one process does; when the state at k is shown already (from the old kernel's
        # history), the new kernel's state there keeps those tensors instead.
        seen = None if shown else state.tensors
        carried = [m[1:] for m in self._unacked if after is not None and m[0] > after]
        self._kill_current()
        self._gen += 1
        self._forget_files(self._gen - 2)
        inc = _Incarnation(self._gen, source, k)
        self._current = inc
        if shown:
            inc.shown_tensors = state.tensors
        self._acked, self._seq, self._settled = 0, 0, False
        self._pending.clear()
        # The costs up to the checkpoint are the ones shown (the same schedule up to its
        # point, the same code): the new kernel sends only those after.
        shared = min(len(self._costs), source.costs)
        message = ("resume", inc.gen, k, self._moved_by, self._where_path(inc.gen),
                   os.path.join(self.host.dir, f"fault-{self.cid}-{inc.gen}.log"), schedule, seen, shared,
                   graph_at)
        try:
            source.conn.send(message)
        except OSError:  # it is gone: forget it and try the next one
            self._forget_checkpoint(source)
            self._current = None
            return self._resume(k, shown=shown, graph_at=graph_at)
        # like Runner.goto: under way, already counted at k
        self._show(replace(state, status="running", pause_index=k), self._backs_from(k))
        for name, args in carried:
            self._command(name, *args)
        if "view" in self.options:  # the checkpoint's runner may predate it
            self._command("show_view", self.options["view"])
        return True

    def _checkpoint(self, hello: tuple, conn: Connection) -> None:
        """A checkpoint connected (on the host's accept thread): keep it, thinned."""
        _, _, point, pid, info = hello
        checkpoint = _Checkpoint(point, pid, conn, info)
        with self._lock:
            known = {c.point for c in self._checkpoints}
            if self._closed or not checkpoint.valid_for(self._schedule) or point in known:
                self._drop(checkpoint)
                return
            self._checkpoints.append(checkpoint)
            self._checkpoints.sort(key=lambda c: c.point)
            self._thin()
        threading.Thread(target=self._read_checkpoint, args=(checkpoint,), daemon=True,
                         name="tutor-checkpoint-reader").start()

    def _thin(self) -> None:
        """At most MAX_CHECKPOINTS: drop the one whose neighbours are closest (in the
        CPU time a replay between them takes), never the first or the last."""
        from tutor.engine.kernel.checkpoints import MAX_CHECKPOINTS

        kept = self._checkpoints
        limit = MAX_CHECKPOINTS
        if isinstance(self.use_checkpoints, dict):
            limit = self.use_checkpoints.get("keep", limit)
        while len(kept) > limit:
            gaps = [(kept[i + 1].elapsed - kept[i - 1].elapsed, i) for i in range(1, len(kept) - 1)]
            _, i = min(gaps)
            self._drop(kept.pop(i))

    def _read_checkpoint(self, checkpoint: _Checkpoint) -> None:
        try:
            while True:
                message = checkpoint.conn.recv()
                if message[0] == "exit":  # a kernel (or a filler) it forked ended
                    self.host.record_exit(message[1], message[2])
                    self._exited(message[1])
                    self._filler_ended(message[1])
                elif message[0] == "filling":
                    self._filling(checkpoint, message[1])
        except (EOFError, OSError, TypeError):
            pass
        with self._lock:
            self._forget_checkpoint(checkpoint)
            if self._fill_source is checkpoint:  # its filler dies with it (PDEATHSIG)
                self._end_fill(done=True)  # given up
            inc = self._current
            if inc is not None and inc.source is checkpoint and inc.conn is None and not inc.killed:
                # it died before forking the kernel asked for: replay another way
                self._current = None
                inc.killed = True
                self.goto(inc.target)

    # --- filling (checkpoints.py) --------------------------------------------------------

    def _maybe_fill(self) -> None:
        """While the kernel waits for the learner: ask for checkpoints in the latest
        span a goto back would replay for long (see FILL_SPACING)."""
        if not self._fills or self._filler is not None or self._closed:
            return
        inc, state = self._current, self.state
        if inc is None or inc.conn is None or not self._settled or self._acked < self._seq:
            return
        if time.monotonic() - inc.state_at < FILL_IDLE:
            return  # the watchdog asks again
        if state.status not in ("paused", "done") or len(self._checkpoints) >= FILL_UP_TO:
            return
        here, schedule = state.pause_index, self._schedule
        usable = [c for c in self._checkpoints if c.point <= here and c.valid_for(schedule)]
        if not usable:
            return
        spans = [(b.elapsed - a.elapsed, a, b.point) for a, b in zip(usable, usable[1:])]
        if usable[-1].point < here:
            cpu = self._here_cpu  # the span to here (not known: a kernel without checkpoints)
            spans.append((float("inf") if cpu is None else cpu - usable[-1].elapsed, usable[-1], here))
        spans = [s for s in spans if s[0] > 2 * FILL_SPACING
                 and (s[1].point, s[2], _before(schedule, s[2])) not in self._filled]
        if not spans:
            return
        size, source, stop = max(spans, key=lambda s: s[2])
        budget = FILL_UP_TO - len(self._checkpoints)
        # A budget too short for FILL_SPACING is spread evenly over the whole span (the
        # part nearest the learner is the likeliest to be gone back to), by pause
        # points: the CPU time the free run took there includes its publications and
        # forks, so a quiet replay's checkpoints spaced by it landed anywhere from a
        # third to all of the span's first half (tests/engine/test_checkpoints.py).
        every = None
        if size != float("inf") and size / (budget + 1) > FILL_SPACING:
            every = max(1, (stop - source.point) // (budget + 1))
        try:
            source.conn.send(("fill", stop, FILL_SPACING, schedule, budget, every))
        except OSError:
            return
        self._filler, self._fill_source = _FILL_ASKED, source
        self._fill_span = (source.point, stop, _before(schedule, stop))

    def _filling(self, checkpoint: _Checkpoint, pid: int) -> None:
        with self._lock:
            if self._filler == _FILL_ASKED and self._fill_source is checkpoint:
                self._filler = pid
            else:  # stopped before its pid came
                self.host.kill(pid)

    def _filler_ended(self, pid: int) -> None:
        with self._lock:
            if self._filler == pid:
                self._end_fill(done=True)  # filled (or failed: not asked again)

    def _stop_filling(self) -> None:
        """A command, a goto, a reset: the filler gives the cores back at once (the
        checkpoints it made stay; the span is filled again later from the last one)."""
        filler = self._end_fill(done=False)
        if filler is not None and filler != _FILL_ASKED:
            self.host.kill(filler)

    def _end_fill(self, done: bool) -> int | None:
        """No fill under way any more; `done`: its span is not asked for again.
        Returns the filler's pid (or _FILL_ASKED, or None)."""
        if done and self._fill_span is not None:
            self._filled.add(self._fill_span)
        filler = self._filler
        self._filler = self._fill_source = self._fill_span = None
        return filler

    def _forget_checkpoint(self, checkpoint: _Checkpoint) -> None:
        if checkpoint in self._checkpoints:
            self._checkpoints.remove(checkpoint)

    def _drop(self, checkpoint: _Checkpoint) -> None:
        self.host.kill(checkpoint.pid)  # a kernel it forked lives on (the zygote reaps it)
        try:
            checkpoint.conn.close()
        except OSError:
            pass

    def _drop_checkpoints(self) -> None:
        dropped, self._checkpoints = self._checkpoints, []
        self._filled.clear()
        for checkpoint in dropped:
            self._drop(checkpoint)

    @property
    def checkpoints(self) -> tuple[int, ...]:
        """The pause points that have a checkpoint (for tests and benches)."""
        return tuple(c.point for c in self._checkpoints)

    def _kill_current(self) -> None:
        inc = self._current
        self._current = None
        self._unacked = []
        if inc is not None:
            inc.killed = True
            self.host.kill(inc.pid)
            if inc.conn is not None:
                try:
                    inc.conn.close()
                except OSError:
                    pass

    # --- callbacks from the host's threads ---------------------------------------------

    def _forked(self, gen: int, pid: int) -> None:
        with self._lock:
            inc = self._current
            if inc is None or inc.gen != gen or self._closed:
                self.host.kill(pid)  # reset or closed before it was born
                return
            inc.pid = pid

    def _exited(self, pid: int) -> None:
        """The zygote says `pid` ended: a kernel that died before it connected (its
        reader thread reports the others)."""
        inc = self._current
        if inc is not None and inc.pid == pid and inc.conn is None and not inc.killed:
            threading.Thread(target=self._died, args=(inc, pid, None), daemon=True).start()

    def _connected(self, hello: tuple, conn: Connection) -> None:
        _, cid, gen, pid = hello
        with self._lock:
            inc = self._current
            if inc is None or inc.gen != gen or self._closed:
                self.host.kill(pid)
                conn.close()
                return
            inc.pid, inc.conn = pid, conn
            if inc.source is not None:
                took = time.monotonic() - inc.born
                self._resume_cost = 0.7 * self._resume_cost + 0.3 * took
            pending, self._pending = self._pending, []
            for message in pending:
                self._send(inc, message)
        threading.Thread(target=self._read, args=(inc, conn), name="tutor-kernel-reader", daemon=True).start()

    def _read(self, inc: _Incarnation, conn: Connection) -> None:
        try:
            while True:
                message = conn.recv()
                if message[0] == "state":
                    self._on_state(inc, message)
                elif message[0] == "goto":  # its Runner replays: a checkpoint may be nearer
                    with self._lock:
                        if inc is self._current and not message[2]:
                            self._resume(message[1], after=message[3], graph_at=message[4])
                        elif inc is self._current:
                            # kept: its state shows at once (next message), but the Runner
                            # replays from the start behind it: a checkpoint takes over then
                            self._resume_after_shown = (inc, message[1], message[3], message[4])
                elif message[0] == "result":
                    with self._lock:
                        self._results[message[1]] = (message[2], message[3])
                        self._cv.notify_all()
                elif message[0] == "exit":
                    self.host.record_exit(message[1], message[2])
        except (EOFError, OSError, TypeError):
            pass
        if not inc.killed:
            self._died(inc, inc.pid, None)

    def _on_state(self, inc: _Incarnation, message: tuple) -> None:
        _, acked, settled, back, shown, keep, tail, schedule, cpu = message
        with self._lock:
            if inc is not self._current:
                return
            self._schedule = schedule
            self._here_cpu = cpu  # (None while running, or without checkpoints)
            inc.state_at = time.monotonic()
            if acked >= self._seq:
                self._override = shown.lr_override
            costs = self._costs[:keep] + tail if keep else tail
            self._costs = costs
            self._acked = acked
            self._settled = settled
            if self._unacked:
                self._unacked = [m for m in self._unacked if m[0] > acked]
            if acked >= self._seq:
                inc.sent_at = None
            elif inc.sent_at is not None:
                inc.sent_at = time.monotonic()  # it answers: the clock restarts
            if (not settled or acked < self._seq) and shown.status in ("idle", "paused"):
                # The worker took a command and has not published yet (it may be in
                # a C call that never returns), or the kernel has not seen the latest
                # one yet: it is running, as the state said when the command was sent.
                shown = replace(shown, status="running")
            if inc.shown_tensors is not None and shown.status == "paused" and shown.pause_index == inc.target:
                shown = replace(shown, tensors=inc.shown_tensors)
                inc.shown_tensors = None
            # The kernel's step back targets are those of where it rests once every
            # command is done; before, the client's own stand (a step back under way
            # knows the rest of its chain; after a command that moves, none is known).
            self._show(replace(shown, costs=costs), back if settled and acked >= self._seq else self._pair[1])
            pending = self._resume_after_shown
            if pending is not None and pending[0] is inc and shown.pause_index == pending[1]:
                self._resume_after_shown = None
                self._resume(pending[1], after=pending[2], shown=True, graph_at=pending[3])
            self._cv.notify_all()

    def _check_answer(self) -> None:
        """Watchdog: a kernel that acknowledges nothing for ANSWER_TIMEOUT is killed
        (its worker holds the GIL: `sum(range(10**11))`). A running kernel silent for
        QUIET_STATE shows the cell it started last, read from the small file the
        kernel writes at each cell start (kernel.py, CellWatch): a worker that went
        straight from a cell's start into such a C call never published that cell.
        It also starts filling checkpoints once the kernel has been quiet a while."""
        with self._lock:
            self._maybe_fill()
            inc = self._current
            if inc is not None and inc.conn is not None and self.state.status == "running" \
                    and time.monotonic() - inc.state_at >= QUIET_STATE:
                self._show_started_cell(inc)
            if inc is None or inc.conn is None or inc.sent_at is None or self._queries:
                return
            if time.monotonic() - inc.sent_at < protocol.ANSWER_TIMEOUT:
                return
            self._last_gen = inc.gen
            self._kill_current()
            error = self._fault("KernelUnresponsive")
            self._show(replace(self.state, status="error", error=error), self._back_from_error())
            self._cv.notify_all()

    def _show_started_cell(self, inc: _Incarnation) -> None:
        where = self._where(inc.gen)
        state, back = self._pair
        if where is not None and where[0] != state.cell:
            self._show(replace(state, cell=where[0], line=where[1], iteration=None, frame=None), back)
            self._cv.notify_all()

    def _died(self, inc: _Incarnation, pid: int | None, error: ErrorInfo | None) -> None:
        """The kernel ended without being asked: show why, as an error state."""
        status = self.host.exit_status(pid, EXIT_STATUS_WAIT) if pid else None
        with self._lock:
            if inc is not self._current or inc.killed:
                return
            self._current = None
            self._last_gen = inc.gen
            if error is None:
                code = sig = None
                if status is not None:
                    if os.WIFSIGNALED(status):
                        sig = os.WTERMSIG(status)
                    elif os.WIFEXITED(status):
                        code = os.WEXITSTATUS(status)
                error = self._fault("KernelDied", exit_code=code, signal=sig,
                                    line=self._fault_line(inc))
            # Placed where it happened, as an error in lesson code is: the view follows
            # the state's cell (the cell it died in may not have been shown yet).
            self._show(replace(self.state, status="error", error=error, cell=error.cell,
                               line=error.line or self.state.line), self._back_from_error())
            self._cv.notify_all()

    # --- helpers -----------------------------------------------------------------------

    def _idle(self) -> RunState:
        return RunState(status="idle", pause_index=-1, lr=self._override, lr_override=self._override)

    def _show(self, state: RunState, backs: tuple[int, ...] = ()) -> None:
        self._pair = (state, backs)

    def _backs_from(self, k: int) -> tuple[int, ...]:
        """The step back targets from point k, where the chain shown now passes k
        (a step back under way); none known otherwise (until the kernel answers)."""
        state, backs = self._pair
        if state.pause_index == k:
            return backs  # shown at k already (a goto the kernel passed on to a checkpoint)
        return backs[backs.index(k) + 1:] if k in backs else ()

    def _back_from_error(self) -> tuple[int, ...]:
        p = self.state.pause_index
        return (p - 1,) if p > 0 else ()

    def _fault(self, kind: str, line: int | None = None, **facts: Any) -> ErrorInfo:
        """A fault of the kernel process, placed where the last state said the run was:
        its line, or (at a cell's end) the next cell's first line."""
        state = self.state
        cell = state.cell
        started = self._where(self._last_gen)
        if started is not None and (cell is None or started[0] > cell):
            cell, line = started[0], line or started[1]  # it died before showing that cell
        if line is None:
            line = state.line
        if line is None and (cell is None or cell in state.cells_done):
            after = [c for c in self.lesson.runnable_cells if c.index not in state.cells_done]
            if after:
                cell = after[0].index
        if cell is None:
            cell = 0
        if line is None:
            found = [c for c in self.lesson.cells if c.index == cell]
            line = found[0].line if found else 0
        return ErrorInfo(cell=cell, line=line, type=kind, message="", **facts)

    def _forget_files(self, gen: int) -> None:
        if gen > 0:
            for path in (self._where_path(gen), os.path.join(self.host.dir, f"fault-{self.cid}-{gen}.log")):
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def _where_path(self, gen: int) -> str:
        return os.path.join(self.host.dir, f"where-{self.cid}-{gen}")

    def _where(self, gen: int) -> tuple[int, int] | None:
        """(cell, first line) of the cell that started last in incarnation `gen`."""
        try:
            with open(self._where_path(gen), "rb") as f:
                cell, line = protocol.WHERE.unpack(f.read(protocol.WHERE.size))
        except (OSError, struct.error):
            return None
        return None if cell < 0 else (cell, line)

    def _fault_line(self, inc: _Incarnation) -> int | None:
        """The lesson line of a segfault, from the kernel's faulthandler dump."""
        path = os.path.join(self.host.dir, f"fault-{self.cid}-{inc.gen}.log")
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        lesson_path = re.escape(str(self.lesson.path))
        found = re.search(rf'File "{lesson_path}", line (\d+)', text)
        return int(found.group(1)) if found else None


# Commands after which a Runner's worker is running (from idle or paused): the
# client's state says so at once, as a Runner's own does a moment later.
STARTS_RUNNING = ("next", "step", "run", "jump", "goto_cell", "run_to_cell_end")


# ...and those after which the point the run stops at is not known before the kernel
# says (the step back targets shown with the state before are no longer its).
MOVES = (*STARTS_RUNNING, "run_until", "pause")


def _forward(name: str) -> Callable[..., None]:
    def command(self: KernelClient, *args: Any) -> None:
        with self._lock:
            sent = self._command(name, *args)
            if sent and name in MOVES:
                self._show(self.state)  # where it stops: the kernel will say
            if sent and name in STARTS_RUNNING:
                if self.state.status in ("idle", "paused"):
                    self._moved_by = self._modes[name]
                self._running()

    command.__name__ = name
    command.__doc__ = f"Runner.{name}, in the kernel (returns at once)."
    return command


for _name in protocol.FORWARDED:
    if not hasattr(KernelClient, _name):
        setattr(KernelClient, _name, _forward(_name))
