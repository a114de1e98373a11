"""The lesson screen: prose, code, tensors, cost plot, output, lr field and status.

The screen owns one `Runner` (created once torch has loaded in the background) and
never blocks on it: keys send commands, which return at once, and a timer renders
`runner.state` 15 times a second. Each widget compares what it is given with what
it shows and skips work when nothing changed, so free running costs the engine
little however fast it iterates. While the code runs freely, code, output and
tensors are updated 5 times a second and the cost plot twice a second; the status
line follows every tick.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static

from tutor.engine.lesson import Lesson
from tutor.engine.state import RunState
from tutor.ui.i18n import localize_bindings, t
from tutor.ui.reload import POLL_SECONDS, file_signature, reload_lesson
from tutor.ui.widgets.code_view import CodeView
from tutor.ui.widgets.hints import HintsPanel
from tutor.ui.widgets.cost_plot import MAX_PREVIOUS, CostPlot, PreviousRun, lr_label
from tutor.ui.widgets.lr_field import LrField
from tutor.ui.widgets.output_pane import OutputPane
from tutor.ui.widgets.prose import Prose
from tutor.ui.widgets.status_line import StatusLine
from tutor.ui.widgets.tensor_table import TensorTable

REFRESH_HZ = 15
PLOT_MIN_INTERVAL = 0.5  # seconds between plot rebuilds while running
DETAIL_MIN_INTERVAL = 0.2  # code, output and tensors while running (status: every tick)


class LessonScreen(Screen):
    AUTO_FOCUS = None  # the lesson keys must work at once; no text field focused

    BINDINGS = [
        Binding("n", "next", "next", id="lesson.next"),
        Binding("s", "step", "stmt", id="lesson.step"),
        Binding("b,left", "step_back", "prev", id="lesson.step_back"),
        Binding("space", "run", "run", id="lesson.run"),
        Binding("r", "reset", "reset", id="lesson.reset"),
        # priority: handled as the key arrives, so the keys typed right after it
        # (already queued) reach the field; check_action lets `e` through while typing.
        Binding("e", "edit_lr", "lr", id="lesson.lr", priority=True),
        Binding("left_square_bracket", "section(-1)", "◀§", id="lesson.prev_section"),
        Binding("right_square_bracket", "section(1)", "§▶", id="lesson.next_section"),
        Binding("g", "toggle_log", "log y", show=False, id="lesson.log"),
        Binding("c", "clear_runs", "clear runs", show=False, id="lesson.clear_runs"),
        Binding("h", "hint", "hint", show=False, id="lesson.hint"),
        Binding("p", "predict", "predict", show=False, id="lesson.predict"),
        Binding("E", "edit_cell", "edit", show=False, id="lesson.edit"),
        Binding("pagedown", "scroll_prose(1)", "text ↓", show=False, id="lesson.prose_down"),
        Binding("pageup", "scroll_prose(-1)", "text ↑", show=False, id="lesson.prose_up"),
        Binding("q,escape", "back", "back", id="lesson.back"),
    ]

    def __init__(self, lesson: Lesson) -> None:
        super().__init__(id="lesson")
        self.lesson = lesson
        self.runner = None
        self.section = 0
        self._last_state: RunState | None = None
        self._followed_cell: int | None = None
        self._prose_key: tuple | None = None
        self._plot_built_at = 0.0
        self._detail_at = 0.0
        self._pending_action: str | None = None
        self._queued: list[str] = []  # n/s pressed while a step was executing
        self._sent_from: RunState | None = None
        self._sent_at = 0.0
        self._free_running = False
        self.predictions: dict[int, str] = {}  # cell index -> what the learner predicted
        self.edits: dict[int, str] = {}  # cell index -> the learner's edited source
        self._marked_finished = False
        self._left = False
        self.reload_errors: list[str] = []  # --watch: the file's errors since its last save
        self._file_signature: tuple[int, int] | None = None
        self._resume_cell = 0  # the saved position's cell: the cells before it run again
        self.resuming = False

    # ------------------------------------------------------------------ setup

    @property
    def lang(self) -> str:
        return self.app.lang

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        yield StatusLine(lang, id="status")
        yield Static("", id="reload-error")
        with Horizontal(id="lesson-body"):
            with Vertical(id="lesson-left"):
                with VerticalScroll(id="prose-pane", can_focus=False):
                    yield Prose("", id="prose")
                    yield HintsPanel(lang=lang, id="hints")
                yield CodeView(id="code")
                yield OutputPane(lang, id="output")
            with Vertical(id="lesson-right"):
                yield CostPlot(lang, id="plot")
                with VerticalScroll(id="tensor-pane", can_focus=False):
                    yield TensorTable(lang, id="tensors")
        yield LrField(lang, id="lr-field")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        position = self.app.progress.position(self.lesson.id)
        if position is not None and position["section"] < len(self.lesson.sections):
            self.section = position["section"]  # back where the learner left off
            self.notify(
                t("lesson.resume", self.lang, section=position["section"], cell=position["cell"] + 1),
                timeout=4,
            )
            self._resume_cell = position["cell"]
        self.watch(self.app, "lang", self._lang_changed, init=False)
        self.watch(self.app, "theme", self._lang_changed, init=False)  # colours are baked in
        self._apply_lang()
        self.render_state(RunState())
        self.watch(self.app, "engine_ready", self._engine_ready, init=True)
        self.set_interval(1 / REFRESH_HZ, self.refresh_from_state)
        if self.app.live_reload:
            self._file_signature = file_signature(self.lesson.path)
            self.set_interval(POLL_SECONDS, self.poll_file)

    def _engine_ready(self, ready: bool) -> None:
        if not ready or self.runner is not None or self._left:
            return
        self.runner = self.app.make_runner(self.lesson)
        self.refresh_from_state()
        if self._resume_before(self._resume_cell) is not None:
            self.resuming = True
            self.render_state(self.runner.state)  # status: running (the catch-up)
            self._count_points(self.runner, self._resume_cell)
            return  # the pending action runs once the learner is back
        self._run_pending_action()

    def _run_pending_action(self) -> None:
        action, self._pending_action = self._pending_action, None
        if action is not None:  # a key pressed while torch was loading
            getattr(self, f"action_{action}")()

    # ------------------------------------------------------------------ resume

    def _resume_before(self, cell: int) -> int | None:
        """The last runnable cell before `cell` (None: nothing to run to get back)."""
        if not 0 < cell < len(self.lesson.cells):
            return None
        before = [c.index for c in self.lesson.runnable_cells if c.index < cell]
        return before[-1] if before else None

    @work(thread=True, exclusive=True, group="resume")
    def _count_points(self, runner, cell: int) -> None:
        """Where the cells before `cell` end, as a pause point of `runner`.

        The lesson with those cells only is run headless once: it passes the same
        pause points as the whole lesson up to the end of cell `cell - 1`, and that
        end is the next point of the whole lesson (the one it does not have, being
        its last cell). `goto` then replays the real runner there, so the namespace,
        tensors, outputs and costs are exactly as if the learner had run them."""
        from dataclasses import replace

        lesson = runner.lesson
        prefix = replace(lesson, cells=tuple(
            replace(c, norun=True) if c.index >= cell else c for c in lesson.cells
        ))
        counter = self.app.runner_class(prefix, lr_override=runner.state.lr_override)
        try:
            state = counter.run_to_end()
        except Exception:  # a broken lesson: the learner starts from the top instead
            state = None
        finally:
            counter.close()
        point = state.pause_index if state is not None and state.status == "done" else None
        self.app.call_from_thread(self._caught_up, runner, cell, point)

    def _caught_up(self, runner, cell: int, point: int | None) -> None:
        if runner is not self.runner or self._left:
            return  # the lesson was reloaded, edited or left meanwhile
        self.resuming = False
        if point is not None:
            # keep the restored section: the replay arrives in the cell before
            self._followed_cell = self._resume_before(cell)
            runner.goto(point)
            self.notify(t("lesson.resumed", self.lang, n=cell + 1), timeout=4)  # counted from 1
        self._run_pending_action()

    # ------------------------------------------------------------------ rendering

    def refresh_from_state(self) -> None:
        """Timer: render the runner's latest state if it is a new one."""
        if self.runner is None:
            return
        self._drain_queue()
        state = self.runner.state
        if state is self._last_state:
            return
        self.render_state(state)

    def render_state(self, state: RunState) -> None:
        lesson = self.lesson
        self._last_state = state
        if state.cell is not None and state.cell != self._followed_cell:
            self._followed_cell = state.cell
            if state.cell < len(lesson.cells):
                self.section = lesson.cells[state.cell].section
        loading = self.runner is None
        self.query_one(StatusLine).show(
            t("lesson.section", self.lang, n=self.section, total=len(lesson.sections) - 1),
            None if state.cell is None else state.cell + 1,  # learners count cells from 1
            state.iteration,
            state.lr if state.lr is not None else state.lr_override,
            state.cost,
            "error" if self.reload_errors else "loading" if loading
            else "running" if self.resuming else state.status,
        )
        self._render_prose()
        now = time.monotonic()
        running = state.status == "running"
        if not running or now - self._detail_at >= DETAIL_MIN_INTERVAL:
            self._detail_at = now
            self._render_code(state)
            self._render_output(state)
            self.query_one(TensorTable).show(state.tensors)
        if not running or now - self._plot_built_at >= PLOT_MIN_INTERVAL:
            self._plot_built_at = now
            self.query_one(CostPlot).show(state.costs, state.lr_changes, self._previous_runs())
        self.query_one(LrField).show_lr(state.lr if state.lr is not None else state.lr_override)
        if state.finished and not self._marked_finished:
            self._marked_finished = True
            progress = self.app.progress
            progress.mark_finished(lesson.id)
            self._save_position(state)

    def _render_prose(self) -> None:
        lang = self.lang
        section = self.lesson.sections[self.section]
        hints = self.query_one(HintsPanel)
        hints.show_section(self.section, section.hints)
        hints.lang = lang
        key = (self.section, lang)
        if key == self._prose_key:
            return
        self._prose_key = key
        pane = self.query_one("#prose-pane")
        pane.border_title = f"§{self.section} {section.title.get(lang)}"
        self.query_one("#prose", Markdown).update(section.prose.get(lang).strip())
        pane.scroll_home(animate=False)

    def _code_cells(self, state: RunState):
        """The cells to show: the viewed section's, or the runner's cell if none."""
        lesson = self.lesson
        section = lesson.sections[self.section]
        cells = [lesson.cells[i] for i in section.cells]
        if cells:
            return cells
        if state.cell is not None and state.cell < len(lesson.cells):
            return [lesson.cells[state.cell]]
        runnable = [c for c in lesson.cells if not c.norun]
        return runnable[:1]

    def _render_code(self, state: RunState) -> None:
        cells = self._code_cells(state)
        line = state.line
        if state.status == "running":
            return  # the marker would only flicker; it comes back at the next pause
        if state.error is not None:
            line = state.error.line
        elif state.status in ("idle",) and line is None and cells:
            line = None
        notes = {c.index: t("lesson.norun", self.lang) for c in cells if c.norun}
        self.query_one(CodeView).show(
            cells, line, current=state.cell, notes=notes, dark=self.app.current_theme.dark,
            empty=t("lesson.no_cell", self.lang),
        )
        self.query_one(CodeView).border_title = t("pane.code", self.lang)

    def _display_cell(self, state: RunState) -> int | None:
        """The cell whose output is shown: the one running, else the last that ran."""
        if state.error is not None:
            return state.error.cell
        current = state.cell
        if current is not None and (current in state.outputs or current in state.cells_done
                                    or state.status == "running" or state.iteration is not None):
            return current
        if state.cells_done:
            return state.cells_done[-1]
        if current is None:  # nothing ran yet: the first cell that will
            runnable = self.lesson.runnable_cells
            return runnable[0].index if runnable else None
        return current

    def _render_output(self, state: RunState) -> None:
        lang = self.lang
        cell_index = self._display_cell(state)
        pane = self.query_one(OutputPane)
        error = hint = None
        if state.error is not None:
            e = state.error
            error = t("lesson.error", lang, type=e.type, line=e.line, message=e.message)
            error += f"\n{self.lesson.path.name}:{e.line} · {t('lesson.error_recover', lang)}"
        if state.hint is not None:
            hint = state.hint.get(lang)
        elif state.finished:
            hint = t("lesson.finished", lang)
        if cell_index is None or cell_index >= len(self.lesson.cells):
            pane.show(None, None, False, error, hint)
            pane.border_title = t("pane.output", lang)
            return
        cell = self.lesson.cells[cell_index]
        expected = cell.expected.text if cell.expected is not None else None
        pane.show(
            state.outputs.get(cell_index), expected, cell_index in state.cells_done,
            error, hint, state.output_truncated, self.predictions.get(cell_index),
        )
        pane.border_title = f"{t('pane.output', lang)} · {t('lesson.cell', lang, n=cell_index + 1)}"

    def _previous_runs(self) -> tuple[PreviousRun, ...]:
        return tuple(self.app.previous_runs.get(self.lesson.id, ()))

    # ------------------------------------------------------------------ live reload

    def poll_file(self) -> None:
        """--watch: re-read the lesson when its file's mtime or size changed."""
        signature = file_signature(self.lesson.path)
        if signature is None or signature == self._file_signature:
            return  # unchanged, or being replaced by an editor: look again next time
        self._file_signature = signature
        lesson, errors = reload_lesson(self.lesson.path)
        if lesson is None:
            self._show_reload_errors(errors)
        else:
            self.load_lesson(lesson)

    def _show_reload_errors(self, errors: list[str]) -> None:
        """The file's errors instead of the old content, until the next good save."""
        if self.runner is not None and not self.reload_errors:
            self.runner.pause()  # the old code stops where it is; a good save replaces it
        self.reload_errors = errors
        if self._last_state is not None:
            self.render_state(self._last_state)  # the status line says "error"
        body = Text(t("lesson.reload_error", self.lang) + "\n\n", style="bold")
        body.append("\n".join(errors), style="red")
        panel = self.query_one("#reload-error", Static)
        panel.update(body)
        panel.display = True
        self.query_one("#lesson-body").display = False

    def load_lesson(self, lesson: Lesson) -> None:
        """Show a new version of the lesson: same section (clamped), a new runner
        (the old one ran the old code) that keeps the learner's lr, the old run's
        curve kept for comparison. Edits and predictions belonged to the old cells."""
        old = self.runner
        self.lesson = lesson
        self.reload_errors = []
        self.resuming = False  # a catch-up under way was for the old runner
        self.query_one("#reload-error").display = False
        self.query_one("#lesson-body").display = True
        self.section = min(self.section, len(lesson.sections) - 1)
        self.edits.clear()
        self.predictions.clear()
        self._queued.clear()
        self._free_running = False
        self._marked_finished = False
        self._followed_cell = None
        self._prose_key = None
        self.query_one(CodeView).invalidate()
        if old is not None:
            self._keep_run(old.state)
            lr_override = old.state.lr_override
            old.close()
            self.runner = self.app.runner_class(lesson, lr_override=lr_override)
        self.render_state(self.runner.state if self.runner is not None else RunState())

    # ------------------------------------------------------------------ language

    def _lang_changed(self, _lang: str) -> None:
        self._apply_lang()
        if self._last_state is not None:
            self.render_state(self._last_state)

    def _apply_lang(self) -> None:
        lang = self.lang
        localize_bindings(self, lang)
        self.refresh_bindings()
        for widget in (self.query_one(StatusLine), self.query_one(TensorTable),
                       self.query_one(CostPlot), self.query_one(OutputPane), self.query_one(LrField)):
            widget.set_lang(lang)
        self.query_one(CodeView).invalidate()
        self.query_one("#plot").border_title = t("pane.plot", lang)
        self.query_one("#tensor-pane").border_title = t("pane.tensors", lang)
        self._prose_key = None
        if self.reload_errors:
            self._show_reload_errors(self.reload_errors)

    # ------------------------------------------------------------------ actions

    def _engine(self, action: str | None = None):
        """The runner, or None while torch loads; then `action` runs once it is ready.
        None too while the lesson file has errors (--watch): nothing runs old code."""
        if self.reload_errors:
            self.notify(t("lesson.fix_file", self.lang), timeout=2)
            return None
        if self.resuming:  # its own run would race the catch-up run for torch's RNG
            self.notify(t("lesson.resuming", self.lang), timeout=2)
            if action is not None:
                self._pending_action = action
            return None
        if self.runner is None:
            self.notify(t("lesson.engine_busy", self.lang), timeout=2)
            if action is not None:
                self._pending_action = action
        return self.runner

    # `n` and `s` pressed while the previous step is still executing are queued (a
    # few), not lost: the runner would merge them into the step in progress.
    MAX_QUEUED = 8
    STEP_TIMEOUT = 5.0  # after this, a command that produced no new state is forgotten

    def action_next(self) -> None:
        self._step_command("next")

    def action_step(self) -> None:
        self._step_command("step")

    def _step_command(self, kind: str) -> None:
        if self._engine(kind) is None:
            return
        if self._free_running and self.runner.state.status == "running":
            # A learner who presses n or s while the code runs freely wants to go
            # step by step from here: pause, then take that one step.
            self.runner.pause()
            self._free_running = False
            self._sent_from = self.runner.state
            self._sent_at = time.monotonic()
            self._queued = [kind]
            return
        if self._busy():
            if not self._free_running and len(self._queued) < self.MAX_QUEUED:
                self._queued.append(kind)
            return
        self._issue(kind)

    def _issue(self, kind: str) -> None:
        self._free_running = False
        self._sent_from = self.runner.state
        self._sent_at = time.monotonic()
        getattr(self.runner, kind)()

    def _busy(self) -> bool:
        state = self.runner.state
        if state.status in ("done", "error"):
            return False
        if state.status == "running":
            return True
        waiting = state is self._sent_from  # the command has not produced a state yet
        return waiting and time.monotonic() - self._sent_at < self.STEP_TIMEOUT

    def _drain_queue(self) -> None:
        if self._queued and self.runner is not None and not self._busy():
            self._issue(self._queued.pop(0))

    def action_run(self) -> None:
        if (runner := self._engine("run")) is None:
            return
        self._queued.clear()
        if runner.state.status == "running":
            runner.pause()
            self._free_running = False
        else:
            self._free_running = True
            runner.run()

    def action_step_back(self) -> None:
        """Back one step (the previous iteration after n, the previous statement after
        s); every pane shows that earlier state once the runner publishes it."""
        if (runner := self._engine()) is None:
            return
        self._queued.clear()
        self._free_running = False
        if runner.back_target() is None:
            self.notify(t("lesson.nothing_back", self.lang), timeout=2)
            return
        runner.step_back()

    def action_reset(self) -> None:
        if (runner := self._engine()) is None:
            return
        self._keep_run(runner.state)
        self._marked_finished = False
        self._queued.clear()
        self._free_running = False
        runner.reset()

    def _keep_run(self, state: RunState) -> None:
        """Remember this run's curve to compare the next one against."""
        if not state.costs:
            return
        runs = self.app.previous_runs.setdefault(self.lesson.id, [])
        runs.insert(0, PreviousRun(lr_label(state.costs, state.lr), state.costs))
        del runs[MAX_PREVIOUS:]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit_lr" and self.query_one(LrField).editing:
            return False  # `e` is a letter of "1e-3" while the field is being edited
        return True

    def action_edit_lr(self) -> None:
        self.query_one(LrField).begin_edit()

    def action_section(self, delta: int) -> None:
        target = self.section + delta
        if 0 <= target < len(self.lesson.sections):
            self.section = target
            if self._last_state is not None:
                self.render_state(self._last_state)

    def action_scroll_prose(self, direction: int) -> None:
        """Keyboard-only learners read long sections page by page."""
        pane = self.query_one("#prose-pane")
        if direction > 0:
            pane.scroll_page_down(animate=False)
        else:
            pane.scroll_page_up(animate=False)

    def action_toggle_log(self) -> None:
        plot = self.query_one(CostPlot)
        plot.set_log(not plot.log_scale)

    def action_clear_runs(self) -> None:
        self.app.previous_runs.pop(self.lesson.id, None)
        self.query_one(CostPlot).show(
            self._last_state.costs if self._last_state else (),
            self._last_state.lr_changes if self._last_state else (),
            (),
        )
        self.notify(t("lesson.runs_cleared", self.lang), timeout=2)

    def action_hint(self) -> None:
        self._render_prose()
        self.query_one(HintsPanel).reveal_next()
        pane = self.query_one("#prose-pane")
        pane.call_after_refresh(pane.scroll_end, animate=False)

    def _cell_to_predict(self) -> int | None:
        """The cell that runs next (or is running): what a prediction is about."""
        state = self._last_state or RunState()
        if state.cell is not None and state.cell not in state.cells_done:
            return state.cell
        done = set(state.cells_done)
        for cell in self.lesson.runnable_cells:
            if cell.index not in done and (state.cell is None or cell.index >= state.cell):
                return cell.index
        return None

    def action_predict(self) -> None:
        from tutor.ui.screens.predict import PredictScreen

        index = self._cell_to_predict()
        if index is None:
            self.notify(t("lesson.nothing_to_predict", self.lang), timeout=2)
            return

        def done(text: str | None) -> None:
            if text is not None:
                self.predictions[index] = text
                if self._last_state is not None:
                    self.render_state(self._last_state)

        cell = self.lesson.cells[index]
        self.app.push_screen(PredictScreen(cell, self.lang, self.predictions.get(index, "")), done)

    def _cell_to_edit(self) -> int | None:
        """The runner's cell when it is in the section on screen, else the section's first."""
        state = self._last_state or RunState()
        section = self.lesson.sections[self.section]
        if state.cell is not None and state.cell in section.cells:
            return state.cell
        if section.cells:
            return section.cells[0]
        runnable = self.lesson.runnable_cells
        return runnable[0].index if runnable else None

    def action_edit_cell(self) -> None:
        from tutor.ui.screens.edit_cell import EditCellScreen

        index = self._cell_to_edit()
        if index is None:
            self.notify(t("lesson.no_cell", self.lang), timeout=2)
            return

        def done(source: str | None) -> None:
            if source is not None:
                self.run_edited(index, source)

        self.app.push_screen(
            EditCellScreen(self.lesson, index, self.lang, source=self.edits.get(index)), done
        )

    def run_edited(self, index: int, source: str) -> None:
        """Swap in the learner's version of a cell and start the lesson over with it
        (a new runner: the old one ran the old code). The lr override is kept. The
        cells before the edited one run again at once, so the learner is at the
        start of their cell: `n` runs it."""
        from tutor.engine.edit import replace_cell_source

        if index >= len(self.lesson.cells) or self.reload_errors:
            return  # --watch reloaded the file while the cell was being edited
        self.edits[index] = source
        self.lesson = replace_cell_source(self.lesson, index, source)
        old = self.runner
        if old is None:
            return  # torch still loading: the runner will be made from the new lesson
        self._keep_run(old.state)
        lr_override = old.state.lr_override
        old.close()
        self.runner = self.app.runner_class(self.lesson, lr_override=lr_override)
        self._marked_finished = False
        self._followed_cell = None
        self._queued.clear()
        self._free_running = False
        self.query_one(CodeView).invalidate()
        self.resuming = self._resume_before(index) is not None
        self.render_state(self.runner.state)
        if self.resuming:
            self._count_points(self.runner, index)

    def action_back(self) -> None:
        self.leave()
        self.app.pop_screen()

    @on(LrField.Applied)
    def _lr_applied(self, event: LrField.Applied) -> None:
        self.app.progress.add_lr(self.lesson.id, event.lr)
        if self.runner is not None:
            self.runner.set_lr(event.lr)
        else:
            self.app.pending_lr[self.lesson.id] = event.lr

    # ------------------------------------------------------------------ leaving

    def _save_position(self, state: RunState | None) -> None:
        cell = 0
        if state is not None and state.cell is not None:
            cell = state.cell
        progress = self.app.progress
        progress.set_position(self.lesson.id, self.section, cell)
        progress.save()

    def leave(self) -> None:
        """Save where the learner is, keep the curve, stop the lesson code. Idempotent."""
        if self._left:
            return
        self._left = True
        state = self.runner.state if self.runner is not None else self._last_state
        if state is not None:
            self._keep_run(state)
        self._save_position(state)
        if self.runner is not None:
            self.runner.close()

    def on_unmount(self) -> None:
        self.leave()
