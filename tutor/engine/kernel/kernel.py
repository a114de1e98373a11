"""Inside a kernel process: a `Runner` driven by the app over a socket.

A kernel is forked from the zygote (zygote.py) for one lesson, or from one of its own
checkpoints (checkpoints.py). It runs the same `Runner` as `tutor run`, unchanged:
the Runner's worker thread executes lesson code, and this module's IO loop (one more
thread) reads commands from the app, calls the Runner's methods, and sends each new
`RunState` back, pickled. The IO loop sleeps in `select()` on three descriptors: the
app's socket, a wake-up pipe written whenever the Runner publishes a state, and the
lifeline (a pipe the app holds open; EOF means the app is gone, so the kernel ends).

The app measures whether a kernel answers by the acknowledgement carried in each
state message (see protocol.py): a worker holding the GIL in a C call starves this
loop, and the app then kills the process.
"""

from __future__ import annotations

import ctypes
import mmap
import faulthandler
import os
import resource
import select
import signal
import sys
import threading
from dataclasses import replace
from multiprocessing.connection import Client, Connection
from typing import Any

from tutor.engine.kernel import fd_output, protocol
from tutor.engine.kernel.protocol import WHERE
from tutor.engine.runner import Runner
from tutor.engine.state import ErrorInfo, RunState

PR_SET_PDEATHSIG = 1
SETTLE_POLL = 0.02  # seconds
MEMORY_TYPES = ("MemoryError",)
MEMORY_WORDS = ("can't allocate memory", "Cannot allocate memory", "out of memory")


class CellWatch:
    """The Runner's cell_hook in a kernel: writes the cell that started last, and
    its first line, into a small shared file the app reads when the kernel dies or
    stays silent while running (client.py, _check_answer). An
    mmap write needs no GIL on the reading side: it is there even when the worker
    went straight from the cell's start into a C call that starved the IO loop."""

    def __init__(self, path: str | None) -> None:
        self._map: mmap.mmap | None = None
        if path:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                os.ftruncate(fd, WHERE.size)
                self._map = mmap.mmap(fd, WHERE.size)
                os.close(fd)
            except OSError:
                self._map = None
        self.clear()

    def clear(self) -> None:
        """A replay reports no cell starts: forget the last one (goto)."""
        if self._map is not None:
            WHERE.pack_into(self._map, 0, -1, -1)

    def __call__(self, cell: int, line: int) -> None:
        """The Runner's cell_hook: cell `cell` (its first line `line`) starts."""
        if self._map is not None:
            WHERE.pack_into(self._map, 0, cell, line)


class KernelRunner(Runner):
    """A Runner whose every published state wakes the kernel's IO loop.

    `Runner` publishes by assigning `self.state`; this property keeps that
    assignment and writes one byte to the wake-up pipe (non-blocking: a full pipe
    means the loop is awake anyway)."""

    _wake_fd = -1
    _kernel: Any = None  # the Kernel serving this runner (checkpoints ask it to fork)
    _unstarted: list | None = None  # worker threads the IO loop starts after answering
    _io_thread: int | None = None  # the IO loop's thread ident
    _cell_watch: CellWatch | None = None
    settled_cpu: float | None = None  # the run's CPU seconds where the worker last waited

    def goto(self, k: int) -> None:
        """Runner.goto, and the app hears of it: unless the state at k is kept here (shown
        at once), the app serves it from a checkpoint if one is nearer than the start,
        replacing this kernel (client.py, `_resume`). Every goto passes here: the app's
        own, and those the Runner decides on (jump, run until `@k`, step back)."""
        kernel = self._kernel
        if kernel is not None and k >= 0 and threading.get_ident() == self._io_thread:
            with self._history_lock:
                kept = k in self._history  # shown at once from here: no checkpoint needed
            kernel.conn.send(("goto", k, kept, kernel.handling, self.last_backward_before(k)))
        super().goto(k)

    def _start(self, run: Any) -> None:
        """The worker starts only after the IO loop has sent its answer: a worker that
        goes straight into a C call holding the GIL (`sum(range(10**11))`) would
        otherwise starve the loop before the app heard that the command arrived."""
        if self._unstarted is None or threading.get_ident() != self._io_thread:
            super()._start(run)  # e.g. the worker itself starting a diverged run's replay
            return
        self._run = run
        thread = threading.Thread(target=self._work, args=(run,), name="tutor-runner", daemon=True)
        run.thread = thread
        self._unstarted.append(thread)

    @property
    def state(self) -> RunState:
        return self._state

    @state.setter
    def state(self, value: RunState) -> None:
        self._state = value
        self._wake()

    def _settled(self, run: Any) -> None:
        """The state a pause publishes is read by the IO loop maybe before the worker
        marks itself waiting (then sent as not settled): wake the loop again, so the
        app hears at once that the kernel waits, not one SETTLE_POLL later (measured:
        20-30 ms added to about half of the step backs). And note the run's CPU time
        here (on the worker: it is the worker's clock), so the app knows how long a
        replay from its last checkpoint to here takes (filling: client.py)."""
        if self.point_hook is not None:
            from tutor.engine.kernel.checkpoints import elapsed

            self.settled_cpu = elapsed(run)
        self._wake()

    def _wake(self) -> None:
        fd = self._wake_fd
        if fd >= 0:
            try:
                os.write(fd, b"!")
            except (BlockingIOError, OSError):
                pass


def _data_size() -> int:
    """This process's private data segments (VmData), bytes."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def limit_memory(size: int) -> int:
    """Let lesson code allocate at most `size` bytes more than the kernel has now.

    RLIMIT_DATA (private writable memory, since Linux 4.7), not RLIMIT_AS: the
    address space also counts libtorch's file mappings and reserved thread stacks,
    which lesson code does not choose. Measured here: with either limit, a tensor
    beyond it raises torch's `RuntimeError: DefaultCPUAllocator: can't allocate
    memory` and a bytearray `MemoryError`, and the kernel keeps working."""
    limit = _data_size() + size
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return limit


def die_with_parent() -> None:
    """SIGKILL when the parent (the zygote) ends: a kernel stuck in a C call cannot
    watch the lifeline itself."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the lifeline still ends it when idle
        pass
    if os.getppid() == 1:  # the parent ended before prctl
        os._exit(0)


def as_memory_limit(error: ErrorInfo | None, memory: int) -> ErrorInfo | None:
    """An allocation refused by the rlimit is reported as the fact it is: lesson code
    used more memory than --kernel-memory allows."""
    if error is None or error.type == "MemoryLimit":
        return error
    if error.type in MEMORY_TYPES or any(w in error.message for w in MEMORY_WORDS):
        return replace(error, type="MemoryLimit", limit=memory)
    return error


class Kernel:
    """The IO loop of one kernel incarnation (generation `gen` of client `cid`)."""

    def __init__(
        self,
        runner: KernelRunner,
        conn: Connection,
        lifeline: int,
        *,
        cid: int,
        gen: int,
        address: str,
        authkey: bytes,
        memory: int,
    ) -> None:
        self.runner = runner
        self.conn = conn
        self.lifeline = lifeline
        self.cid = cid
        self.gen = gen
        self.address = address
        self.authkey = authkey
        self.memory = memory
        self.acked = 0  # commands are numbered from 1
        self.handling = 0  # the command being handled
        self._sent: tuple | None = None  # (state, acked, settled) last sent
        self._sent_costs: tuple = ()
        self._error_in: ErrorInfo | None = None
        self._error_out: ErrorInfo | None = None
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        self.wake_w = wake_w
        runner._wake_fd = wake_w
        runner._kernel = self
        runner._unstarted = []

    # --- the loop ----------------------------------------------------------------

    def serve(self) -> None:
        """Until the app closes the socket or the lifeline: commands in, states out."""
        conn, wake, lifeline = self.conn, self.wake_r, self.lifeline
        fds = [conn.fileno(), wake, lifeline]
        self.runner._io_thread = threading.get_ident()
        try:
            self.send_state()
            self.runner.precompile()
            while True:
                # A replay that arrives at a point the runner already shows (from its
                # history) publishes nothing: look again soon while a run is going on.
                timeout = None if self._sent is not None and self._sent[2] else SETTLE_POLL
                ready, _, _ = select.select(fds, [], [], timeout)
                if lifeline in ready:
                    break
                if wake in ready:
                    os.read(wake, 65536)
                if conn.fileno() in ready:
                    while conn.poll():
                        self.handle(conn.recv())
                        if self.runner._unstarted:
                            self.send_state()
                            self._start_workers()
                self.send_state()
        except (EOFError, OSError):
            pass
        os._exit(0)

    def _start_workers(self) -> None:
        threads, self.runner._unstarted = self.runner._unstarted, []
        for thread in threads:
            thread.start()

    def handle(self, message: tuple) -> None:
        seq, name, args = message
        self.handling = seq
        runner = self.runner
        if name == "goto" and runner._cell_watch is not None:
            runner._cell_watch.clear()
        if name in protocol.FORWARDED:
            try:
                getattr(runner, name)(*args)
            except ValueError:  # the client validates first; never end the loop for it
                pass
        elif name in protocol.QUERIES:
            self.acked = seq
            try:
                value = getattr(runner, name)(*args)
                self.send_state()
                self.conn.send(("result", seq, True, self._plain(value)))
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                self.conn.send(("result", seq, False, f"{type(exc).__name__}: {exc}"))
        self.acked = seq

    def _plain(self, value: Any) -> Any:
        if isinstance(value, RunState):
            return self._with_memory_error(value)
        return value

    def _with_memory_error(self, state: RunState) -> RunState:
        error = state.error
        if error is None:
            return state
        if error is not self._error_in:
            self._error_in, self._error_out = error, as_memory_limit(error, self.memory)
        return state if self._error_out is error else replace(state, error=self._error_out)

    def settled(self) -> bool:
        """The worker waits for a command, or no run is going on."""
        run = self.runner._run
        return run is None or run.ended or (run.suspended and not run.resume)

    def send_state(self) -> None:
        settled = self.settled()  # before reading the state: see protocol.py
        state = self.runner.state
        key = (state, self.acked, settled)
        sent = self._sent
        if sent is not None and sent[0] is state and sent[1] == self.acked and sent[2] == settled:
            return
        self._sent = key
        costs, old = state.costs, self._sent_costs
        keep = 0
        n = len(old)
        if n and len(costs) >= n and costs[n - 1] is old[n - 1]:
            keep = n  # same run's cost list, grown (or not): send only the new points
        elif n and costs and len(costs) < n and costs[len(costs) - 1] is old[len(costs) - 1]:
            keep = len(costs)  # a prefix of what was sent (a goto shown from history)
        tail = costs[keep:]
        self._sent_costs = costs
        back = self.runner.back_targets(state)
        shown = self._with_memory_error(replace(state, costs=()))
        schedule = self.runner.lr_schedule
        cpu = self.runner.settled_cpu if settled else None
        self.conn.send(("state", self.acked, settled, back, shown, keep, tail, schedule, cpu))


def connect(address: str, authkey: bytes, hello: tuple) -> Connection:
    conn = Client(address, family="AF_UNIX", authkey=authkey)
    conn.send(hello)
    return conn


def own_process() -> None:
    """This fork is the lesson's own process (a kernel, a checkpoint), not one lesson
    code forked (a DataLoader worker): its pause points work (runner.py marks every
    fork child as the latter)."""
    import tutor.engine.runner as runner_module

    runner_module._in_fork_child = False


def start(request: dict, lifeline: int, address: str, authkey: bytes) -> None:
    """A fresh kernel, just forked from the zygote: make its Runner, connect, serve.
    Never returns."""
    code = 0
    try:
        own_process()
        die_with_parent()
        lesson = request["lesson"]
        memory = request["memory"]
        _open_fault_log(request.get("fault_log"))
        try:
            os.chdir(lesson.path.parent)  # lesson code reads files next to its lesson
        except OSError:
            pass
        cell_started = CellWatch(request.get("where"))
        runner = KernelRunner(lesson, lr_override=request["lr_override"], **request.get("options", {}))
        runner.cell_hook = cell_started
        runner._cell_watch = cell_started
        fd_output.capture(runner)
        limit_memory(memory)
        conn = connect(address, authkey, ("hello", request["cid"], request["gen"], os.getpid()))
        kernel = Kernel(
            runner, conn, lifeline, cid=request["cid"], gen=request["gen"],
            address=address, authkey=authkey, memory=memory,
        )
        checkpoints = request.get("checkpoints")
        if checkpoints:
            from tutor.engine.kernel.checkpoints import Policy

            runner.point_hook = Policy(kernel, **(checkpoints if isinstance(checkpoints, dict) else {}))
        kernel.serve()
    except BaseException:  # noqa: BLE001 - a kernel never returns into the zygote
        import traceback

        traceback.print_exc()  # to its fault log (or the zygote's log)
        code = 70
    os._exit(code)


def _open_fault_log(path: str | None) -> None:
    """A segfault in lesson code dumps the Python stack here (the app reads the
    lesson line from it)."""
    if not path:
        return
    try:
        f = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open until the process ends
    except OSError:
        return
    use_fault_log(f)
    sys.stderr = f  # tracebacks of the kernel's own failures, next to it


_fault_log = None  # this kernel's fault log (a resumed checkpoint opens its own)
_real_exit = os._exit


def use_fault_log(f) -> None:
    """Stacks of a segfault, and of os._exit called from lesson code, go to `f`
    (None: nowhere, in a copy whose log is another process's)."""
    global _fault_log
    _fault_log = f
    if f is None:
        faulthandler.disable()
        return
    faulthandler.enable(file=f, all_threads=True)
    os._exit = _exit


def _exit(status: int) -> None:
    """os._exit from lesson code (or a library it calls) ends the process with no
    traceback: leave its stack in the fault log as a segfault does, so the app names
    the lesson line. Not for the kernel's own exits (tutor's modules), nor in a
    process lesson code forked (a DataLoader worker leaving): its stack would name
    the line that forked it."""
    import tutor.engine.runner as runner_module

    caller = sys._getframe(1).f_globals.get("__name__", "")
    if _fault_log is not None and not runner_module._in_fork_child and not caller.startswith("tutor."):
        faulthandler.dump_traceback(file=_fault_log, all_threads=False)
    _real_exit(status)
