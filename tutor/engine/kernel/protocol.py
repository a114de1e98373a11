"""What the app and a kernel say to each other (imported by both sides; no torch).

App → kernel: `(seq, name, args)`; `name` is a Runner method listed in FORWARDED
(executed with `getattr(runner, name)(*args)`), or one of the kernel's own commands
(KERNEL_COMMANDS). Every command is acknowledged by the next state message, which
carries the highest `seq` done, so the app can tell a kernel that stopped answering
(its worker holding the GIL in a C call) from one that is busy: see client.py.

Kernel → app, first `("hello", generation, pid)`, then messages from MESSAGES.

To forward a new Runner method to the kernel, add its name to FORWARDED: the client
grows a method of that name (commands return None at once; QUERIES wait for the
kernel's answer).
"""

from __future__ import annotations

import struct

# Runner methods the client forwards as they are (return at once, no answer).
FORWARDED: tuple[str, ...] = (
    "next",
    "step",
    "run",
    "run_until",  # steer (the client parses a text first: UntilError in the caller)
    "jump",
    "goto_cell",  # flow: resume, sections that follow execution
    "run_to_cell_end",  # flow: space runs to the end of the section
    "pause",
    "set_lr",
    "set_lr_schedule",
    "goto",
    "clear_history",
    "inspect",  # inspector: one tensor whole in RunState.inspected
    "show_view",  # the chart pane's view: what a free run keeps up to date
    "step_back",  # only after a move not yet answered (KernelClient.step_back; else a goto)
)

# Runner methods whose return value the caller waits for (in its own thread).
QUERIES: tuple[str, ...] = ("run_to_end",)

# Kernel commands that are not Runner methods.
KERNEL_COMMANDS: tuple[str, ...] = ("ping",)

# Kernel → app messages:
#   ("state", acked_seq, settled, back_targets, state_without_costs, keep, tail, schedule)
#   (back_targets: where step backs in a row go from this state, Runner.back_targets)
#       costs = previous costs[:keep] + tail (the cost list mostly grows: only the
#       new points travel); settled: the worker waits for a command or the run ended;
#       schedule: the Runner's lr schedule, ((pause point, lr), ...)
#   ("goto", k, kept, seq)       the Runner goes to point k, for command seq (kept: shown
#                                 at once from its history); the app may serve it from a
#                                 checkpoint (and gives the commands after seq to that one)
#   ("result", seq, ok, value)   answer to a QUERIES command (ok False: value is the error text)
#   ("checkpoint", client, point, pid, info)  a checkpoint connected (checkpoints.py)
#   ("exit", pid, status)        a child of the sender ended (os.waitpid status)
MESSAGES = ("hello", "state", "goto", "result", "checkpoint", "exit")

# The "where" file of a kernel (mmap, written by the kernel, read by the app when it
# dies): the cell that started last and its first line, (-1, -1) for none.
WHERE = struct.Struct("qq")

# A kernel that acknowledges no command for this long is killed (it holds the GIL
# in a C call that may never return) and a fresh one is forked.
ANSWER_TIMEOUT = 1.0

DEFAULT_MEMORY = 2 << 30  # --kernel-memory default: 2 GiB


def parse_size(text: str) -> int:
    """`--kernel-memory SIZE`: bytes, or a number with K, M, G or T (powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    value = text.strip().lower().removesuffix("b").removesuffix("i")
    factor = 1
    if value and value[-1] in units:
        factor = units[value[-1]]
        value = value[:-1]
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"not a memory size: {text!r} (examples: 2G, 512M)") from None
    size = int(number * factor)
    if not number > 0 or size < (64 << 20):
        raise ValueError(f"memory size too small: {text!r} (at least 64M)")
    return size
