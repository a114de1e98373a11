"""The tensor inspector (`i`): one tensor whole, live while the learner steps.

The table shows every tensor in a few cells; here one tensor fills the screen:
value and grad as aligned matrices side by side (4 significant digits, colour by
sign and magnitude, ▲/▼ where the value changed since the last pause), shape,
dtype, requires_grad, grad_fn, stats, and for a parameter its last update
written out with its numbers and its optimizer's state tensors.

The screen asks the engine for the tensor through the Runner API
(`runner.inspect(name)`, forwarded by the kernel client like every command):
states then carry it whole (`RunState.inspected`, up to 64×64 elements, a summary
beyond). Closing asks for nothing again (`inspect(None)`), so ordinary states
stay small. `n`, `s`, `b` and `space` call the lesson session as in the lesson
screen, and a timer renders the runner's latest state, so the view follows the
run live; tab / shift+tab move between tensors in the table's order.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Footer, Static

from tutor.engine.state import INSPECT_LIMIT, InspectedTensor, RunState, UpdateView
from tutor.ui.i18n import localize_bindings, t
from tutor.ui.widgets.matrix_view import MatrixView
from tutor.ui.widgets.tensor_table import fmt_shape, table_order
from tutor.ui.widgets.update_view import fmt, update_lines

REFRESH_HZ = 15
RUNNING_INTERVAL = 0.25  # seconds between renders while the code runs freely (a 64×64
# tensor with its grad and Adam's two moments is 16 384 numbers: ~65 ms of CPU to lay out)


def tensor_names(state: RunState) -> list[str]:
    """The tensors tab moves through: the table's order."""
    return [view.name for view in table_order(state.tensors)]


def stats_line(shown: InspectedTensor, lang: str) -> str:
    parts = []
    if shown.stats:
        s = shown.stats
        parts.append(
            f"{t('inspector.mean', lang)} {fmt(s['mean'])}  {t('inspector.std', lang)} {fmt(s['std'])}  "
            f"{t('inspector.min', lang)} {fmt(s['min'])}  {t('inspector.max', lang)} {fmt(s['max'])}"
        )
    if shown.grad_stats:
        parts.append(f"‖{t('inspector.grad', lang)}‖ {fmt(shown.grad_stats.get('norm'))}")
    return "  ·  ".join(parts)


def where_text(state: RunState, lang: str) -> str:
    """Where the run is: `iter 3 · paused` (the live part of the view)."""
    parts = []
    if state.iteration is not None:
        parts.append(f"{t('status.iter', lang)} {state.iteration}")
    parts.append(t(f"status.{state.status}", lang))
    return " · ".join(parts)


def head_line(shown: InspectedTensor, position: str, lang: str) -> str:
    v = shown.view
    parts = [f"{shown.name} ({position})", fmt_shape(v.shape), v.dtype,
             f"requires_grad={v.requires_grad}", f"grad_fn={shown.grad_fn or '—'}"]
    if shown.optimizer:
        parts.append(shown.optimizer)
    return " · ".join(parts)


def blocks_of(shown: InspectedTensor, lang: str) -> tuple:
    """(title, value, delta) for the value, the grad and each optimizer state tensor."""
    v = shown.view
    blocks = [(t("inspector.value", lang), v.value, v.delta)]
    if v.grad is not None:
        blocks.append((t("inspector.grad", lang), v.grad, None))
    for s in shown.state:
        if s.value is not None and s.shape:  # `step` is a number: in the update lines
            blocks.append((s.name, s.value, None))
    return tuple(blocks)


def update_text(u: UpdateView | None, lang: str) -> list[str]:
    """This parameter's last update: one line per element the engine wrote out
    (the first 4), `…` when there are more, then how the state moved."""
    if u is None:
        return []
    lines = [t("inspector.update", lang, n=u.iteration if u.iteration is not None else "—")]
    details: list[str] = []
    for i in range(len(u.before)):
        main, more = update_lines(u, i, lang)
        lines.append("  " + main)
        if i == 0:
            details = more
    if u.numel > len(u.before):
        lines.append("  …")
    lines += ["  " + d for d in details]
    return lines


class InspectorScreen(Screen):
    """One tensor whole; see the module docstring."""

    BINDINGS = [
        Binding("tab", "tensor(1)", "tensor ▶", id="inspector.next_tensor", priority=True),
        Binding("shift+tab", "tensor(-1)", "◀ tensor", id="inspector.prev_tensor", priority=True),
        # the lesson's own keys, working here too (listed in `?`, not in the footer)
        Binding("n", "next", "next", show=False, id="inspector.next"),
        Binding("s", "step", "stmt", show=False, id="inspector.step"),
        Binding("b", "step_back", "prev", show=False, id="inspector.step_back"),
        Binding("space", "run", "run", show=False, id="inspector.run"),
        Binding("escape,i", "close", "close", id="inspector.close"),
    ]

    def __init__(self, session, name: str | None = None) -> None:
        super().__init__(id="inspector")
        self.session = session
        self.tensor = name
        self._runner = None
        self._state: RunState | None = None
        self._shown: InspectedTensor | None = None
        self._rendered_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static("", id="inspector-head")
        yield Static("", id="inspector-stats")
        with ScrollableContainer(id="inspector-body"):
            yield MatrixView(id="inspector-matrices")
        yield Static("", id="inspector-update")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.watch(self.app, "lang", self._lang_changed, init=True)
        self.set_interval(1 / REFRESH_HZ, self.refresh_from_state)
        self.refresh_from_state()

    def _lang_changed(self, lang: str) -> None:
        localize_bindings(self, lang)
        self.refresh_bindings()
        self._state = None  # render again in the new language
        self.refresh_from_state()

    @property
    def lang(self) -> str:
        return self.app.lang

    # ------------------------------------------------------------------ state

    def _ask(self) -> None:
        """Ask the runner for the tensor (again when the runner was replaced)."""
        runner = self.session.runner
        if runner is not None:
            self._runner = runner
            runner.inspect(self.tensor)

    def refresh_from_state(self) -> None:
        state = self.session.tick()
        if state is None:
            return
        names = tensor_names(state)
        if self.tensor is None and names:
            self.tensor = names[0]
        if self.session.runner is not self._runner:
            self._ask()
            state = self.session.runner.state
        if state is self._state:
            return
        now = time.monotonic()
        if state.status == "running" and now - self._rendered_at < RUNNING_INTERVAL:
            return
        self._rendered_at = now
        self._state = state
        self.render_state(state, names)

    def render_state(self, state: RunState, names: list[str]) -> None:
        lang = self.lang
        shown = state.inspected
        head = self.query_one("#inspector-head", Static)
        stats = self.query_one("#inspector-stats", Static)
        body = self.query_one(MatrixView)
        upd = self.query_one("#inspector-update", Static)
        if self.tensor is None:
            head.update(t("tensors.none", lang))
            return
        position = f"{names.index(self.tensor) + 1}/{len(names)}" if self.tensor in names else "—"
        if shown is None or shown.name != self.tensor:
            return  # the answer to inspect() is on its way: keep the last view
        if shown.missing or shown.view is None:
            head.update(Text(f"{self.tensor}   ({position})", style="bold"))
            stats.update(t("inspector.missing", lang))
            body.show((), self._width())
            upd.update("")
            return
        self._shown = shown
        head_text = Text(head_line(shown, position, lang), style="bold")
        head_text.append("   " + where_text(state, lang))
        head.update(head_text)
        line = stats_line(shown, lang)
        v = shown.view
        if v.value is None:
            numel = 1
            for n in v.shape:
                numel *= n
            line += "\n" + t("inspector.summary", lang, n=numel, limit=INSPECT_LIMIT)
        stats.update(line)
        body.show(blocks_of(shown, lang) if v.value is not None else (), self._width())
        update = next((u for u in state.updates if u.name == self.tensor), None)
        lines = update_text(update, lang)
        upd.display = bool(lines)
        upd.update("\n".join(lines))

    def _width(self) -> int:
        return max(20, (self.size.width or 80) - 2)

    def on_resize(self) -> None:
        self._state = None
        self.refresh_from_state()

    # ------------------------------------------------------------------ actions

    def action_tensor(self, delta: int) -> None:
        state = self.session.runner.state if self.session.runner is not None else None
        names = tensor_names(state) if state is not None else []
        if not names:
            return
        i = names.index(self.tensor) if self.tensor in names else -delta
        self.tensor = names[(i + delta) % len(names)]
        self._ask()
        self._state = None
        self.refresh_from_state()

    def action_next(self) -> None:
        self.session.next()

    def action_step(self) -> None:
        self.session.step()

    def action_step_back(self) -> None:
        self.session.step_back()

    def action_run(self) -> None:
        self.session.run()

    def action_close(self) -> None:
        runner = self.session.runner
        if runner is not None:
            runner.inspect(None)  # ordinary states stay small again
        self.dismiss(self.tensor)
