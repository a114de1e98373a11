"""Sessions and the failure throttle, on a fake clock."""

from __future__ import annotations

from tutor.serve.auth import FailureThrottle, Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_know_their_user_until_they_expire():
    clock = Clock()
    sessions = Sessions(lifetime=60, clock=clock)
    token = sessions.create("kim")
    assert len(token) >= 40 and sessions.user(token) == "kim"
    assert sessions.user("forged") is None and sessions.user(None) is None
    clock.now += 61
    assert sessions.user(token) is None


def test_logout_ends_a_session():
    sessions = Sessions()
    token = sessions.create("kim")
    sessions.end(token)
    assert sessions.user(token) is None


def test_repeated_failures_are_slowed_down_and_success_clears_them():
    clock = Clock()
    throttle = FailureThrottle(free=2, base=1.0, max_delay=30, clock=clock)
    delays = []
    for _ in range(9):
        delays.append(throttle.delay("name:kim", "addr:1.2.3.4"))
        throttle.failed("name:kim", "addr:1.2.3.4")
    assert delays == [0, 0, 1, 2, 4, 8, 16, 30, 30]
    # another name from the same address is slowed too; a fresh address and name are not
    assert throttle.delay("name:lee", "addr:1.2.3.4") == 30
    assert throttle.delay("name:lee", "addr:5.6.7.8") == 0
    throttle.succeeded("name:kim", "addr:1.2.3.4")
    assert throttle.delay("name:kim", "addr:1.2.3.4") == 0


def test_failures_are_forgotten_after_a_quiet_hour():
    clock = Clock()
    throttle = FailureThrottle(free=1, forget_after=3600, clock=clock)
    throttle.failed("name:kim")
    assert throttle.delay("name:kim") == 1.0
    clock.now += 3601
    assert throttle.delay("name:kim") == 0


def test_expired_logins_and_old_failures_do_not_pile_up(monkeypatch):
    from tutor.serve import auth

    clock = Clock()
    sessions = Sessions(lifetime=10, clock=clock)
    sessions.create("kim")
    clock.now += 11
    sessions.create("lee")
    assert len(sessions._logins) == 1
    monkeypatch.setattr(auth, "MAX_TRACKED", 3)
    throttle = FailureThrottle(forget_after=60, clock=clock)
    for n in range(4):
        throttle.failed(f"name:x{n}")
    clock.now += 61
    throttle.failed("name:y")
    assert list(throttle._failures) == ["name:y"]
    for n in range(5):
        clock.now += 1
        throttle.failed(f"name:z{n}")
    assert set(throttle._failures) <= {"name:z3", "name:z4", "name:z2", "name:y"}
    assert "name:z4" in throttle._failures
