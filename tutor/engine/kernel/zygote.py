"""The zygote: a warm, single-threaded interpreter that forks kernels.

Started by the app (`python -m tutor.engine.kernel.zygote CONN_FD LIFELINE_FD`, a
fresh interpreter: the app runs threads and must never fork itself) as the app
starts, before Textual is imported. It imports torch, torch.nn, torch.optim, torch.nn.functional and the
engine, makes one throwaway training step (the first optimizer imports torch._dynamo
and sympy: +73 MB that every kernel then shares), sets one torch thread, `gc.freeze()`s
everything (so a kernel's garbage collections do not copy those pages), says
"ready" and waits for fork requests.

It leads its own process group (the app starts it in a new session: lesson code
has no terminal) and is the child subreaper of its descendants. Every kernel and
checkpoint inherits the group, so when the lifeline reaches EOF (the app ended,
however: quit, SIGTERM, SIGKILL, SIGHUP) one `killpg` ends them all. It reaps
every child and orphan and tells the app how each ended (the exit code of
`os._exit(3)`, the signal of a segfault).
"""

from __future__ import annotations

import ctypes
import gc
import os
import select
import shutil
import signal
import sys
import time
from multiprocessing.connection import Connection

PR_SET_CHILD_SUBREAPER = 36


def _reap(conn: Connection) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn.send(("exit", pid, status))


def _warm_up() -> float:
    started = time.perf_counter()
    import torch
    import torch.nn  # noqa: F401
    import torch.nn.functional  # noqa: F401
    import torch.optim

    torch.set_num_threads(1)
    # One throwaway training step: the first optimizer imports torch._dynamo and
    # sympy, the first backward() and step() more of torch's lazily imported modules.
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    optimizer.step()
    # Every engine module a kernel uses, so that a lesson's first run imports nothing.
    import tutor.engine.autograd_graph  # noqa: F401
    import tutor.engine.backward_steps  # noqa: F401
    import tutor.engine.figures  # noqa: F401
    import tutor.engine.inspection  # noqa: F401
    import tutor.engine.kernel.checkpoints  # noqa: F401
    import tutor.engine.kernel.kernel  # noqa: F401
    import tutor.engine.landscape  # noqa: F401 - the app's runs track it (11 ms a kernel otherwise)
    import tutor.engine.landscape_plan  # noqa: F401
    import tutor.engine.runner  # noqa: F401
    import tutor.engine.streams  # noqa: F401
    import tutor.engine.snapshot  # noqa: F401
    import tutor.engine.updates  # noqa: F401

    return time.perf_counter() - started


def _watch_lifeline_meanwhile(lifeline: int, address: str):
    """An app that ends while torch is still importing (a quick `q`, a start-up
    benchmark) must not leave this process importing for seconds more, on a core
    someone else needs: a thread watches the lifeline during the warm-up only.
    Returns the function that stops it (and waits for it)."""
    import threading

    stop_r, stop_w = os.pipe()

    def watch() -> None:
        ready, _, _ = select.select([lifeline, stop_r], [], [])
        if lifeline in ready and stop_r not in ready:
            shutil.rmtree(os.path.dirname(address), ignore_errors=True)
            os._exit(0)

    thread = threading.Thread(target=watch, name="tutor-zygote-lifeline", daemon=True)
    thread.start()

    def stop() -> None:
        os.write(stop_w, b"x")
        thread.join()
        os.close(stop_r)
        os.close(stop_w)

    return stop


def main(argv: list[str]) -> None:
    conn = Connection(int(argv[0]))
    lifeline = int(argv[1])
    init = conn.recv()
    address, authkey = init["address"], init["authkey"]
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    log = init.get("log")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 2)
        os.close(fd)
    else:
        os.dup2(devnull, 2)
    os.close(devnull)
    try:
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    stop_watch = _watch_lifeline_meanwhile(lifeline, address)
    try:
        seconds = _warm_up()
    except Exception as exc:  # noqa: BLE001 - a broken torch install: the app says so
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    finally:
        stop_watch()  # single-threaded again before any fork
    # No gc.collect() first: it found ~15 unreachable objects here and cost 0.16 s,
    # the warm-up's third biggest part (a lesson opened early waits for it).
    gc.freeze()
    # Children end: SIGCHLD wakes the select below through this pipe.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    conn.send(("ready", os.getpid(), seconds))
    fds = [conn.fileno(), lifeline, wake_r]
    try:
        while True:
            ready, _, _ = select.select(fds, [], [])
            if lifeline in ready:
                break
            if wake_r in ready:
                os.read(wake_r, 4096)
                _reap(conn)
            if conn.fileno() in ready:
                message = conn.recv()
                if message[0] == "fork":
                    _fork(conn, message[1], lifeline, (wake_r, wake_w), address, authkey)
            _reap(conn)
    except (EOFError, OSError):
        pass
    # the app's private directory (socket, fault logs): gone with the app, however it ended
    shutil.rmtree(os.path.dirname(address), ignore_errors=True)
    os.killpg(0, signal.SIGKILL)  # the kernels and checkpoints, then this process


_last_fork = [0.0]  # seconds the zygote's last fork took: the kernel's first estimate


def _fork(conn: Connection, request: dict, lifeline: int, pipe: tuple[int, int], address: str, authkey: bytes) -> None:
    if _last_fork[0] and isinstance(request.get("checkpoints"), (bool, dict)) and request["checkpoints"]:
        policy = request["checkpoints"] if isinstance(request["checkpoints"], dict) else {}
        request["checkpoints"] = {"fork_cost": _last_fork[0], **policy}
    started = time.perf_counter()
    pid = os.fork()
    if pid:
        _last_fork[0] = time.perf_counter() - started
        conn.send(("forked", request["cid"], request["gen"], pid))
        return
    # the kernel: nothing of the zygote's own channels stays open in it
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in (conn.fileno(), *pipe):
        os.close(fd)
    conn._handle = None  # closed above; its __del__ must not close a reused number
    from tutor.engine.kernel.kernel import start

    start(request, lifeline, address, authkey)


if __name__ == "__main__":
    main(sys.argv[1:])
