"""Memory of one app session: what one more learner costs a shared host.

One fresh interpreter runs one headless app session at 80x24 (`App.run_test()`): it
opens lesson 10 (three 1000-epoch loops; else the largest lesson), presses `space`
until the runner reports done, steps back twice (`b`, then a deep one to iteration
10 of the last loop), waits while the kernel fills checkpoints behind the learner (as
it does while a learner reads), and reports its own peak RSS (`ru_maxrss`) and its PSS and USS
from /proc/self/smaps_rollup, and the same for every process of its kernel group:
the zygote, the kernel, its checkpoints. The session's PSS (app + that group) over
the floor's PSS (below; measured while the companion is alive, as the session is)
is `memory ratio (session PSS / floor PSS)`, target <= 1.15. A second process with torch and Textual loaded and an
optimizer created stays alive meanwhile, as another learner would be: pages of the
shared libraries that both map count half in PSS and not at all in USS, which is how
they are paid for on a host with many sessions.

Target: peak RSS <= 300 MB. Learners per 24 GiB host are estimated from PSS.

Beside it, the floor that no app built on these libraries can go under: a bare
process that imports torch, creates one `torch.optim.SGD` (which imports
torch._dynamo and sympy, as every lesson with an optimizer does) and imports
textual.app. The app's overhead over that floor (MB and ratio) is what the app
itself can trim; the same process then runs the lesson's code plainly (`exec`
of each cell, no engine, no UI), which splits the overhead into what the lesson's
own torch work costs and what the engine and the screen add.

Last, one browser learner: `tutor serve` on loopback, a websocket opened as the page
opens it, the same lesson run to its end; measured are the app's whole process group
and every descendant of the app (zygote, kernel, checkpoints) and the server before and
with the session. Per learner:
the group's PSS, what the server grew by, and 1/20 of the idle server (the default
--max-sessions); learners per host from that, the idle server taken off first.

    .venv/bin/python bench/memory.py [--lessons DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MB = 300
RATIO_TARGET = 1.15
HOST_GIB = 24
TIMEOUT_S = 300

# "Another learner": the same libraries loaded and touched, alive until stdin closes.
COMPANION = (
    "import sys, textual.app, plotext, torch, torch.nn, torch.optim; "
    "torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1); "
    "print('ready', flush=True); sys.stdin.read()"
)


# The floor: what torch + an optimizer + Textual cost with no app at all, then the
# same process running the lesson's code cells plainly.
FLOOR = """
import contextlib, io, json, resource, sys
import torch, torch.nn, torch.optim
torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
import textual.app
floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from tutor.engine.loader import load_lesson
lesson = load_lesson(Path(sys.argv[2]))
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
torch.set_num_threads(1)
torch.manual_seed(lesson.seed)
namespace = {"__name__": "__lesson__"}
with contextlib.redirect_stdout(io.StringIO()):
    for cell in lesson.runnable_cells:
        exec(compile(cell.source, str(lesson.path), "exec"), namespace)
pss = {}
for line in open("/proc/self/smaps_rollup"):
    parts = line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        pss[parts[0][:-1]] = int(parts[1])
print(json.dumps({"floor_kb": floor, "loaded_kb": loaded,
                  "with_lesson_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "pss_kb": pss.get("Pss", 0)}))
"""


def measure_floor(lesson_path: Path, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", FLOOR, str(ROOT), str(lesson_path)],
        capture_output=True, text=True, env=env, timeout=TIMEOUT_S,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit("bench/memory.py: the floor process failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def largest_lesson(lessons_dir: Path) -> Path:
    files = sorted(lessons_dir.glob("*.md"), key=lambda p: (p.stat().st_size, p.name))
    if not files:
        raise SystemExit(f"bench/memory.py: no lessons in {lessons_dir}")
    return files[-1]


def smaps_rollup() -> dict[str, int]:
    """Fields of /proc/self/smaps_rollup in kB."""
    fields = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    return fields


async def session(lessons_dir: Path, lesson_id: str, state_dir: Path) -> dict:
    from tutor.commands.app import build_app

    args = argparse.Namespace(lessons=str(lessons_dir), lang="en", lesson=lesson_id, watch=False)
    app = build_app(args, progress_path=state_dir / "progress.json")
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + TIMEOUT_S
        while getattr(app.screen, "runner", None) is None:
            if time.monotonic() > deadline:
                raise SystemExit("bench/memory.py: the lesson screen never got a runner")
            await pilot.pause(0.05)
        runner = app.screen.runner
        start = time.perf_counter()
        await pilot.press("space")
        # A lesson stops at a non-finite cost or an error; `space` resumes it.
        while runner.state.status != "done":
            if time.monotonic() > deadline:
                raise SystemExit(f"bench/memory.py: not done after {TIMEOUT_S} s")
            if runner.state.status == "error":
                raise SystemExit(f"bench/memory.py: the lesson failed: {runner.state.error}")
            if runner.state.status == "paused":
                await pilot.press("space")
            await pilot.pause(0.05)
        seconds = time.perf_counter() - start
        await pilot.pause(0.3)  # let the screen render the final state
        state = runner.state
        # then step back: b, and a deep one (to iteration 10 of the last loop), as a
        # learner would; the kernels and checkpoints are measured after that
        await pilot.press("b")
        runner.wait(60)
        runner.jump(10)
        runner.wait(60)
        await pilot.pause(0.5)
        # and the learner reads: the kernel fills checkpoints behind them (client.py,
        # FILL_UP_TO); measured once that has ended (no filler, no new checkpoint for 1 s)
        quiet_since, count = time.monotonic(), len(runner.checkpoints)
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline:
            await pilot.pause(0.1)
            if runner._filler is not None or len(runner.checkpoints) != count:
                quiet_since, count = time.monotonic(), len(runner.checkpoints)
        result = {
            "seconds": seconds,
            "iterations": len(state.costs),
            "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "smaps": smaps_rollup(),
            "kernel_processes": _kernel_processes(app, runner),
        }
        await pilot.press("q")
    return result


def _kernel_processes(app, runner) -> list[dict]:
    """Every process of the app's kernel group (zygote, kernel, checkpoints), with its
    role and memory: they all lead or share the zygote's process group."""
    zygote = app.kernel_host.zygote_pid
    kernel = runner._current.pid if runner._current is not None else None
    checkpoints = {c.pid for c in runner._checkpoints}
    found = []
    for pid in _group_pids(zygote):
        role = ("zygote" if pid == zygote else "kernel" if pid == kernel
                else "checkpoint" if pid in checkpoints else "other")
        found.append({"pid": pid, "role": role, **_process_memory_kb(pid)})
    return found


def child(lessons_dir: Path, lesson_path: Path) -> int:
    from tutor.engine.loader import load_lesson

    lesson = load_lesson(lesson_path)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(session(lessons_dir, lesson.id, Path(tmp)))
    result["lesson"] = lesson.id
    print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", type=Path, help="lesson directory (default: bundled)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.lessons is None:
        from tutor.engine.loader import bundled_lessons_dir

        options.lessons = bundled_lessons_dir()
    if options.child:
        return child(options.lessons, options.child)

    tens = sorted(Path(options.lessons).glob("10-*.md"))  # the lesson: 3 loops of 1000
    lesson_path = tens[0] if tens else largest_lesson(options.lessons)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    floor = measure_floor(lesson_path, env)
    companion = subprocess.Popen(
        [sys.executable, "-c", COMPANION], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env=env,
    )
    try:
        if companion.stdout.readline().strip() != "ready":
            raise SystemExit("bench/memory.py: the companion process did not start")
        out = subprocess.run(
            [sys.executable, __file__, "--lessons", str(options.lessons), "--child", str(lesson_path)],
            capture_output=True, text=True, env=env, timeout=TIMEOUT_S + 60,
        )
        floor_shared = measure_floor(lesson_path, env)  # PSS with the other learner alive too
        browser = browser_session(lesson_path, env)  # while the other learner is alive
    finally:
        companion.stdin.close()
        companion.wait(timeout=10)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return 1
    result = json.loads(out.stdout.strip().splitlines()[-1])
    smaps = result["smaps"]
    rss_mb = result["ru_maxrss_kb"] / 1024
    pss_mb = smaps["Pss"] / 1024
    uss_mb = (smaps["Private_Clean"] + smaps["Private_Dirty"]) / 1024

    print(f"lesson: {result['lesson']} ({lesson_path.name}, {lesson_path.stat().st_size:,} bytes), "
          f"{result['iterations']} iterations in {result['seconds']:.2f} s, OMP_NUM_THREADS={env['OMP_NUM_THREADS']}")
    print(f"app process alone (no torch; its kernel processes below): peak RSS {rss_mb:.0f} MB (target <= {TARGET_MB} MB): ratio {rss_mb / TARGET_MB:.2f}")
    floor_mb = floor["floor_kb"] / 1024
    lesson_mb = (floor["with_lesson_kb"] - floor["loaded_kb"]) / 1024  # not the loader's imports
    overhead_mb = rss_mb - floor_mb
    print(f"floor (bare torch + torch.optim.SGD + textual.app, no app): {floor_mb:.0f} MB peak RSS")
    print(f"app process against the floor: {overhead_mb:+.0f} MB (app/floor {rss_mb / floor_mb:.3f}); of which "
          f"the lesson's own code run plainly: {lesson_mb:.0f} MB, engine and UI: {overhead_mb - lesson_mb:.0f} MB")
    print(f"app process at the end: RSS {smaps['Rss'] / 1024:.0f} MB, PSS {pss_mb:.0f} MB, USS {uss_mb:.0f} MB "
          f"(anonymous {smaps['Anonymous'] / 1024:.0f} MB), with one other torch process alive")
    ratio = report_kernel_session(result, smaps, floor_shared)
    report_browser_session(browser)
    return 0 if rss_mb <= TARGET_MB and ratio <= RATIO_TARGET else 1


def report_kernel_session(result: dict, smaps: dict, floor: dict) -> float:
    """The session as processes: the app (no torch), the zygote, the kernel and its
    checkpoints; against the floor (one process with torch, textual and the lesson
    run plainly), both measured while the other learner's process is alive."""
    processes = result["kernel_processes"]
    app_pss = smaps["Pss"]
    total = app_pss + sum(p["Pss"] for p in processes)
    share = sum(p["Pss"] for p in processes if p["role"] == "checkpoint")
    uss = (smaps["Private_Clean"] + smaps["Private_Dirty"])
    print(f"session processes after the run and two step backs ({len(processes)} beside the app):")
    print(f"  app: RSS {smaps['Rss'] / 1024:.0f} MB, PSS {app_pss / 1024:.0f} MB, USS {uss / 1024:.0f} MB")
    for p in sorted(processes, key=lambda p: (p["role"], p["pid"])):
        print(f"  {p['role']} {p['pid']}: RSS {p['Rss'] / 1024:.0f} MB, PSS {p['Pss'] / 1024:.0f} MB, "
              f"USS {p['Uss'] / 1024:.1f} MB")
    ratio = total / floor["pss_kb"]
    count = sum(p["role"] == "checkpoint" for p in processes)
    print(f"checkpoints' share: {count} checkpoints, PSS {share / 1024:.0f} MB = {share / total:.0%} of the session")
    print(f"session PSS {total / 1024:.0f} MB; floor PSS {floor['pss_kb'] / 1024:.0f} MB")
    print(f"memory ratio (session PSS / floor PSS): {ratio:.2f} (target <= {RATIO_TARGET})")
    print(f"learners per {HOST_GIB} GiB host (from the session's PSS): {int(HOST_GIB * 1024 * 1024 // total)}")
    return ratio


# ---------------------------------------------------------------------- one browser learner


def _process_memory_kb(pid: int) -> dict[str, int]:
    """Rss, Pss and USS (private clean + dirty) of one process, in kB (0 when gone)."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    fields[parts[0][:-1]] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {"Rss": 0, "Pss": 0, "Uss": 0}
    return {"Rss": fields.get("Rss", 0), "Pss": fields.get("Pss", 0),
            "Uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                pids.append(int(entry))
    return pids


def browser_session(lesson_path: Path, env: dict[str, str]) -> dict:
    """One learner through `tutor serve`, as a browser tab drives it: the websocket is
    opened (what the page does), the lesson is opened and run to its end with `R`; then
    the app's process group (app + kernel + checkpoints) and the server are measured.
    The browser itself runs on the learner's machine and is not counted."""
    import shutil
    import socket

    import aiohttp

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "lessons").mkdir()
        shutil.copy(lesson_path, tmp_path / "lessons" / lesson_path.name)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "tutor", "serve", "--port", str(port), "--lang", "en",
             "--lessons", str(tmp_path / "lessons"), "--state", str(tmp_path / "state")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        try:
            return asyncio.run(_drive_browser_session(server, port, tmp_path / "state", aiohttp))
        finally:
            server.terminate()
            server.wait(timeout=20)


async def _drive_browser_session(server, port: int, state_dir: Path, aiohttp) -> dict:
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + TIMEOUT_S
    async with aiohttp.ClientSession() as client:
        while True:
            try:
                await client.get(f"{url}/login")
                break
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("bench/memory.py: tutor serve did not start")
                await asyncio.sleep(0.1)
        idle_server = _process_memory_kb(server.pid)
        async with client.ws_connect(f"{url}/ws?width=80&height=24",
                                     headers={"Origin": url}) as ws:
            async def drain() -> None:
                async for _message in ws:
                    pass

            reader = asyncio.create_task(drain())
            await asyncio.sleep(1.0)
            await ws.send_json(["stdin", "\r"])  # open the only lesson
            progress_files = lambda: list(state_dir.glob("*/progress.json"))  # noqa: E731
            while not progress_files():
                if time.monotonic() > deadline:
                    raise SystemExit("bench/memory.py: the browser session never opened the lesson")
                await asyncio.sleep(0.2)
            # `R` runs to the end; where it is not bound (or a non-finite cost stopped the
            # run), `space` runs on. Each key gets 60 s, so `space` never pauses a run.
            keys = ["R", " "] * 3
            finished = False
            while keys and not finished:
                await ws.send_json(["stdin", keys.pop(0)])
                until = time.monotonic() + 60
                while time.monotonic() < until and not finished:
                    await asyncio.sleep(0.2)
                    data = json.loads(progress_files()[0].read_text() or "{}")
                    finished = any(e.get("finished") for e in data.get("lessons", {}).values())
            if not finished:
                raise SystemExit("bench/memory.py: the browser session did not finish the lesson")
            with open(f"/proc/{server.pid}/task/{server.pid}/children") as f:
                app_pid = int(f.read().split()[0])
            from tutor.serve.server import descendants

            # the app's group and every descendant (a kernel's zygote has its own session),
            # once the checkpoints filled while the learner reads are all there (the same
            # processes for 1 s)
            def session_pids() -> list[int]:
                return sorted(set(_group_pids(app_pid)) | set(descendants(app_pid)) | {app_pid})

            pids, quiet_since = session_pids(), time.monotonic()
            while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                now = session_pids()
                if now != pids:
                    pids, quiet_since = now, time.monotonic()
            group = [_process_memory_kb(pid) for pid in pids]
            server_now = _process_memory_kb(server.pid)
            reader.cancel()
    return {"processes": len(group),
            "group": {k: sum(g[k] for g in group) for k in ("Rss", "Pss", "Uss")},
            "server_idle": idle_server, "server": server_now}


def report_browser_session(result: dict) -> None:
    group, server, idle = result["group"], result["server"], result["server_idle"]
    session_pss = group["Pss"] + max(0, server["Pss"] - idle["Pss"])  # kB
    share = idle["Pss"] / 20  # the idle server spread over --max-sessions' default
    per_learner_mb = (session_pss + share) / 1024
    learners = int((HOST_GIB * 1024 - idle["Pss"] / 1024) // (session_pss / 1024))
    print(f"one browser learner (tutor serve, the lesson run to its end, one other torch "
          f"process alive): app and its {result['processes'] - 1} descendant(s) "
          f"RSS {group['Rss'] / 1024:.0f} MB, PSS {group['Pss'] / 1024:.0f} MB, "
          f"USS {group['Uss'] / 1024:.0f} MB")
    print(f"server: PSS {idle['Pss'] / 1024:.0f} MB idle, "
          f"{server['Pss'] / 1024:.0f} MB with the session; one learner's share incl. "
          f"1/20 of the idle server: {per_learner_mb:.0f} MB PSS")
    print(f"browser learners per {HOST_GIB} GiB host (from PSS): {learners}")


if __name__ == "__main__":
    sys.exit(main())
