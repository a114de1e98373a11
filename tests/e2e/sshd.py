"""A throwaway OpenSSH server on 127.0.0.1 for end-to-end tests.

`sshd_server(tmp_path)` starts the system's `/usr/sbin/sshd` with its own config, host
key, authorized key and log, all under `tmp_path`, on a free loopback port, and yields
`(port, ssh_prefix)`: `ssh_prefix` is an argument list ending with the destination, to
which a caller appends options (OpenSSH accepts them after the host, e.g. `-tt`) and a
remote command. The server runs in the foreground (`-D`) as our child and is stopped
when the context ends. Nothing outside `tmp_path` changes, except that `/run/sshd` (the
privilege-separation directory sshd insists on) is created when missing.

OpenSSH is installed with apt when `/usr/sbin/sshd` is missing, so the test also runs on
a fresh CI machine; that needs root and network, and failing that raises
`SshdUnavailable` with apt's own output.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0


class SshdUnavailable(RuntimeError):
    """A needed tool is missing and could not be installed, or sshd would not start."""


def apt_install(packages: list[str], present) -> None:
    """Install Debian packages unless `present()` already says they are there."""
    if present():
        return
    command = "apt-get update && apt-get install -y --no-install-recommends " + " ".join(packages)
    if os.geteuid() != 0:
        raise SshdUnavailable(f"{' and '.join(packages)} missing; installing needs root: `{command}`")
    if not shutil.which("apt-get"):
        raise SshdUnavailable(f"{' and '.join(packages)} missing and there is no apt-get")
    # Two test processes may get here at once; dpkg allows one installer.
    lock_path = Path(tempfile.gettempdir()) / "tutor-e2e-apt.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if present():
            return
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        result = subprocess.run(
            ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=900
        )
        if result.returncode != 0 or not present():
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise SshdUnavailable(f"`{command}` failed (exit {result.returncode}):\n{tail}")


def ensure_openssh() -> None:
    """Install Debian's openssh-server and -client unless they are already there."""
    apt_install(
        ["openssh-server", "openssh-client"],
        lambda: SSHD.exists() and bool(shutil.which("ssh")) and bool(shutil.which("ssh-keygen")),
    )


def ensure_command(name: str, package: str | None = None) -> None:
    """Install the Debian package providing `name` (default: same name) when missing."""
    apt_install([package or name], lambda: bool(shutil.which(name)))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tutor-e2e", "-f", str(path)],
        check=True, capture_output=True,
    )


def _write_config(root: Path, port: int, extra_config: str) -> Path:
    config = root / "sshd_config"
    config.write_text(
        "\n".join([
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {root / 'host_ed25519'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            f"PidFile {root / 'sshd.pid'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "PrintLastLog no",
            "AcceptEnv LANG LC_*",
            "LogLevel VERBOSE",
            "",
        ])
        + extra_config  # last: Match blocks run to the end of the file
    )
    return config


def _wait_listening(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SshdUnavailable(
                f"sshd exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SshdUnavailable(f"sshd did not listen on {port} within {START_TIMEOUT}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def sshd_server(tmp_path: Path, extra_config: str = "") -> Iterator[tuple[int, list[str]]]:
    """Run a private sshd on 127.0.0.1; yield (port, ssh argument prefix).

    `extra_config` is appended to the generated sshd_config (e.g. a Match block).
    """
    ensure_openssh()
    root = Path(tmp_path) / "sshd"
    root.mkdir(parents=True, exist_ok=True)
    _keygen(root / "host_ed25519")
    _keygen(root / "user_ed25519")
    shutil.copyfile(root / "user_ed25519.pub", root / "authorized_keys")
    Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    log = root / "sshd.log"

    proc = None
    for _attempt in range(3):  # the free port may be taken before sshd binds it
        port = free_port()
        config = _write_config(root, port, extra_config)
        check = subprocess.run([str(SSHD), "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise SshdUnavailable(f"sshd rejected its config: {check.stderr.strip()}")
        log.write_text("")
        # sshd must be started by absolute path (it re-executes itself per connection).
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-f", str(config), "-E", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            _wait_listening(port, proc, log)
            break
        except SshdUnavailable:
            _stop(proc)
            if "Address already in use" not in log.read_text(errors="replace"):
                raise
    else:
        raise SshdUnavailable("no free port for sshd after 3 attempts")

    prefix = [
        "ssh",
        "-F", "/dev/null",  # ignore the user's ~/.ssh/config
        "-i", str(root / "user_ed25519"),
        "-p", str(port),
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR",
        "-o", "ConnectTimeout=10",
        f"{getpass.getuser()}@127.0.0.1",
    ]
    try:
        yield port, prefix
    finally:
        _stop(proc)
