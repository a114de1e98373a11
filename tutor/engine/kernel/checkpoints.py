"""Checkpoints: paused copies of a kernel, so that a deep step back replays little.

The kernel's Runner calls `Policy` (its `point_hook`) at every iteration point and
cell end, on the worker thread. At every cell end, and at iteration points spaced
SPACING seconds of the worker's CPU time apart (doubling every DOUBLE_EVERY
checkpoints, so a long run forks fewer and fewer; never closer than FORK_FACTOR
times the measured cost of a fork), it forks: the child is a
*checkpoint*, the lesson's whole process paused at that point; the parent goes on.

A checkpoint connects to the app itself (`("checkpoint", client, point, pid, info)`)
and waits. `goto(k)` in the app picks the checkpoint with the largest point <= k and
sends it `("resume", generation, k, moved_by, where, fault_log, schedule, seen)` (seen:
the tensors the learner saw last, so "changed since" counts from them): the checkpoint
forks again (so it stays usable) and that child becomes the kernel: it connects as
generation `generation`, starts an IO loop thread, and returns from the hook into the
lesson code in goto mode, replaying quietly from the checkpoint to k. Exact: the same
process state, the same code onward (tests/engine/test_checkpoints.py compares with
stepping forward and with plain torch).

Forking from the worker thread: the kernel has two threads (IO loop, worker). The
worker takes the Runner's locks before forking, so the IO loop is not inside a
Runner command at that moment, and the child replaces every lock it inherited.
`gc.freeze()` before each fork keeps the garbage collector from writing into the
pages the checkpoint shares with the kernel.

Filling: iteration checkpoints of a free run are far apart (a fork, and the
copy-on-write faults after it, cost the run itself), so a goto between two of them
replays up to their spacing. While the learner reads (the kernel settled), the app
asks a checkpoint to `("fill", stop, spacing, schedule, budget, every)` the span after
it: it forks a *filler* that replays quietly from its point, forks checkpoints every
`spacing` seconds of CPU time on the way, or every `every` pause points when the app
spreads a short budget over the span (on the other core, off the learner's path), and
ends at the first pause point >= stop or after `budget` forks (or at a SIGKILL from the app when the
learner gives a command; the checkpoints it made stay). It connects to nothing
itself; FILL_LIMIT seconds end it whatever its lesson code does.

A checkpoint at point c is valid while the lr schedule (runner.py: (pause point, lr)
entries) before c is the one it ran with; the resumed kernel is given the app's
whole schedule, so going back across an lr change replays it exactly. The app keeps
at most MAX_CHECKPOINTS per lesson and kills the ones it drops. Each ends with the lifeline like every kernel process.
"""

from __future__ import annotations

import gc
import os
import select
import threading
import time
from typing import Any

from tutor.engine.kernel import fd_output

SPACING = 0.05  # seconds of the worker's CPU time between iteration checkpoints, at first
DOUBLE_EVERY = 16  # ...doubled after every this many checkpoints of one lineage
# ...and never less than this many times what a fork costs the kernel (measured as it
# goes: 4 ms on a quiet machine, several times that on a loaded one), so checkpoints
# cost a free run at most about 1/FORK_FACTOR of its time (plus copy-on-write faults).
FORK_FACTOR = 50
FORK_COST = 0.004  # a fork's cost before one was measured (the zygote's last fork, else this)
MIN_GAP = 0.002  # a cell end this soon after the last checkpoint gets none
MAX_CHECKPOINTS = 32  # per lesson, kept by the app (thinned: see client.py)
FILL_LIMIT = 10  # seconds a filler may run at most (SIGALRM)
LOCK_WAIT = 0.005


def _lock_types() -> tuple[type, ...]:
    return (type(threading.Lock()), type(threading.RLock()))


def _renew_locks(*objects: Any) -> None:
    """After fork, every lock another thread of the parent may have held is replaced
    (that thread does not exist here and would never release it)."""
    lock_types = _lock_types()
    for obj in objects:
        for name, value in list(vars(obj).items()):
            if isinstance(value, threading.Condition):
                setattr(obj, name, threading.Condition())
            elif isinstance(value, lock_types):
                fresh = threading.RLock() if "RLock" in type(value).__name__ else threading.Lock()
                setattr(obj, name, fresh)


def elapsed(run: Any) -> float:
    """CPU seconds the lesson's run has spent on its worker thread (across forks:
    a resumed kernel starts from its checkpoint's figure)."""
    start = getattr(run, "_ck_start", None)
    if start is None:
        run._ck_start = start = time.thread_time()
        run._ck_base = 0.0
    return run._ck_base + time.thread_time() - start


class Policy:
    """The Runner's point_hook in a kernel: decides where to fork checkpoints."""

    def __init__(self, kernel: Any, every: int | None = None, fork_cost: float | None = None) -> None:
        self.kernel = kernel
        # `every`: a checkpoint every that many pause points instead of by time (tests:
        # the same checkpoints however loaded the machine is)
        self.every = every
        self.base = SPACING
        self.fork_cost = fork_cost or FORK_COST  # seconds, a moving average
        self.spacing = max(SPACING, FORK_FACTOR * self.fork_cost)
        self.count = 0
        self.last_point = -1
        self.last_elapsed = float("-inf")
        self.last_wall = float("-inf")  # time.monotonic() at the last checkpoint
        self.fill_stop: int | None = None  # a filler: where it ends (see the module docstring)
        self.fill_budget = 0  # ...and how many more checkpoints it may make
        self._run_spacing: tuple | None = None  # (base, spacing, every) outside a fill

    def fill(self, stop: int, spacing: float, budget: int, every: int | None = None) -> None:
        """This process is a filler: checkpoints every `spacing` CPU seconds (or every
        `every` pause points), until `stop` or `budget` of them."""
        self._run_spacing = (self.base, self.spacing, self.every)
        self.fill_stop, self.base, self.spacing, self.every = stop, spacing, spacing, every
        self.fill_budget = budget

    def end_fill(self) -> None:
        """A checkpoint forked by a filler: the kernels it resumes space theirs as a run does."""
        if self._run_spacing is not None:
            self.base, self.spacing, self.every = self._run_spacing
            self._run_spacing = None
        self.fill_stop = None

    def __call__(self, run: Any, point: int) -> None:
        if self.fill_stop is not None and point >= self.fill_stop:
            os._exit(0)  # the filler arrived: its checkpoints serve from here on
        if run.headless or run.cancel or point <= self.last_point:
            return
        cell_end = run.line is None
        if self.every is None and not cell_end and time.monotonic() - self.last_wall < self.spacing:
            return  # the worker's CPU time since then is no more than the wall time
        now = elapsed(run)  # (a system call: only when a checkpoint may be due)
        if self.every is not None:
            if cell_end or point - self.last_point >= self.every:
                self._fork(run, point, now)
            return
        gap = now - self.last_elapsed
        if gap < (MIN_GAP if cell_end else self.spacing):
            return
        self._fork(run, point, now)

    def _fork(self, run: Any, point: int, now: float) -> None:
        runner = run.runner
        # What lesson code wrote to fds 1 and 2 and is still in the pipes goes into the
        # outputs the copy keeps (the copy has no reader: it would be lost there).
        run.take_fd_output(force=True)
        held = []
        try:
            for lock in (runner._lock, runner._history_lock):
                while not lock.acquire(timeout=LOCK_WAIT):
                    if run.cancel:
                        return
                held.append(lock)
            gc.freeze()
            started = time.perf_counter()
            pid = os.fork()
        finally:
            for lock in reversed(held):
                try:
                    lock.release()
                except RuntimeError:
                    pass
        if pid:
            took = time.perf_counter() - started
            self.fork_cost = 0.7 * self.fork_cost + 0.3 * took
            self.count += 1
            self.last_point, self.last_elapsed, self.last_wall = point, now, time.monotonic()
            if self.fill_stop is not None:  # a filler keeps its spacing: its forks cost no learner's run
                self.fill_budget -= 1
                if self.fill_budget <= 0:
                    os._exit(0)
                return
            if self.count % DOUBLE_EVERY == 0:
                self.base *= 2
            self.spacing = max(self.base, FORK_FACTOR * self.fork_cost)
            return
        self.last_point, self.last_elapsed = point, now
        try:
            _Checkpoint(self, run, point, now).wait()  # returns only in a resumed kernel
        except BaseException:  # noqa: BLE001 - a copy that cannot serve must not run on
            os._exit(70)


class _Checkpoint:
    """The paused copy: waits for resume requests, forks a kernel for each."""

    def __init__(self, policy: Policy, run: Any, point: int, now: float) -> None:
        self.policy = policy
        self.run = run
        self.point = point
        self.now = now
        from tutor.engine.kernel.kernel import own_process

        own_process()
        policy.end_fill()
        kernel = policy.kernel
        runner = run.runner
        _renew_locks(runner, run)
        fd_output.silence(runner)
        # The kernel's channels belong to the kernel, not to this copy (a copy made by
        # a filler finds them closed already, their numbers possibly reused).
        fds = [kernel.wake_r, kernel.wake_w]
        if kernel.conn._handle is not None:
            fds.append(kernel.conn.fileno())
        for fd in fds:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        kernel.conn._handle = None
        kernel.wake_r = kernel.wake_w = -1
        runner._wake_fd = -1
        from tutor.engine.kernel.kernel import connect

        info = {"elapsed": now, "cell": run.cell, "line": run.line, "iteration": run.iteration,
                "schedule": runner.lr_schedule, "costs": len(run.costs)}
        self.conn = connect(kernel.address, kernel.authkey,
                            ("checkpoint", kernel.cid, point, os.getpid(), info))
        self.children: set[int] = set()

    def wait(self) -> None:
        conn, lifeline = self.conn, self.policy.kernel.lifeline
        while True:
            try:
                ready, _, _ = select.select([conn.fileno(), lifeline], [], [], 0.1 if self.children else None)
                self._reap()
                if lifeline in ready:
                    os._exit(0)
                if conn.fileno() not in ready:
                    continue
                message = conn.recv()
            except (EOFError, OSError):
                os._exit(0)
            if message[0] in ("resume", "fill"):  # a copy goes on: a kernel, or a filler
                become = self._resume if message[0] == "resume" else self._fill
                pid = os.fork()
                if pid == 0:
                    try:
                        become(*message[1:])
                    except BaseException:  # noqa: BLE001 - never run lesson code unconnected
                        os._exit(70)
                    return  # into the lesson code
                self.children.add(pid)
                if message[0] == "fill":
                    try:
                        self.conn.send(("filling", pid))
                    except OSError:
                        os._exit(0)
            elif message[0] == "drop":
                os._exit(0)

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self.children.discard(pid)
                continue
            if done:
                self.children.discard(pid)
                try:
                    self.conn.send(("exit", pid, status))
                except OSError:
                    pass

    def _leave_checkpoint(self) -> None:
        """In a copy forked from this checkpoint: its own process, not the checkpoint's
        connection."""
        from tutor.engine.kernel.kernel import own_process

        own_process()
        os.close(self.conn.fileno())
        self.conn._handle = None

    def _replay(self, target: int, schedule: tuple) -> None:
        """Back in the lesson code (when the caller returns), replaying quietly from the
        checkpoint's point to `target` with the app's lr schedule (equal to this copy's
        before its point); CPU time counts on from the checkpoint's."""
        from tutor.engine.runner import GOTO

        run = self.run
        run.runner.set_lr_schedule(schedule)
        run._ck_base, run._ck_start = self.now, time.thread_time()
        self.policy.last_wall = time.monotonic()  # CPU time from here is no more than wall time
        with run.cv:
            run.mode, run.target = GOTO, target
            run.replaying, run.silent_arrival, run.pending_mode = True, False, None
            run.tail, run.stop_soon = 0, False
            run.suspended = run.resume = run.cancel = False

    def _fill(self, stop: int, spacing: float, schedule: tuple, budget: int, every: int | None = None) -> None:
        """In the filler: replay quietly from here, forking checkpoints (Policy.fill)."""
        import signal

        from tutor.engine.kernel.kernel import die_with_parent, use_fault_log
        from tutor.engine.runner import NOWHERE

        self._leave_checkpoint()
        die_with_parent()  # the checkpoint ends with the app's lifeline; this with it
        signal.alarm(FILL_LIMIT)  # default action: the process ends
        use_fault_log(None)  # the fault log is the old kernel's
        runner = self.run.runner
        runner.cell_hook = None  # the cell-start file is the old kernel's too
        runner._cell_watch = None
        self.policy.fill(stop, spacing, budget, every)
        # To a point never reached: quiet all the way (and no graph captured: a replay
        # into points this process never passed captured every backward(), 3x the
        # replay's time); Policy ends it at `stop`.
        self._replay(NOWHERE, schedule)

    def _resume(self, gen: int, target: int, moved_by: int, where: str, fault_log: str, schedule: tuple,
                seen: tuple | None = None, shared: int = 0, graph_at: int | None = None) -> None:
        """In the new kernel: connect as generation `gen`, serve, replay to `target`.
        `shared`: how many of the run's first cost points the app has already (its
        states send only the ones after: 2000 of them took ~5 ms to pickle and load).
        `graph_at`: the one backward() whose graph the replay captures (Runner.
        last_backward_before in the old kernel; None: every one, as it cannot tell)."""
        from tutor.engine.kernel.kernel import CellWatch, Kernel, connect, use_fault_log

        self._leave_checkpoint()
        policy, run = self.policy, self.run
        old = policy.kernel
        runner = run.runner
        try:
            log = open(fault_log, "w", encoding="utf-8")  # noqa: SIM115 - until the process ends
        except OSError:
            pass
        else:
            use_fault_log(log)
        watch = CellWatch(where)
        runner.cell_hook = watch
        runner._cell_watch = watch
        fd_output.capture(runner)
        conn = connect(old.address, old.authkey, ("hello", old.cid, gen, os.getpid()))
        kernel = Kernel(runner, conn, old.lifeline, cid=old.cid, gen=gen,
                        address=old.address, authkey=old.authkey, memory=old.memory)
        kernel._sent = (runner.state, kernel.acked, False)  # nothing until it arrives
        policy.kernel = kernel
        runner._moved_by = moved_by
        if seen is not None:  # the tensors the learner saw last (in the killed kernel)
            runner._snapshotter.seed(seen)
        kernel._sent_costs = tuple(run.costs[:shared])
        run.graph_point = graph_at
        self._replay(target, schedule)
        threading.Thread(target=kernel.serve, name="tutor-kernel-io", daemon=True).start()
