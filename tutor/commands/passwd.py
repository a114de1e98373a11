"""`tutor passwd NAME --users FILE`: add a learner or change their password.

The password comes from stdin, never from the command line (argv is visible to
every user of the host in `ps`): asked twice without echo on a terminal, else the
first line of stdin (`tutor passwd kim --users u.txt < pw.txt` in a script). Only
its scrypt hash is written (tutor/serve/users.py), and nothing is printed about it.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from tutor.errors import UsageError


def read_password(stdin=None) -> str:
    stdin = sys.stdin if stdin is None else stdin
    if stdin.isatty():
        first = getpass.getpass("password: ")
        second = getpass.getpass("again: ")
        if first != second:
            raise UsageError("the two passwords differ; nothing was written")
        return first
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def main(args) -> int:
    from tutor.serve.users import MIN_PASSWORD, UsersFileError, check_name, set_password

    problem = check_name(args.name)
    if problem:
        raise UsageError(problem)
    path = Path(args.users)
    if path.exists() and not path.is_file():
        raise UsageError(f"--users is not a file: {path}")
    password = read_password()
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must have at least {MIN_PASSWORD} characters; "
                         "nothing was written")
    try:
        set_password(path, args.name, password)
    except UsersFileError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"password set for {args.name} in {path}")
    return 0
