"""A real `tutor serve` on a free loopback port, for the HTTP and browser tests.

`served(tmp_path, *args)` starts `python -m tutor serve --port P ...` as our child,
waits until it listens, yields a `Served` (base URL, the process, its log so far),
and stops it at the end (SIGTERM, then SIGKILL). `children(pid)` and `group(pgid)`
read /proc, so a test can assert that no app process was started, or that every
process of an app's group ended.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LESSON = """\
---
id: web-tiny
title:
  en: Tiny web lesson
  ko: 작은 웹 강의
---

## Start | 시작

```python
w = 1.0
lr = 0.1
```

## Loop | 반복

```python
for epoch in range(3):
    cost = w * w
    w -= lr * 2 * w
print("w =", round(w, 4))
```
"""

PASSWORD = "class-password-7"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """Direct children of `pid` (all its threads)."""
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found += [int(x) for x in handle.read().split()]
    except FileNotFoundError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    """Every descendant of `pid` (an app's kernel zygote and kernels too)."""
    from tutor.serve.server import descendants as found

    return found(pid)


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` still running (zombies count as ended)."""
    live = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] != "Z":
                    live.append(pid)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return live


def group(pgid: int) -> list[int]:
    """Live processes (not zombies) whose process group is `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def wait_for(predicate, timeout: float = 15.0, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def write_class(tmp_path: Path, names=("kim",)) -> tuple[Path, Path]:
    """A lesson directory with LESSON and a users file with `names` (all PASSWORD)."""
    from tutor.serve.users import set_password

    lessons = tmp_path / "lessons"
    lessons.mkdir(exist_ok=True)
    (lessons / "01-web-tiny.md").write_text(LESSON, encoding="utf-8")
    users = tmp_path / "users.txt"
    for name in names:
        set_password(users, name, PASSWORD)
    return lessons, users


@contextmanager
def served(tmp_path: Path, *args: str, env: dict | None = None) -> Iterator[Served]:
    port = free_port()
    log_path = tmp_path / f"serve-{port}.log"
    environ = {**os.environ, "LANG": "C.UTF-8", "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
               "XDG_DATA_HOME": str(tmp_path / "xdg-data"), **(env or {})}
    environ.pop("LC_ALL", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tutor", "serve", "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environ,
            cwd=tmp_path)
    result = Served(f"http://127.0.0.1:{port}", port, process, log_path)
    try:
        def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"tutor serve exited {process.returncode}: {result.log}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        assert wait_for(listening, 30), result.log
        yield result
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
