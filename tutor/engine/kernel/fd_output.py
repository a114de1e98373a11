"""What lesson code writes to file descriptors 1 and 2 in a kernel: the cell's output.

streams.py sees Python-level writes only. A subprocess (`os.system("nvidia-smi")`,
`subprocess.run(["ls"])`, a shell line from an imported notebook), a C extension's
printf, or a C++ library's warning write to the process's file descriptors 1 and 2
directly; in a kernel those were /dev/null and the zygote's log, so the learner never
saw them. As ipykernel does, each becomes a pipe read by a thread of the kernel: fd 1
joins the cell's printed output, fd 2 its stderr (Runner.fd_output takes both).

Why a reader thread and a read by the run's own thread too:
- The thread keeps the pipes drained, so a subprocess writing more than a pipe holds
  never blocks on a full pipe (a `pip install` log).
- The run's thread reads what is still in the pipe at a cell's end (`take(force=True)`),
  so a subprocess's output, complete in the pipe when os.system returns, is that cell's
  and not the next one's, whether or not the reader thread got to it yet. Both read
  under one lock, so no chunk is in neither place.

`tutor run` and `tutor check --run` do not use this: there fd 1 and 2 are the terminal
or the caller's pipe already, where such output goes as it does for any program.
A process forked from the kernel (a checkpoint, a filler) points its fds at /dev/null
(`silence`), and a kernel resumed from a checkpoint makes its own pipes.
"""

from __future__ import annotations

import fcntl
import os
import select
import threading

PIPE_SIZE = 1 << 20  # F_SETPIPE_SZ: the default 64 KiB would fill within one long line of a log
CAP = 1 << 20  # bytes kept per stream between two takes (a flood: the run's caps trim further)
_F_SETPIPE_SZ = 1031


class FdOutput:
    """Pipes in place of fds 1 and 2, drained by a daemon thread; `take()` (or a call)
    returns the text written since the last one, as (stdout, stderr)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[bytearray] = [bytearray(), bytearray()]
        self._decoders = [_decoder(), _decoder()]
        self._read_ends: list[int] = []
        for target in (1, 2):
            r, w = os.pipe()
            try:
                fcntl.fcntl(w, _F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass  # the system's limit is lower: the reader thread keeps up anyway
            os.set_blocking(r, False)
            os.dup2(w, target)
            os.close(w)
            self._read_ends.append(r)
        self.has_pending = False  # read without the lock: a hint that take() finds text
        threading.Thread(target=self._drain, name="tutor-fd-output", daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                ready, _, _ = select.select(self._read_ends, [], [])
            except OSError:
                return
            with self._lock:
                for fd in ready:
                    self._read(fd)

    def _read(self, fd: int) -> None:
        """Everything the pipe holds now (the lock is held)."""
        which = self._read_ends.index(fd)
        buffer = self._pending[which]
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # BlockingIOError: the pipe is empty now
                return
            if not chunk:
                return
            buffer += chunk
            if len(buffer) > CAP:
                del buffer[:-CAP]
            self.has_pending = True

    def take(self, force: bool = False) -> tuple[str, str]:
        """What fds 1 and 2 received since the last call. `force`: also what is still
        in the pipes (at a cell's end); otherwise only what the reader thread has read."""
        if not force and not self.has_pending:
            return "", ""
        with self._lock:
            if force:
                for fd in self._read_ends:
                    self._read(fd)
            texts = []
            for buffer, decoder in zip(self._pending, self._decoders):
                texts.append(decoder.decode(bytes(buffer)) if buffer else "")
                buffer.clear()
            self.has_pending = False
        return texts[0], texts[1]

    __call__ = take  # Runner.fd_output

    def close_in_copy(self) -> None:
        """In a process forked from the kernel: the reader thread is not there, and its
        lock may have been held at the fork; drop the pipes' read ends."""
        for fd in self._read_ends:
            try:
                os.close(fd)
            except OSError:
                pass
        self._read_ends = []


def silence(runner) -> None:
    """In a copy forked from the kernel (a checkpoint): fds 1 and 2 go nowhere, as
    they did before this module (they were the kernel's pipes, whose reader would take
    the copy's writes for the kernel's), and the runner takes none until a kernel
    resumed from the copy makes its own (`capture`)."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    if isinstance(runner.fd_output, FdOutput):
        runner.fd_output.close_in_copy()
    runner.fd_output = None


def capture(runner) -> None:
    """In a kernel: fds 1 and 2 become the runner's (Runner.fd_output)."""
    runner.fd_output = FdOutput()


def _decoder():
    """UTF-8 that waits for the rest of a character split between two reads."""
    import codecs

    return codecs.getincrementaldecoder("utf-8")(errors="replace")
