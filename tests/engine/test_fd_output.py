"""What lesson code writes to file descriptors 1 and 2 in a kernel (a subprocess,
os.write, a C library) is the cell's output and stderr, in order with its prints.

Before kernel/fd_output.py those fds were /dev/null and the zygote's log there: the
learner never saw `os.system("nvidia-smi")` or a shell line from a notebook.
"""

from __future__ import annotations

import time

import pytest

TIMEOUT = 30


def _run_to_end(remote):
    remote.run()
    state = remote.wait(TIMEOUT)
    assert state.status == "done", state.error
    return state


@pytest.mark.parametrize("checkpoints", [True, False])  # a checkpoint's fork takes the pipes too
def test_subprocess_and_fd_writes_are_the_cells_output_in_order(make_lesson, client, checkpoints):
    lesson = make_lesson([
        "import os, subprocess\n"
        "print('a')\n"
        "os.system('echo shell')\n"
        "print('c')\n"
        "subprocess.run(['sh', '-c', 'echo err >&2'])\n"
        "e = 'é\\n'.encode()\n"
        "n = os.write(1, e[:1]) + os.write(1, e[1:])  # one character split between two writes\n"
        "status = os.system('echo last')\n"
        "import ctypes  # a C call that keeps the GIL: the reader thread cannot take it\n"
        "held = ctypes.PyDLL(None).write(1, b'held\\n', 5)  # still in the pipe at the cell's end",
        "print('next')",
    ])
    state = _run_to_end(client(lesson, checkpoints=checkpoints))
    assert state.outputs[0] == "a\nshell\nc\né\nlast\nheld\n"
    assert state.stderr[0] == "err\n"
    assert state.outputs[1] == "next\n"  # nothing of cell 0 came late into cell 1


def test_a_subprocess_flood_never_blocks_and_is_capped(make_lesson, client):
    """3 MB through fd 1, three times the pipe: the subprocess finishes (the reader
    thread keeps the pipe drained) and the cell keeps the tail, marked truncated."""
    lesson = make_lesson([
        "import subprocess\n"
        "code = subprocess.run(['sh', '-c', \"head -c 3000000 /dev/zero | tr '\\\\0' x; echo; echo tail\"]).returncode",
        "print('code', code)",
    ])
    started = time.monotonic()
    state = _run_to_end(client(lesson))
    assert time.monotonic() - started < 10
    assert state.outputs[0].endswith("xxx\ntail\n") and set(state.outputs[0][:-6]) == {"x"}
    assert state.output_truncated
    assert state.outputs[1] == "code 0\n"


def test_a_kernel_resumed_from_a_checkpoint_captures_its_own_and_copies_write_nowhere(
        make_lesson, client):
    """A goto served by a checkpoint replays the loop in a new kernel: the shell lines
    it replays are its cell's output as running forward made them, and the paused
    copies (forked with the kernel's pipes as their fds) add nothing to the live one."""
    lesson = make_lesson([
        "import os",
        # CPU time in each iteration: a replay from the start costs more than a fork
        "for i in range(40):\n    busy = sum(range(300_000))\n    os.system(f'echo step {i}')",
        "print('end')",
    ])
    remote = client(lesson, checkpoints={"every": 5})
    for _ in range(2):  # cell 0, then into the loop: iteration 0
        remote.next()
        start = remote.wait(TIMEOUT)
    assert start.iteration == 0
    done = _run_to_end(remote)
    assert done.outputs[1] == "".join(f"step {i}\n" for i in range(40))
    deadline = time.monotonic() + TIMEOUT
    while not any(start.pause_index + 10 < p < done.pause_index - 10 for p in remote.checkpoints):
        assert time.monotonic() < deadline, "no checkpoint inside the loop"
        time.sleep(0.02)
    # a point after a checkpoint, itself none, no state shown there: a replay in a new kernel
    checkpoint = min(p for p in remote.checkpoints if p > start.pause_index + 10)
    target = checkpoint + 2
    assert target not in remote.checkpoints
    remote.goto(target)
    back = remote.wait(TIMEOUT)
    assert back.status == "paused" and back.pause_index == target and back.iteration > 0
    assert back.outputs[1] == "".join(f"step {i}\n" for i in range(back.iteration))
    again = _run_to_end(remote)
    assert again.outputs == done.outputs
