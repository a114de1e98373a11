"""The users file of `tutor serve --users FILE`: one `NAME:HASH` line per learner.

Passwords are never stored, only scrypt hashes (hashlib's, from OpenSSL: no extra
dependency to keep up to date). A hash line reads

    scrypt$16384$8$1$<salt, base64>$<key, base64>

so the cost parameters travel with the hash and can be raised later without
invalidating old lines. n=2**14, r=8 costs 16 MiB and about 35 ms per check on the
2-core development machine: cheap for a login, expensive for someone who stole the file.

Names are also directory names under `--state DIR/`, so they are restricted to
`[A-Za-z0-9_-]{1,32}` (with a letter or digit first): no `/`, no `..`, nothing a
shell or a URL would mangle.

The file is written atomically with mode 0600 (a temporary file in the same
directory, then `os.replace`), so a crash never leaves half a users file and other
accounts on the host cannot read the hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from pathlib import Path

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_LEN = 2**14, 8, 1, 32
MIN_PASSWORD = 8


class UsersFileError(Exception):
    """The users file cannot be read or has a malformed line (message says where)."""


def check_name(name: str) -> str | None:
    """None when `name` is a usable learner name, else why not (one line)."""
    if NAME_RE.match(name):
        return None
    return (f"invalid user name {name!r}: use 1-32 letters, digits, '_' or '-', "
            "starting with a letter or digit")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(16) if salt is None else salt
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                         p=SCRYPT_P, dklen=KEY_LEN, maxmem=64 * 1024 * 1024)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Does `password` match the stored hash? Constant-time comparison of the keys."""
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        salt_bytes, key_bytes = base64.b64decode(salt), base64.b64decode(key)
        got = hashlib.scrypt(password.encode("utf-8"), salt=salt_bytes, n=int(n), r=int(r),
                             p=int(p), dklen=len(key_bytes), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, key_bytes)


# A hash of a random password, checked when the name is unknown, so that a wrong name
# takes as long as a wrong password (no telling names apart by timing).
_DUMMY = hash_password(secrets.token_urlsafe(16))


def read_users(path: Path) -> dict[str, str]:
    """name -> hash. Blank lines and `#` comments are skipped; a bad line is an error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsersFileError(f"users file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsersFileError(f"cannot read users file {path}: {exc}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or check_name(name) or not stored.startswith("scrypt$"):
            raise UsersFileError(f"{path}:{number}: expected NAME:scrypt$... "
                                 "(write lines with `tutor passwd`)")
        users[name] = stored
    return users


def authenticate(users: dict[str, str], name: str, password: str) -> bool:
    """True when `name` exists and `password` is its password."""
    stored = users.get(name)
    if stored is None:
        verify_password(password, _DUMMY)
        return False
    return verify_password(password, stored)


def set_password(path: Path, name: str, password: str) -> None:
    """Add or replace `name`'s line in the users file (created 0600 if missing)."""
    path = Path(path)
    lines: list[str] = []
    if path.exists():
        read_users(path)  # refuse to rewrite a file we do not understand
        lines = path.read_text(encoding="utf-8").splitlines()
    new_line = f"{name}:{hash_password(password)}"
    for i, line in enumerate(lines):
        if line.strip().partition(":")[0] == name:
            lines[i] = new_line
            break
    else:
        lines.append(new_line)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
