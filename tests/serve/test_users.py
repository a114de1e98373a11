"""The users file and `tutor passwd`: hashes only, 0600, password never on disk or argv."""

from __future__ import annotations

import os
import pty
import stat
import subprocess
import sys
import time

import pytest

from tutor.serve.users import (
    UsersFileError, authenticate, check_name, hash_password, read_users, set_password,
    verify_password,
)

PASSWORD = "correct horse 42"


def test_hash_verifies_only_the_right_password():
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$16384$8$1$")
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert hash_password(PASSWORD) != stored  # a fresh salt each time


def test_broken_hash_is_no_match_not_a_crash():
    assert not verify_password(PASSWORD, "scrypt$oops")
    assert not verify_password(PASSWORD, "md5$1$2$3$4$5")


@pytest.mark.parametrize("name", ["kim", "lee-2", "A_b", "x" * 32])
def test_good_names(name):
    assert check_name(name) is None


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "-x", "x" * 33, "kim lee", "김"])
def test_names_that_could_escape_the_state_dir_are_refused(name):
    assert "invalid user name" in check_name(name)


def test_set_password_adds_and_replaces_lines_and_keeps_the_file_private(tmp_path):
    path = tmp_path / "users.txt"
    set_password(path, "kim", PASSWORD)
    set_password(path, "lee", "other password")
    first = read_users(path)
    set_password(path, "kim", "new password 1")
    users = read_users(path)
    assert sorted(users) == ["kim", "lee"] and users["lee"] == first["lee"]
    assert authenticate(users, "kim", "new password 1")
    assert not authenticate(users, "kim", PASSWORD)
    assert not authenticate(users, "nobody", PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSWORD not in path.read_text() and "new password" not in path.read_text()


def test_a_malformed_users_file_names_the_line(tmp_path):
    path = tmp_path / "users.txt"
    path.write_text("# class of 2026\n\nkim:plaintext\n")
    with pytest.raises(UsersFileError, match=r"users.txt:3: expected NAME:scrypt"):
        read_users(path)


def _passwd(tmp_path, *args, stdin: str):
    env = {**os.environ, "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, "-m", "tutor", "passwd", *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)


def test_passwd_from_stdin_writes_only_the_hash(tmp_path):
    users = tmp_path / "users.txt"
    done = _passwd(tmp_path, "kim", "--users", str(users), stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    text = users.read_text()
    assert PASSWORD not in text and text.startswith("kim:scrypt$")
    assert authenticate(read_users(users), "kim", PASSWORD)
    assert stat.S_IMODE(users.stat().st_mode) == 0o600


@pytest.mark.parametrize(("args", "stdin", "words"), [
    (["../x"], PASSWORD, "invalid user name"),
    (["kim"], "short\n", "at least 8 characters"),
])
def test_passwd_refusals_are_one_line_and_write_nothing(tmp_path, args, stdin, words):
    users = tmp_path / "users.txt"
    done = _passwd(tmp_path, *args, "--users", str(users), stdin=stdin)
    assert done.returncode == 2 and words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not users.exists()


def test_passwd_on_a_terminal_asks_twice_without_echo(tmp_path):
    """In a pty: the password typed twice is neither echoed nor in the process list."""
    users = tmp_path / "users.txt"
    pid, fd = pty.fork()
    if pid == 0:  # child: becomes `tutor passwd` with the pty as its terminal
        os.execv(sys.executable, [sys.executable, "-m", "tutor", "passwd", "kim",
                                  "--users", str(users)])
    seen = b""

    def read_until(token: bytes, timeout: float = 30) -> None:
        nonlocal seen
        end = time.monotonic() + timeout
        while token not in seen and time.monotonic() < end:
            try:
                seen += os.read(fd, 1024)
            except OSError:
                break
        assert token in seen, seen

    read_until(b"password: ")
    cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    os.write(fd, PASSWORD.encode() + b"\n")
    read_until(b"again: ")
    os.write(fd, PASSWORD.encode() + b"\n")
    read_until(b"password set for kim")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert PASSWORD.encode() not in seen  # no echo
    assert PASSWORD.encode() not in cmdline
    assert authenticate(read_users(users), "kim", PASSWORD)
