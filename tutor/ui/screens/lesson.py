"""The lesson screen: prose, code, tensors, cost plot, output, lr field and status.

The screen renders a headless `LessonSession` (tutor/session.py), which owns the
runner (made once torch has loaded in the background), edits, predictions, earlier
runs, progress and resuming. Keys call the session's methods, which return at once;
a timer renders `runner.state` 15 times a second. Each widget compares what it is given with what
it shows and skips work when nothing changed, so free running costs the engine
little however fast it iterates. While the code runs freely, code, output and
tensors are updated 5 times a second and the cost plot twice a second; the status
line follows every tick.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static

from tutor.engine.backward_steps import BackwardStepper
from tutor.engine.lesson import Lesson
from tutor.engine.state import RunState
from tutor.session import (
    LessonSession, cell_to_edit, cell_to_predict, code_cells, display_cell, not_own_run,
    position_cell,
)
from tutor.ui.i18n import error_text, localize_bindings, t
from tutor.ui.reload import POLL_SECONDS, file_signature, reload_lesson
from tutor.ui.steer_words import branch_words, divergence_words, nonfinite_words, until_words
from tutor.ui.widgets.code_view import CodeView
from tutor.ui.widgets.hints import HintsPanel
from tutor.ui.widgets.chart_pane import ChartPane
from tutor.ui.widgets.cost_plot import CostPlot
from tutor.ui.widgets.landscape import LandscapeView, earlier_paths
from tutor.ui.widgets.graph_view import GraphView
from tutor.ui.widgets.lr_field import LrField
from tutor.ui.widgets.output_pane import OutputPane
from tutor.ui.widgets.prose import Prose
from tutor.ui.widgets.status_line import StatusLine
from tutor.ui.widgets.tensor_table import TensorTable
from tutor.ui.widgets.update_view import StepView
from tutor.ui.widgets.until_field import UntilField

REFRESH_HZ = 15
PLOT_MIN_INTERVAL = 0.5  # seconds between plot rebuilds while running
DETAIL_MIN_INTERVAL = 0.2  # code, output and tensors while running (status: every tick)


# Pasted characters whose key name is not the character itself.
KEY_OF_CHAR = {
    " ": "space", "\n": "enter", "\r": "enter", "\t": "tab", "[": "left_square_bracket",
    "]": "right_square_bracket", "?": "question_mark", "\x1b": "escape", "\x7f": "backspace",
}


def _actions_of(node) -> dict[str, str]:
    """Key -> action of `node`'s BINDINGS (the one place keys are declared)."""
    actions: dict[str, str] = {}
    for binding in Binding.make_bindings(type(node).BINDINGS):
        actions.setdefault(binding.key, binding.action)
    return actions


# How long a notice from the session stays on screen (seconds; default 2).
NOTICE_SECONDS = {"lesson.resume": 4, "lesson.resumed": 4}


class LessonScreen(Screen):
    """Renders a LessonSession. To add a pane: yield it in `compose` (or in
    `extra_panes`), give it data in `render_state`; to add a key: a Binding with an
    id here (its label translated in tutor/ui/i18n.py) and an `action_` method that
    calls the session (or opens a screen)."""

    AUTO_FOCUS = None  # the lesson keys must work at once; no text field focused

    BINDINGS = [
        Binding("n", "next", "next", id="lesson.next"),
        Binding("s", "step", "stmt", id="lesson.step"),
        Binding("b,left", "step_back", "prev", id="lesson.step_back"),
        Binding("space", "run", "run", id="lesson.run"),
        Binding("R", "run_all", "run all", show=False, id="lesson.run_all"),
        Binding("r", "reset", "reset", id="lesson.reset"),
        Binding("e", "edit_lr", "lr", id="lesson.lr"),
        Binding("u", "run_until", "until", show=False, id="lesson.until"),
        Binding("left_square_bracket", "section(-1)", "◀§", id="lesson.prev_section"),
        Binding("right_square_bracket", "section(1)", "§▶", id="lesson.next_section"),
        Binding("g", "toggle_log", "log y", show=False, id="lesson.log"),
        Binding("v", "cycle_view", "view", show=False, id="lesson.view"),
        Binding("c", "clear_runs", "clear runs", show=False, id="lesson.clear_runs"),
        Binding("h", "hint", "hint", show=False, id="lesson.hint"),
        Binding("p", "predict", "predict", show=False, id="lesson.predict"),
        Binding("E", "edit_cell", "edit", show=False, id="lesson.edit"),
        Binding("B", "backward_step", "backward", show=False, id="lesson.backward"),
        Binding("pagedown", "scroll_prose(1)", "text ↓", show=False, id="lesson.prose_down"),
        Binding("pageup", "scroll_prose(-1)", "text ↑", show=False, id="lesson.prose_up"),
        Binding("i", "inspect", "inspect", show=False, id="lesson.inspect"),
        Binding("q,escape", "back", "back", id="lesson.back"),
    ]

    def __init__(self, session: LessonSession) -> None:
        super().__init__(id="lesson")
        self.session = session
        session.notice = self._notice
        self._last_state: RunState | None = None
        self._viewing_runner: Any = None  # the runner told which view is shown
        self._prose_key: tuple | None = None
        self._plot_built_at = 0.0
        self._detail_at = 0.0
        self._file_signature: tuple[int, int] | None = None
        self._warned_critical: tuple[float, float] | None = None  # (lr, critical lr) told
        self._actions: dict[str, str] | None = None  # key -> action, from BINDINGS
        self._graph_at = 0.0
        self.stepper = BackwardStepper()  # `B`: the captured backward pass, node by node

    # The session's state, read by the widgets below and by tests.
    @property
    def lesson(self) -> Lesson:
        return self.session.lesson

    @property
    def runner(self):
        return self.session.runner

    @property
    def section(self) -> int:
        return self.session.section

    @property
    def predictions(self) -> dict[int, str]:
        return self.session.predictions

    @property
    def edits(self) -> dict[int, str]:
        return self.session.edits

    @property
    def reload_errors(self) -> list[str]:
        return self.session.reload_errors

    @property
    def resuming(self) -> bool:
        return self.session.resuming

    @property
    def _queued(self) -> list[str]:
        return self.session.queued

    @property
    def lang(self) -> str:
        return self.app.lang

    def _notice(self, key: str, **values) -> None:
        self.notify(t(key, self.lang, **values), timeout=NOTICE_SECONDS.get(key, 2))

    # ------------------------------------------------------------------ setup

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
                # `v` cycles these views in this order
                with ChartPane(id="chart", initial="plot"):
                    yield CostPlot(lang, id="plot")
                    yield LandscapeView(lang, id="landscape")
                    yield GraphView(lang, id="graph")
                with VerticalScroll(id="tensor-pane", can_focus=False):
                    yield TensorTable(lang, id="tensors")
        # the step shares the lr field's row: every row counts for the panes at 80x24
        with Horizontal(id="bottom-row"):
            yield LrField(lang, id="lr-field")
            yield StepView(lang, id="step-view")
        yield UntilField(lang, id="until-field")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.session.restore_position()
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
        if ready:
            self.session.attach(self.app.make_runner)
            self.refresh_from_state()

    # ------------------------------------------------------------------ rendering

    def refresh_from_state(self) -> None:
        """Timer: render the runner's latest state if it is a new one."""
        runner = self.session.runner
        if runner is not self._viewing_runner:  # a new runner (torch loaded, an edit)
            self._viewing_runner = runner
            if self.query_one(ChartPane).current in ("landscape", "graph"):
                self._show_view()
        state = self.session.tick()
        if state is None or state is self._last_state:
            return
        self.render_state(state)

    def rerender(self) -> None:
        """Render the last state again (the view changed, not the run)."""
        if self._last_state is not None:
            self.render_state(self._last_state)

    def render_state(self, state: RunState) -> None:
        session = self.session
        lesson = self.lesson
        self._last_state = state
        session.observe(state)
        error = state.error
        self.query_one(StatusLine).show(
            t("lesson.section", self.lang, n=self.section, total=len(lesson.sections) - 1),
            # learners count cells from 1; an error names its own cell and line
            (error.cell + 1) if error is not None else None if state.cell is None else state.cell + 1,
            None if error is not None else state.iteration,
            state.lr if state.lr is not None else state.lr_override,
            state.cost,
            session.status(state),
            state.frame.function if state.frame is not None else None,  # train() ← cell 3
            line=error.line if error is not None else None,
            target=session.heading_to,
        )
        self._render_prose()
        now = time.monotonic()
        running = state.status == "running"
        if not running or now - self._detail_at >= DETAIL_MIN_INTERVAL:
            self._detail_at = now
            self._render_code(state)
            self._render_output(state)
            self.query_one(TensorTable).show(state.tensors)
            self.query_one(StepView).show(state.updates)
        if not running or now - self._plot_built_at >= PLOT_MIN_INTERVAL:
            self._plot_built_at = now
            self.query_one(CostPlot).show(state.costs, state.lr_changes, session.previous_runs(),
                                          self._branch_label(), session.cell_sections())
            if self.query_one(ChartPane).current == "landscape":
                self._render_landscape(state)
        self.stepper.observe(state)
        if self.query_one(ChartPane).current == "graph" and (
            not running or now - self._graph_at >= DETAIL_MIN_INTERVAL
        ):
            self._graph_at = now
            self.query_one(GraphView).show(self.stepper.shown(state), self.stepper.step)
        self._warn_critical(state)
        self.query_one(LrField).show_lr(state.lr if state.lr is not None else state.lr_override)

    def _render_landscape(self, state: RunState) -> None:
        lr = state.lr if state.lr is not None else state.lr_override
        earlier = earlier_paths(state.landscape, [run.landscape for run in self.session.previous_runs()])
        self.query_one(LandscapeView).show(state.landscape, state.landscape_problem, lr, earlier)

    def _warn_critical(self, state: RunState) -> None:
        """The lr in force is above the critical lr: say so at once, with the number."""
        land = state.landscape
        lr = state.lr if state.lr is not None else state.lr_override
        if land is None or land.critical_lr is None or lr is None or lr <= land.critical_lr:
            return
        key = (lr, round(land.critical_lr, 6))
        if key != self._warned_critical:
            self._warned_critical = key
            self.notify(t("landscape.warn", self.lang, lr=f"{lr:g}", crit=f"{land.critical_lr:.3g}"),
                        severity="warning", timeout=6)

    def _branch_label(self) -> str | None:
        branch = self.session.branch
        return None if branch is None else branch_words(branch, self.lang)

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

    def _render_code(self, state: RunState) -> None:
        cells = code_cells(self.lesson, self.section, state)
        line, current = state.line, state.cell
        if state.status == "running":
            return  # the marker would only flicker; it comes back at the next pause
        if state.error is not None:
            line = state.error.line
        elif line is None and state.status in ("paused", "idle"):
            # at a cell's end (or before the first): the line the next step runs
            nxt = position_cell(self.lesson, state)
            if nxt is not None and nxt not in state.cells_done:
                line, current = self.lesson.cells[nxt].line, nxt
        notes = {c.index: t("lesson.norun", self.lang) for c in cells if c.norun}
        self.query_one(CodeView).show(
            cells, line, current=current, notes=notes, dark=self.app.current_theme.dark,
            empty=t("lesson.no_cell", self.lang),
        )
        self.query_one(CodeView).border_title = t("pane.code", self.lang)

    def _render_output(self, state: RunState) -> None:
        lang = self.lang
        cell_index = display_cell(self.lesson, state)
        pane = self.query_one(OutputPane)
        error = hint = None
        if state.error is not None:
            e = state.error
            error = error_text(e, lang)
            error += f"\n{self.lesson.path.name}:{e.line} · {t('lesson.error_recover', lang)}"
        if state.nonfinite is not None:
            hint = nonfinite_words(state.nonfinite, lang)
        elif state.finished:
            hint = t("lesson.finished", lang)
        steer = [until_words(state.until, lang)] if state.until is not None else []
        if state.divergence is not None:  # it says what the engine's hint says, and more
            steer.append(divergence_words(state.divergence, lang))
        if steer:
            hint = "\n".join(steer)
        if cell_index is None or cell_index >= len(self.lesson.cells):
            pane.show(None, None, False, error, hint)
            pane.border_title = t("pane.output", lang)
            return
        cell = self.lesson.cells[cell_index]
        expected = cell.expected.text if cell.expected is not None else None
        pane.show(
            state.outputs.get(cell_index), expected, cell_index in state.cells_done,
            error, hint, state.output_truncated, self.predictions.get(cell_index),
            state.figures.get(cell_index, ()), not_own_run(self.edits, state, cell_index),
            state.stderr.get(cell_index),
        )
        pane.border_title = f"{t('pane.output', lang)} · {t('lesson.cell', lang, n=cell_index + 1)}"

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
        self.session.show_reload_errors(errors)
        self.rerender()  # the status line says "error"
        body = Text(t("lesson.reload_error", self.lang) + "\n\n", style="bold")
        body.append("\n".join(errors), style="red")
        panel = self.query_one("#reload-error", Static)
        panel.update(body)
        panel.display = True
        self.query_one("#lesson-body").display = False

    def load_lesson(self, lesson: Lesson) -> None:
        """Show a new version of the lesson (see LessonSession.load_lesson)."""
        self.session.load_lesson(lesson)
        self.query_one("#reload-error").display = False
        self.query_one("#lesson-body").display = True
        self._prose_key = None
        self.query_one(CodeView).invalidate()
        self.render_state(self.runner.state if self.runner is not None else RunState())

    # ------------------------------------------------------------------ language

    def _lang_changed(self, _lang: str) -> None:
        self._apply_lang()
        self.rerender()

    def _apply_lang(self) -> None:
        lang = self.lang
        localize_bindings(self, lang)
        self.refresh_bindings()
        for widget in (self.query_one(StatusLine), self.query_one(TensorTable),
                       self.query_one(CostPlot), self.query_one(OutputPane), self.query_one(LrField),
                       self.query_one(LandscapeView),
                       self.query_one(GraphView), self.query_one(StepView),
                       self.query_one(UntilField)):
            widget.set_lang(lang)
        self.query_one(CodeView).invalidate()
        chart = self.query_one(ChartPane)
        chart.border_title = t(f"pane.{chart.current or 'plot'}", lang)
        self.query_one("#tensor-pane").border_title = t("pane.tensors", lang)
        self._prose_key = None
        if self.reload_errors:
            self._show_reload_errors(self.reload_errors)

    # ------------------------------------------------------------------ actions

    def action_next(self) -> None:
        self.session.next()

    def action_step(self) -> None:
        self.session.step()

    def action_run(self) -> None:
        self.session.run()

    def action_run_all(self) -> None:
        self.session.run_all()

    def action_cycle_view(self) -> None:
        """`v`: the chart pane's next view (cost plot → landscape → ...)."""
        chart = self.query_one(ChartPane)
        current = chart.cycle()
        chart.border_title = t(f"pane.{current}", self.lang)
        self._show_view()
        self.rerender()

    def _show_view(self) -> None:
        """The runner keeps a free run's landscape or graph up to date only while shown."""
        runner = self.session.runner
        if runner is not None:
            runner.show_view(self.query_one(ChartPane).current)

    def action_step_back(self) -> None:
        self.session.step_back()

    def action_reset(self) -> None:
        self.session.reset()

    def action_edit_lr(self) -> None:
        self.query_one(LrField).begin_edit()

    def action_run_until(self) -> None:
        self.query_one(UntilField).begin_edit()

    # ------------------------------------------------------------------ keys

    async def on_key(self, event: events.Key) -> None:
        """The one ordered key handler. Nothing on this screen is ever focused, so the
        app forwards every key here, in the order typed, one after the other; each is
        acted on before the next is looked at: while the lr field edits, it gets the
        key; otherwise the key's binding runs right here (not later, bubbled up to the
        app, where the next keys would overtake it)."""
        if self.app.screen is not self:
            # Typed after a key that left this screen or opened one over it (`q`, `p`,
            # `E`, `?`), and queued here before that happened: it belongs to the screen
            # now shown, so the app dispatches it again, as if it had just arrived.
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        if await self.handle_lesson_key(event.key, event.character):
            event.stop()
            event.prevent_default()

    async def on_paste(self, event: events.Paste) -> None:
        """A paste (bracketed) is the same keys typed fast: each character in turn."""
        event.stop()
        for char in event.text:
            await self.handle_lesson_key(KEY_OF_CHAR.get(char, char), char, app_too=True)

    async def handle_lesson_key(self, key: str, char: str | None, app_too: bool = False) -> bool:
        """Act on one key; False when it is not this screen's (the app's `l`, `?`)."""
        field = self.query_one(LrField)
        if field.editing:
            if key == "enter":
                lr = field.submit()
                if lr is not None:
                    self.session.set_lr(lr)
            elif key == "escape":
                field.cancel()
            elif key == "backspace":
                field.backspace()
            elif char and char.isprintable() and len(char) == 1:
                field.type(char)
            return True  # every key belongs to the field while it edits
        until = self.query_one(UntilField)
        if until.editing:  # the `u` field is a mode of the same handler
            if key == "enter":
                condition = until.submit()
                if condition is not None:
                    self.session.run_until(condition)
            elif key == "escape":
                until.cancel()
            elif key == "backspace":
                until.backspace()
            elif char and char.isprintable() and len(char) == 1:
                until.type(char)
            return True
        action = self._key_actions().get(key)
        if action is not None:
            await self.run_action(action)
            return True
        if app_too and (action := _actions_of(self.app).get(key)) is not None:
            await self.app.run_action(action)
            return True
        return False

    def _key_actions(self) -> dict[str, str]:
        if self._actions is None:
            self._actions = _actions_of(self)
        return self._actions

    def action_section(self, delta: int) -> None:
        if self.session.go_section(delta):
            self.rerender()

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

    def action_backward_step(self) -> None:
        """`B`: at a backward() call run it, then step its pass node by node; else
        step the last captured pass (a replay of what the kernel recorded)."""
        state = self._last_state or RunState()
        what = self.stepper.press(self.lesson, state)
        if what == "run":
            self.session.step()
        elif what == "nothing":
            self.notify(t("graph.nothing", self.lang), timeout=2)
        chart = self.query_one(ChartPane)
        if chart.current != "graph":
            chart.current = "graph"
            chart.border_title = t("pane.graph", self.lang)
        self.rerender()

    def action_clear_runs(self) -> None:
        self.session.clear_runs()
        state = self._last_state
        self.query_one(CostPlot).show(
            state.costs if state else (), state.lr_changes if state else (), (),
        )

    def action_hint(self) -> None:
        self._render_prose()
        self.query_one(HintsPanel).reveal_next()
        pane = self.query_one("#prose-pane")
        pane.call_after_refresh(pane.scroll_end, animate=False)

    def action_predict(self) -> None:
        from tutor.ui.screens.predict import PredictScreen

        index = cell_to_predict(self.lesson, self._last_state or RunState())
        if index is None:
            self.notify(t("lesson.nothing_to_predict", self.lang), timeout=2)
            return

        def done(text: str | None) -> None:
            if text is not None:
                self.session.predict(index, text)
                self.rerender()

        cell = self.lesson.cells[index]
        self.app.push_screen(PredictScreen(cell, self.lang, self.predictions.get(index, "")), done)

    def action_edit_cell(self) -> None:
        from tutor.ui.screens.edit_cell import EditCellScreen

        index = cell_to_edit(self.lesson, self.section, self._last_state or RunState())
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
        """Run the learner's version of a cell (see LessonSession.run_edited)."""
        if self.session.run_edited(index, source) and self.runner is not None:
            self.query_one(CodeView).invalidate()
            self.render_state(self.runner.state)

    def action_inspect(self) -> None:
        """The tensor inspector over this screen; n, s, b and space keep working there."""
        from tutor.ui.screens.inspector import InspectorScreen

        state = self._last_state
        if self.runner is None:
            self._notice("lesson.engine_busy")
            return
        if state is None or not state.tensors:
            self._notice("inspector.nothing")
            return
        self.app.push_screen(InspectorScreen(self.session, self._inspected), self._inspector_closed)

    _inspected: str | None = None  # the tensor the inspector showed last (opens there again)

    def _inspector_closed(self, name: str | None) -> None:
        self._inspected = name
        self.rerender()

    def action_back(self) -> None:
        self.leave()
        self.app.pop_screen()

    # ------------------------------------------------------------------ leaving

    def leave(self) -> None:
        """Save where the learner is, keep the curve, stop the lesson code. Idempotent."""
        self.session.leave(self._last_state)

    def on_unmount(self) -> None:
        self.leave()
