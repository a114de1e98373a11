"""`tutor serve`: the app in browser tabs, one app process (and kernel) per tab.

Safe by default: it binds 127.0.0.1 (reach it through SSH port forwarding, see
docs/serve.md). Any address that is not loopback needs `--users FILE`, since lesson
code and cell edits are arbitrary Python: an open port without logins would hand a
shell to whoever reaches it. Everything that can be wrong on the command line is
reported here, as one line and exit 2, before anything listens.
"""

from __future__ import annotations

import getpass
import ipaddress
import math
from pathlib import Path

from tutor.errors import UsageError

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _idle_seconds(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        raise UsageError(f"--idle must be a number of minutes, got {text!r}") from None
    if not math.isfinite(minutes) or minutes <= 0:
        raise UsageError(f"--idle must be a positive number of minutes, got {text!r}")
    return minutes * 60


def options_from_args(args):
    """Validate `args` into ServeOptions; UsageError (one line) when something is wrong."""
    import platformdirs

    from tutor.serve.server import ServeOptions
    from tutor.serve.users import UsersFileError, check_name, read_users

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be 1-65535, got {args.port}")
    if args.max_sessions < 1:
        raise UsageError(f"--max-sessions must be at least 1, got {args.max_sessions}")
    users = None
    if args.users is not None:
        try:
            users = read_users(Path(args.users))
        except UsersFileError as exc:
            raise UsageError(str(exc)) from None
        if not users:
            raise UsageError(f"no users in {args.users}; add one with `tutor passwd NAME "
                             f"--users {args.users}`")
    elif not is_loopback(args.host):
        raise UsageError(f"refusing to serve on {args.host} without --users: anyone who "
                         "reaches the port could run Python as you; add logins with "
                         "`tutor passwd` and --users FILE, or bind 127.0.0.1")
    state_dir = Path(args.state) if args.state else None
    if state_dir is None and users is not None:
        state_dir = platformdirs.user_state_path("tutor") / "class"
    local_name = getpass.getuser()
    if users is None and check_name(local_name):
        local_name = "local"
    if state_dir is not None:
        if state_dir.exists() and not state_dir.is_dir():
            raise UsageError(f"--state is not a directory: {state_dir}")
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --state {state_dir}: {exc.strerror}") from None
    app_args = ["--lang", args.lang]
    if args.lessons:
        lessons = Path(args.lessons)
        if not lessons.is_dir():
            raise UsageError(f"lesson directory not found: {lessons}")
        app_args += ["--lessons", str(lessons.resolve())]
    if getattr(args, "kernel_memory", None):  # each learner's kernel gets the same limit
        from tutor.engine.kernel.protocol import parse_size

        try:
            parse_size(args.kernel_memory)
        except ValueError as exc:
            raise UsageError(f"--kernel-memory: {exc}") from None
        app_args += ["--kernel-memory", args.kernel_memory]
    return ServeOptions(
        host=args.host, port=args.port, users=users, local_name=local_name,
        state_dir=state_dir.resolve() if state_dir is not None else None,
        max_sessions=args.max_sessions, idle_seconds=_idle_seconds(args.idle),
        app_args=app_args,
    )


def main(args) -> int:
    options = options_from_args(args)
    from tutor.serve.server import TutorServer

    try:
        TutorServer(options).serve()
    except OSError as exc:  # the port is taken, or the address is not this host's
        raise UsageError(f"cannot listen on {options.host}:{options.port}: "
                         f"{exc.strerror or exc}") from None
    return 0
