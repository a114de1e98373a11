"""The step, with numbers: each parameter's last update written out.

`W := 1.680 − 0.1 × 11.20 = 0.5600` is the heart of every lesson; the engine
(`tutor/engine/updates.py`) reports each update as plain data (`UpdateView`: its
rule, the first elements of the parameter before and after, and the rule's
terms, all torch's own numbers), and this module writes it out. The functions
are pure (tested on their own); `StepView` is the strip under the lesson's panes
and the inspector uses `update_lines` for every element it has.

Numbers from tensors get 4 significant digits (`#.4g`, so 1.680 keeps its zero);
hyperparameters (lr, betas, eps) are written as given (`0.1`, `1e-08`). A
negative operand is put in parentheses with a real minus sign: `− 0.1 × (−4.480)`.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.engine.state import UpdateView
from tutor.ui.i18n import t

MINUS = "−"


def fmt(x: float | None) -> str:
    """A tensor's number: 4 significant digits, trailing zeros kept."""
    if x is None:
        return "?"
    s = f"{x:#.4g}"
    if "e" not in s and "." in s and len(s.split(".")[0].lstrip("-")) >= 4:
        s = s.rstrip(".")  # 1234. -> 1234
    return _minus(s)


def _minus(s: str) -> str:
    """A real minus sign for a negative number (not in an exponent: 1e-08)."""
    return MINUS + s[1:] if s.startswith("-") else s


def fmt_h(x: float | None) -> str:
    """A hyperparameter as given: 0.1, 0.9, 1e-08."""
    if x is None:
        return "?"
    if float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return _minus(f"{x:g}")


def operand(s: str) -> str:
    """A number written after an operator: negatives in parentheses."""
    return f"({s})" if s.startswith(MINUS) else s


def _at(value, i: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return value[i] if i < len(value) else None
    return value  # a scalar term (or a one-element tensor written as a number)


def element_label(name: str, shape: tuple[int, ...], i: int) -> str:
    """`W` for a one-element tensor, else `W[0,1]` (element i in row-major order)."""
    if not shape or all(n == 1 for n in shape):
        return name
    index = []
    for n in reversed(shape):
        index.append(i % n)
        i //= n
    return f"{name}[{','.join(str(k) for k in reversed(index))}]"


def update_lines(u: UpdateView, i: int = 0, lang: str = "en") -> tuple[str, list[str]]:
    """(main line, detail lines) for element i of an update.

    Main: `W := before − ... = after` with the rule's numbers. Details: how the
    optimizer's state moved (momentum buffer, Adam's moments) or the hand-written
    statement with its operands.
    """
    name = element_label(u.name, u.shape, i)
    p, after = fmt(_at(u.before, i)), fmt(_at(u.after, i))
    term = u.term
    lr = fmt_h(term("lr"))
    g = fmt(_at(term("grad"), i))
    details: list[str] = []
    wd = term("weight_decay")
    grad_expr = operand(g)
    if wd and u.rule in ("sgd", "momentum", "nesterov", "adam", "rmsprop"):
        grad_expr = f"({g} + {fmt_h(wd)} × {operand(p)})"
    rule = u.rule
    if rule == "sgd":
        main = f"{name} := {p} {MINUS} {lr} × {grad_expr} = {after}"
    elif rule in ("momentum", "nesterov"):
        mu, buf = fmt_h(term("momentum")), fmt(_at(term("buf"), i))
        b0 = _at(term("buf_before"), i)
        damp = term("dampening") or 0.0
        g_part = grad_expr if not damp else f"{fmt_h(1 - damp)} × {grad_expr}"
        if b0 is None:  # the first step: torch starts the buffer at the gradient
            details.append(f"buf := {grad_expr} = {buf}")
        else:
            details.append(f"buf := {mu} × {operand(fmt(b0))} + {g_part} = {buf}")
        if rule == "nesterov":
            main = f"{name} := {p} {MINUS} {lr} × ({g} + {mu} × {operand(buf)}) = {after}"
        else:
            main = f"{name} := {p} {MINUS} {lr} × {operand(buf)} = {after}"
    elif rule in ("adam", "adamw"):
        m_hat, v_hat = fmt(_at(term("m_hat"), i)), fmt(_at(term("v_hat"), i))
        eps = fmt_h(term("eps"))
        step = fmt_h(term("step"))
        b1, b2 = fmt_h(term("beta1")), fmt_h(term("beta2"))
        tail = f"{lr} × {operand(m_hat)} / (√{v_hat} + {eps}) = {after}"
        if rule == "adamw":
            main = f"{name} := {p} × (1 {MINUS} {lr} × {fmt_h(wd)}) {MINUS} {tail}"
        else:
            main = f"{name} := {p} {MINUS} {tail}"
        m, v = fmt(_at(term("m"), i)), fmt(_at(term("v"), i))
        m0, v0 = _at(term("m_before"), i), _at(term("v_before"), i)
        details.append(
            f"m := {b1} × {operand(fmt(m0 or 0.0))} + (1 {MINUS} {b1}) × {grad_expr} = {m};"
            f"  m̂ = m / (1 {MINUS} {b1}^{step}) = {m_hat}"
        )
        details.append(
            f"v := {b2} × {fmt(v0 or 0.0)} + (1 {MINUS} {b2}) × {operand(g)}² = {v};"
            f"  v̂ = v / (1 {MINUS} {b2}^{step}) = {v_hat}"
        )
    elif rule == "rmsprop":
        v = fmt(_at(term("v"), i))
        eps = fmt_h(term("eps"))
        if term("buf") is not None:
            buf = fmt(_at(term("buf"), i))
            main = f"{name} := {p} {MINUS} {lr} × {operand(buf)} = {after}"
        else:
            main = f"{name} := {p} {MINUS} {lr} × {grad_expr} / (√{v} + {eps}) = {after}"
        a = fmt_h(term("alpha"))
        v0 = _at(term("v_before"), i)
        details.append(f"v := {a} × {fmt(v0 or 0.0)} + (1 {MINUS} {a}) × {operand(g)}² = {v}")
    elif rule == "manual":
        op = MINUS if u.operator == "-" else "+"
        (na, a), (nb, b) = u.terms
        # a tensor operand (a tuple of its first elements) has its element i; a
        # Python number (lr) is written as given
        a_s = fmt(_at(a, i if len(a) > 1 else 0)) if isinstance(a, tuple) else fmt_h(a)
        b_s = fmt(_at(b, i if len(b) > 1 else 0)) if isinstance(b, tuple) else fmt_h(b)
        main = f"{name} := {p} {op} {operand(a_s)} × {operand(b_s)} = {after}"
        details.append(f"{u.source}   ({na} = {a_s}, {nb} = {b_s})")
    elif rule == "manual_expr":
        op = MINUS if u.operator == "-" else "+"
        main = f"{name} := {p} {op} {operand(fmt(_at(term('value'), i)))} = {after}"
        details.append(u.source)
    else:  # generic: torch's before and after, no formula of ours
        main = f"{name} := {p} {MINUS} {operand(fmt(_at(term('delta'), i)))} = {after}"
        details.append(t("update.generic", lang, optimizer=u.optimizer or "?"))
    return main, details


def strip_line(u: UpdateView, lang: str) -> str:
    """One line per parameter: its first element's update, `…` when it has more."""
    main, _ = update_lines(u, 0, lang)
    return main + (" …" if u.numel > 1 else "")


class StepView(Static):
    """The last update of each parameter on one line (`W := … · b := …`), after a
    dim label with the iteration they happened in; empty before the first.
    It shares the lr field's row; the inspector (`i`) shows every element."""

    COMPONENT_CLASSES = {"step-view--dim"}

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.lang = lang
        self._updates: tuple[UpdateView, ...] | None = None

    def show(self, updates: tuple[UpdateView, ...]) -> None:
        if updates == self._updates:
            return
        self._updates = updates
        self._render_lines()

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self._render_lines()

    def on_mount(self) -> None:
        self._render_lines()

    def _render_lines(self) -> None:
        updates = self._updates or ()
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        if not updates:
            self.update(text)
            return
        dim = self.get_component_rich_style("step-view--dim") if self.is_mounted else ""
        label = t("pane.step", self.lang)
        last = max((u.iteration for u in updates if u.iteration is not None), default=None)
        if last is not None:  # first: the end of the line may be cut
            label += " " + t("update.iteration", self.lang, n=last)
        text.append(f"│ {label}: ", style=dim)
        text.append("  ·  ".join(strip_line(u, self.lang) for u in updates))
        self.update(text)
