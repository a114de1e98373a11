"""The app's one `KernelHost`: the zygote, the kernels' listener and the lifeline.

It owns:
- the zygote, a fresh interpreter started with subprocess in a new session;
- a Unix socket listener in a private 0700 temporary directory, with a random
  authkey: every kernel incarnation (and every checkpoint) connects back to it
  itself and says who it is (client id, generation);
- the lifeline: the write end of a pipe that only the app holds. Every kernel
  process has the read end; when the app ends in any way the kernel closes it, the
  zygote sees EOF and kills its whole process group.

The app starts it before Textual is even imported, so this module imports only the
standard library and protocol.py: the kernels' clients (client.py, with the run
state's types) load after the first frame, off the UI thread.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from tutor.engine.kernel import protocol

if TYPE_CHECKING:
    from tutor.engine.kernel.client import KernelClient
    from tutor.engine.lesson import Lesson

PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])  # the directory holding `tutor/`
WATCHDOG_PERIOD = 0.1


class KernelHost:
    """The zygote, the listener and the lifeline (see the module docstring)."""

    def __init__(self, memory: int = protocol.DEFAULT_MEMORY, python: str = sys.executable) -> None:
        self.memory = memory
        self.dir = tempfile.mkdtemp(prefix="tutor-kernel-")  # mode 0700
        self.address = os.path.join(self.dir, "kernel.sock")
        self.authkey = os.urandom(32)
        self.listener = Listener(self.address, family="AF_UNIX", authkey=self.authkey)
        self.ready = threading.Event()
        self.failure: str | None = None
        self.zygote_pid: int | None = None
        self.import_seconds: float | None = None
        self.closed = False
        self._clients: dict[int, "KernelClient"] = {}
        self._next_cid = 0
        self._exits: dict[int, int] = {}  # pid -> waitpid status, as reported by parents
        self._cv = threading.Condition()
        self._send_lock = threading.Lock()
        self._ready_callbacks: list[Callable[[], None]] = []
        lifeline_r, self._lifeline_w = os.pipe()  # both O_CLOEXEC: only passed on purpose
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        # numpy's OpenBLAS would start a thread server at import: the zygote forks,
        # so it stays single-threaded (lesson tensors are tiny; torch runs 1 thread).
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [python, "-m", "tutor.engine.kernel.zygote", str(theirs.fileno()), str(lifeline_r)],
            pass_fds=(theirs.fileno(), lifeline_r),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd="/", env=env,
        )
        theirs.close()
        os.close(lifeline_r)
        self.zconn = Connection(ours.detach())
        self.zconn.send({"address": self.address, "authkey": self.authkey,
                         "log": os.path.join(self.dir, "zygote.log")})
        threading.Thread(target=self._read_zygote, name="tutor-zygote", daemon=True).start()
        threading.Thread(target=self._accept, name="tutor-kernel-accept", daemon=True).start()
        threading.Thread(target=self._watchdog, name="tutor-kernel-watchdog", daemon=True).start()

    # --- clients -------------------------------------------------------------------

    def client(self, lesson: "Lesson", lr_override: float | None = None, **options: Any) -> "KernelClient":
        """A runner for `lesson` (the app's `runner_class(lesson, lr_override=...,
        landscape=True)`: Runner keyword arguments go to the kernel's Runner)."""
        from tutor.engine.kernel.client import KernelClient

        return KernelClient(self, lesson, lr_override=lr_override, **options)

    def _register(self, client: "KernelClient") -> int:
        with self._cv:
            self._next_cid += 1
            self._clients[self._next_cid] = client
            return self._next_cid

    def _unregister(self, cid: int) -> None:
        with self._cv:
            self._clients.pop(cid, None)

    def on_ready(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on some thread) once the zygote is ready or has failed."""
        with self._cv:
            if not (self.ready.is_set() or self.failure):
                self._ready_callbacks.append(callback)
                return
        callback()

    def fork(self, request: dict) -> bool:
        """Ask the zygote for a kernel (answered by a "forked" message, then the
        kernel's own "hello"). False when the zygote is gone."""
        request.setdefault("memory", self.memory)
        request.setdefault("fault_log", os.path.join(self.dir, f"fault-{request['cid']}-{request['gen']}.log"))
        try:
            with self._send_lock:
                self.zconn.send(("fork", request))
            return True
        except OSError:
            return False

    def exit_status(self, pid: int, timeout: float) -> int | None:
        """The waitpid status of `pid` once its parent reported it (None: not yet)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while pid not in self._exits:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    return None
                self._cv.wait(remaining)
            return self._exits.pop(pid)

    def record_exit(self, pid: int, status: int) -> None:
        with self._cv:
            self._exits[pid] = status
            if len(self._exits) > 4096:  # never asked for: drop the oldest
                for key in list(self._exits)[:2048]:
                    del self._exits[key]
            self._cv.notify_all()

    @staticmethod
    def kill(pid: int | None) -> None:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    # --- threads -------------------------------------------------------------------

    def _read_zygote(self) -> None:
        conn = self.zconn
        try:
            while True:
                message = conn.recv()
                kind = message[0]
                if kind == "ready":
                    self.zygote_pid, self.import_seconds = message[1], message[2]
                    self.ready.set()
                    self._call_ready()
                elif kind == "failed":
                    self.failure = message[1]
                    self._call_ready()
                elif kind == "forked":
                    client = self._clients.get(message[1])
                    if client is not None:
                        client._forked(message[2], message[3])
                    else:
                        self.kill(message[3])
                elif kind == "exit":
                    self.record_exit(message[1], message[2])
                    for client in list(self._clients.values()):
                        client._exited(message[1])
        except (EOFError, OSError, TypeError):  # TypeError: closed by close() meanwhile
            pass
        if not self.closed and self.failure is None and not self.ready.is_set():
            self.failure = "the kernel process could not start"
            self._call_ready()
        self.ready.clear()
        with self._cv:
            self.closed = True
            self._cv.notify_all()

    def _call_ready(self) -> None:
        with self._cv:
            callbacks, self._ready_callbacks = self._ready_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - e.g. the app that asked has ended
                pass

    def _accept(self) -> None:
        while True:
            try:
                conn = self.listener.accept()
            except Exception:  # noqa: BLE001 - a kernel killed during the handshake
                if self.closed:  # (BrokenPipeError, EOFError, ...): keep listening
                    return
                continue
            try:
                hello = conn.recv()
            except (EOFError, OSError):
                conn.close()
                continue
            client = self._clients.get(hello[1]) if len(hello) > 3 else None
            if client is None:
                self.kill(hello[3] if len(hello) > 3 and isinstance(hello[3], int) else None)
                conn.close()
            elif hello[0] == "checkpoint":
                client._checkpoint(hello, conn)
            else:
                client._connected(hello, conn)

    def _watchdog(self) -> None:
        while not self.closed:
            time.sleep(WATCHDOG_PERIOD)
            for client in list(self._clients.values()):
                client._check_answer()

    def close(self) -> None:
        """End every kernel at once (closing the lifeline: the zygote kills its group)."""
        if self.closed and self._lifeline_w < 0:
            return
        self.closed = True
        for client in list(self._clients.values()):
            client.close()
        if self._lifeline_w >= 0:
            os.close(self._lifeline_w)
            self._lifeline_w = -1
        try:
            self.listener.close()
        except OSError:
            pass
        try:
            self.zconn.close()
        except OSError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
        with self._cv:
            self._cv.notify_all()
