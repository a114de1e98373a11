"""Fixtures shared by every test directory.

- `SAMPLE_LESSON`: a small valid bilingual lesson (two sections, a cell with its
  output block, a norun cell, a bilingual hint). Line numbers are written beside it
  so tests can assert on them by eye.
- `write_lesson(text, name=...)`: writes lesson text into a fresh directory under
  `tmp_path` and returns the file's path.
- `tutor_cli(*args)`: runs `python -m tutor` in a subprocess, returns
  (exit code, stdout, stderr).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SAMPLE_LESSON = (
    "---\n"  # 1
    "id: sample\n"  # 2
    "title:\n"  # 3
    "  en: A sample lesson\n"  # 4
    "  ko: 예제 레슨\n"  # 5
    "summary:\n"  # 6
    "  en: One cell and a loop.\n"  # 7
    "  ko: 셀 하나와 루프.\n"  # 8
    "---\n"  # 9
    "\n"  # 10
    "Shared introduction.\n"  # 11
    "\n"  # 12
    "::: en\n"  # 13
    "English introduction.\n"  # 14
    ":::\n"  # 15
    "\n"  # 16
    "::: ko\n"  # 17
    "한국어 소개.\n"  # 18
    ":::\n"  # 19
    "\n"  # 20
    "## Tensors | 텐서\n"  # 21
    "\n"  # 22
    "::: en\n"  # 23
    "Make **a tensor**.\n"  # 24
    ":::\n"  # 25
    "\n"  # 26
    "::: ko\n"  # 27
    "**텐서**를 만듭니다.\n"  # 28
    ":::\n"  # 29
    "\n"  # 30
    "```python\n"  # 31
    "x = 2\n"  # 32  cell 0
    "x * 3\n"  # 33
    "```\n"  # 34
    "\n"  # 35
    "```output\n"  # 36
    "6\n"  # 37
    "```\n"  # 38
    "\n"  # 39
    "## Training\n"  # 40
    "\n"  # 41
    "Both languages see this.\n"  # 42
    "\n"  # 43
    "```python\n"  # 44
    "lr = 0.1\n"  # 45  cell 1
    "w = 1.0\n"  # 46
    "for step in range(3):\n"  # 47
    "    cost = w * w\n"  # 48
    "    w -= lr * 2 * w\n"  # 49
    "```\n"  # 50
    "\n"  # 51
    "```python norun\n"  # 52
    "w = = 1\n"  # 53  cell 2
    "```\n"  # 54
    "\n"  # 55
    ":::: hint\n"  # 56
    "::: en\n"  # 57
    "Halve the step.\n"  # 58
    ":::\n"  # 59
    "::: ko\n"  # 60
    "걸음을 반으로.\n"  # 61
    ":::\n"  # 62
    "::::\n"  # 63
)


@pytest.fixture
def sample_lesson_text() -> str:
    return SAMPLE_LESSON


@pytest.fixture
def write_lesson(tmp_path: Path):
    """`write_lesson(text, name="01-sample.md", directory=None) -> Path`: the text is
    written as UTF-8 (bytes are written as they are) into `tmp_path/lessons` unless
    another directory is given."""

    def write(text: str | bytes, name: str = "01-sample.md", directory: Path | None = None) -> Path:
        folder = directory if directory is not None else tmp_path / "lessons"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return path

    return write


@pytest.fixture
def tutor_cli(tmp_path: Path):
    """Run `python -m tutor ARGS` in a subprocess (cwd `tmp_path`, no Korean locale)."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 60) -> tuple[int, str, str]:
        env = {**os.environ, "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}
        env.pop("LC_ALL", None)
        done = subprocess.run(
            [sys.executable, "-m", "tutor", *args], cwd=cwd or tmp_path, env=env,
            capture_output=True, text=True, timeout=timeout,
        )
        return done.returncode, done.stdout, done.stderr

    return run


@pytest.fixture(scope="session")
def kernel_host():
    """One zygote for the whole test session (importing torch takes 2-5 s on a loaded
    machine: once, not once per app). Apps built by tests get it as `kernel_host`;
    `tutor` itself starts its own (tests/ui/test_kernel_app.py covers that path)."""
    from tutor.engine.kernel.host import KernelHost

    host = KernelHost()
    yield host
    host.close()


def wait_until(predicate, what: str, timeout: float = 30.0):
    """Poll `predicate` until it returns something true, and return that (a worker's or
    a process's progress has no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)
    return value


def process_gone(pid: int) -> bool:
    """Ended, or a zombie its parent has not reaped yet (it holds nothing)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):  # reaped before or while it was read
        return True
