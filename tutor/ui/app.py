"""The Textual app: a lesson picker and lesson screens over the engine.

The app process never imports torch: lesson code runs in kernel processes
(tutor/engine/kernel/). When the app is built it starts the zygote (a fresh
interpreter that imports torch while the picker paints and shows); lesson screens show
"loading torch…" until `engine_ready` turns true, then create their runner, a
`KernelClient` (the Runner's methods, its code in a kernel forked from the zygote).
Tests hand in one `KernelHost` for the whole session (`kernel_host=`).

App-wide state lives here: the language (`l` switches it live on every screen),
the learner's progress file, and the cost curves of earlier runs per lesson (so a
lesson re-opened in the same session still shows them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.worker import get_current_worker
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from tutor.engine.lesson import Lesson
from tutor.progress import Progress
from tutor.ui.i18n import localize_bindings, other, t
from tutor.ui.reload import POLL_SECONDS, dir_signature, relative_error
from tutor.ui.screens.help import HelpScreen
from tutor.ui.screens.picker import PickerScreen


MIN_SIZE = (60, 20)  # columns, rows: the layout is made for 80x24


class TutorApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tutor"

    BINDINGS = [
        Binding("l", "toggle_lang", t("app.lang", "en"), id="app.lang"),
        Binding("question_mark", "help", "help", id="app.help"),
    ]

    lang: reactive[str] = reactive("en")
    engine_ready: reactive[bool] = reactive(False)

    def __init__(
        self,
        lessons: list[Lesson],
        errors: list[str] | None = None,
        lessons_dir: Path | str = "",
        lang: str = "en",
        open_lesson: Lesson | None = None,
        progress_path: Path | None = None,
        on_first_frame: Callable[[], None] | None = None,
        live_reload: bool = False,
        kernel_host=None,
        kernel_memory: int | None = None,
        owns_kernel_host: bool | None = None,
    ) -> None:
        super().__init__()
        self.lessons = lessons
        self.errors = errors or []
        self.lessons_dir = str(lessons_dir)
        self.set_reactive(TutorApp.lang, lang)
        self.initial_lesson = open_lesson
        self.progress = Progress.load(progress_path)
        self._previous_runs = None  # RunArchive, made with the first lesson opened
        self.runner_class = None
        self.engine_error: str | None = None
        self._on_first_frame = on_first_frame
        self.first_frame_at: float | None = None
        # --watch: lesson screens re-read their file, the picker its directory
        self.live_reload = live_reload
        self._dir_signature: tuple | None = None
        self._too_small = False
        # The zygote and listener the lesson kernels come from: given (tests share
        # one), or started here and ended with the app.
        # owns_kernel_host: this app closes it when it ends (build_app starts one
        # before importing Textual; tests share one and close it themselves).
        self.kernel_host = kernel_host
        self._owns_kernel_host = kernel_host is None if owns_kernel_host is None else owns_kernel_host
        self.kernel_memory = kernel_memory
        if kernel_host is None:
            # The zygote starts first of all: torch imports in its own process on the
            # other core while this one paints (docs/decisions.md).
            from tutor.engine.kernel.host import KernelHost
            from tutor.engine.kernel.protocol import DEFAULT_MEMORY

            self.kernel_host = KernelHost(memory=kernel_memory or DEFAULT_MEMORY)

    def get_default_screen(self) -> PickerScreen:
        """The picker is the first screen: painted at once, not after a blank default
        screen has been laid out and rendered (20 ms of the first frame here)."""
        return PickerScreen(self.lessons, self.errors, self.lessons_dir)

    @property
    def previous_runs(self):
        """Earlier runs' curves per lesson, for the app's whole life (a RunArchive,
        imported with the first lesson opened: the session module needs the run state's
        types, which the picker's first frame does without)."""
        if self._previous_runs is None:
            from tutor.session import RunArchive

            self._previous_runs = RunArchive()
        return self._previous_runs

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        if self.initial_lesson is not None:
            self.open_lesson(self.initial_lesson)
        if self.progress.warning:
            self.notify(self.progress.warning, severity="warning", timeout=8)
        self.call_after_refresh(self._first_frame)
        if self.live_reload and self.lessons_dir:
            self._dir_signature = dir_signature(Path(self.lessons_dir))
            self.set_interval(POLL_SECONDS, self._poll_lessons_dir)

    def on_resize(self, event) -> None:
        """Below MIN_SIZE the panes are cropped: say so once, and keep working."""
        width, height = event.size
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        if small and not self._too_small:
            self.notify(t("app.too_small", self.lang, w=width, h=height), severity="warning", timeout=6)
        self._too_small = small

    def _poll_lessons_dir(self) -> None:
        """--watch: a lesson file added, removed or saved updates the picker."""
        signature = dir_signature(Path(self.lessons_dir))
        if signature == self._dir_signature:
            return
        self._dir_signature = signature
        from tutor.engine import loader

        lessons, errors = loader.discover(self.lessons_dir)
        self.lessons = lessons
        self.errors = [relative_error(str(e), self.lessons_dir) for e in errors]
        for screen in self.screen_stack:
            if isinstance(screen, PickerScreen):
                screen.lessons, screen.errors = self.lessons, self.errors
                screen.render_all()

    def _first_frame(self) -> None:
        self.first_frame_at = time.perf_counter()
        if self._on_first_frame is not None:
            self._on_first_frame()
        self._load_engine()

    @work(thread=True, exclusive=True, group="engine")
    def _load_engine(self) -> None:
        """Wait for the zygote (it imports torch in its own process) off the UI thread,
        after the first frame. Meanwhile the modules a lesson needs load here: plotext
        (2 s on a busy machine), the lesson screen's widgets and the session with the
        run state and the kernel's client (0.1 s here, which opening a lesson paid on
        the UI thread). Only modules: no widget is made or touched here."""
        import plotext  # noqa: F401

        import tutor.engine.kernel.client  # noqa: F401
        import tutor.session  # noqa: F401
        import tutor.ui.screens.lesson  # noqa: F401

        host = self.kernel_host
        ready = threading.Event()
        host.on_ready(ready.set)
        worker = get_current_worker()
        while not ready.wait(0.1):
            if host.closed or worker.is_cancelled:
                return
        if host.failure:  # a broken torch install: say so, keep the app usable
            self.call_from_thread(self._engine_failed, host.failure)
            return
        self.call_from_thread(self._engine_loaded, host.client)

    def _engine_loaded(self, runner_class) -> None:
        self.runner_class = runner_class
        self.engine_ready = True

    def _engine_failed(self, message: str) -> None:
        self.engine_error = message
        self.notify(f"torch could not be loaded: {message}", severity="error", timeout=30)

    def on_unmount(self) -> None:
        """Quitting ends every kernel at once (the lifeline closes); a shared host
        (tests) stays."""
        if self._owns_kernel_host and self.kernel_host is not None:
            self.kernel_host.close()

    def make_runner(self, lesson: Lesson, lr_override: float | None = None):
        """The runner factory lesson sessions are given once torch is loaded."""
        # landscape=True: RunState.landscape for the chart pane's landscape view (`v`)
        return self.runner_class(lesson, lr_override=lr_override, landscape=True)

    def open_lesson(self, lesson: Lesson) -> None:
        # imported here: the picker paints first without the lesson screen's modules
        from tutor.session import LessonSession
        from tutor.ui.screens.lesson import LessonScreen

        self.push_screen(LessonScreen(LessonSession(lesson, self.progress, self.previous_runs)))

    def watch_lang(self, lang: str) -> None:
        localize_bindings(self, lang)
        self.screen.refresh_bindings()

    def action_toggle_lang(self) -> None:
        self.lang = other(self.lang)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen(self.screen))
