"""The entry point of one browser tab's app under `tutor serve`.

`python -m tutor.serve.child [tutor options]` is `tutor [options]` plus one guarantee:
the app dies with the server. It asks Linux for SIGKILL when its parent (the server)
dies (PR_SET_PDEATHSIG), then checks the parent is still the server it was started
by (`TUTOR_SERVE_PID`), because a server that died before the call would leave it
orphaned with nobody to send the signal. The app's kernel ends with the app (the
kernel's own guarantee), and the server kills the app's whole process group on a
normal end anyway; this covers a server killed with SIGKILL or crashed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the server's group kill still holds
        pass
    expected = os.environ.get("TUTOR_SERVE_PID")
    if expected and os.getppid() != int(expected):
        os._exit(1)


def main() -> int:
    die_with_parent()
    from tutor.cli import main as tutor_main

    return tutor_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
