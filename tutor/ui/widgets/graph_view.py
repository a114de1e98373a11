"""The autograd graph view: the graph behind the last backward(), drawn as a tree.

It is given a `BackwardGraph` (plain data captured in the kernel during the real
backward) and, while the learner steps it with `B`, the step number; it only
formats. Each node is torch's grad_fn name with a short symbol, the lesson's name
for the tensor it produced, its shape and first values, and its gradient once the
pass has reached it. A node reached again through another path (a shared
subgraph) is drawn once; later mentions point back to it (`↑#2`). Leaves are the
named tensors and parameters, through AccumulateGrad. Outside stepping, the ops of
an nn.Module collapse into one line (its parameters' ops); while stepping every op
is drawn, since each one is a step.

The step panel above the tree says what happens at the current node: the
gradient arriving, the local rule with its numbers (∂z/∂y = 2 × upstream 1 → 2),
and for a leaf how `.grad` fills, adding to what was there when zero_grad was
left out.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tutor.engine.backward_steps import label, step_at
from tutor.engine.state import BackwardGraph, GraphNode
from tutor.ui.i18n import t
from tutor.ui.widgets.tensor_table import fmt_shape, fmt_values

SYMBOLS = {
    "AddBackward0": "+", "SubBackward0": "−", "RsubBackward0": "−", "RsubBackward1": "−",
    "MulBackward0": "×", "DivBackward0": "÷", "NegBackward0": "−",
    "PowBackward0": "^", "PowBackward1": "^", "PowBackward2": "^",
    "MeanBackward0": "μ", "MeanBackward1": "μ", "SumBackward0": "Σ", "SumBackward1": "Σ",
    "MmBackward0": "@", "MvBackward0": "@", "BmmBackward0": "@", "AddmmBackward0": "@+",
    "DotBackward0": "·", "ExpBackward0": "exp", "LogBackward0": "log", "SqrtBackward0": "√",
    "SigmoidBackward0": "σ", "TanhBackward0": "tanh", "ReluBackward0": "relu",
    "SoftmaxBackward0": "softmax", "LogSoftmaxBackward0": "logsoftmax",
    "NllLossBackward0": "nll", "MseLossBackward0": "mse", "AbsBackward0": "|·|",
    "TBackward0": "ᵀ", "ViewBackward0": "view", "UnsafeViewBackward0": "view",
    "ReshapeAliasBackward0": "view", "ExpandBackward0": "expand", "SqueezeBackward0": "squeeze",
    "UnsqueezeBackward0": "unsqueeze", "AccumulateGrad": "●",
}


def symbol(op: str) -> str:
    return SYMBOLS.get(op, "∘")


def _values(value, first: tuple[float, ...]) -> str:
    if value is not None:
        return fmt_values(value, None)
    if first:
        return fmt_values(list(first), None).rstrip("]") + " …]"
    return "?"


def node_text(node: GraphNode, show_grad: bool, lang: str) -> Text:
    """`× MulBackward0 y = 8` (+ shape, + `∇ 1` once the pass reached it)."""
    out = Text()
    out.append(f"{symbol(node.op)} ", style="bold")
    if node.is_leaf:
        out.append(node.name or "?", style="bold")
        out.append(f" {node.op}", style="dim")
    else:
        out.append(node.op)
        if node.name:
            out.append(f" {node.name}", style="bold")
    if node.shape:
        out.append(f" {fmt_shape(node.shape)}", style="dim")
    out.append(f" = {_values(node.value, node.first)}")
    if show_grad:
        grad = fmt_values(node.grad, None) if node.grad is not None else "…"
        word = ".grad" if node.is_leaf else "∇"
        out.append(f"  {word} {grad}", style="bold green" if node.is_leaf else "green")
    return out


def _groups(graph: BackwardGraph) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for node in graph.nodes:
        if node.module is not None:
            groups.setdefault(node.module, []).append(node.id)
    return groups


def tree_text(graph: BackwardGraph, lang: str, step: int | None = None, collapse: bool = True) -> Text:
    """The graph as an indented tree from the root, each node once.

    `step`: while stepping, the nodes the pass has reached show their gradient and
    the current one is marked ▶; otherwise (the pass has run) every gradient shows.
    """
    if step is not None:
        done = set(graph.order[: step + 1])
    else:  # the pass has run: every gradient; a preview (nothing ran yet): none
        done = set(range(len(graph.nodes))) if graph.order else set()
    current = graph.order[step] if step is not None and step < len(graph.order) else None
    groups = _groups(graph) if collapse else {}
    types = dict(graph.modules)
    module_of = {i: m for m, ids in groups.items() for i in ids}
    out = Text(no_wrap=True, overflow="ellipsis")
    drawn: set[int] = set()
    drawn_groups: set[str] = set()
    # (node id or group, prefix for its line, prefix for its children)
    stack: list[tuple[int | str, str, str]] = [(r, "", "") for r in reversed(graph.roots)]
    first = True
    while stack:
        item, lead, child_lead = stack.pop()
        if not first:
            out.append("\n")
        first = False
        out.append(lead, style="dim")
        if isinstance(item, str) and item in drawn_groups:
            item = groups[item][0]  # reached again through another path: point back
        if isinstance(item, str):  # a collapsed module
            ids = groups[item]
            drawn_groups.add(item)
            drawn.update(ids)
            ops = "+".join(dict.fromkeys(graph.nodes[i].op.removesuffix("Backward0") for i in ids
                                         if not graph.nodes[i].is_leaf))
            params = [graph.nodes[i] for i in ids if graph.nodes[i].is_leaf]
            out.append("▣ ", style="bold")
            out.append(item, style="bold")
            out.append(f" ({types.get(item) or t('graph.module', lang)}) {ops}", style="dim")
            for p in params:
                short = (p.name or "?").removeprefix(item + ".")
                grad = f" {fmt_values(p.grad, None)}" if p.grad is not None and p.id in done else ""
                out.append(f"  {short}", style="bold")
                if grad:
                    out.append(f" .grad{grad}", style="bold green")
            inputs = [to for i in ids for to in graph.nodes[i].inputs if module_of.get(to) != item]
            children: list[int | str] = []
            for to in dict.fromkeys(inputs):
                children.append(module_of.get(to, to))
        else:
            node = graph.nodes[item]
            if item in drawn:
                out.append(f"↑#{item} ", style="dim")
                out.append(node.name or symbol(node.op), style="dim")
                continue
            drawn.add(item)
            marker = "▶" if item == current else ""
            if marker:
                out.append(marker, style="bold reverse")
            out.append(f"#{item} ", style="dim")
            out.append_text(node_text(node, item in done, lang))
            children = [module_of.get(to, to) for to in node.inputs]
        children = list(dict.fromkeys(children))
        for n, child in enumerate(reversed(children)):
            last = n == 0
            if isinstance(child, str) and child in drawn_groups:
                child = groups[child][0]  # drawn already: point back to it
            stack.append((child, child_lead + ("└─" if last else "├─"), child_lead + ("  " if last else "│ ")))
    return out


def _num(value) -> str:
    return fmt_values(value, None) if value is not None else "?"


def step_text(graph: BackwardGraph, step: int, lang: str) -> Text:
    """What happens at step `step` (0-based; len(order): the end)."""
    total = len(graph.order)
    out = Text()
    found = step_at(graph, step)
    if found is None:  # the end: each leaf's .grad
        out.append(t("graph.step_end", lang, total=total), style="bold")
        for node in graph.nodes:
            if node.is_leaf:
                out.append(f"\n  {node.name or '#' + str(node.id)}.grad = {_num(node.grad)}")
        return out
    node = found.node
    out.append(f"B {step + 1}/{total}  ", style="bold reverse")
    out.append(f" {symbol(node.op)} {node.op}", style="bold")
    if node.name:
        out.append(f" {node.name}", style="bold")
    if node.is_leaf:
        name = node.name or f"#{node.id}"
        out.append("\n" + t("graph.arrived", lang, value=_num(node.arrived)))
        before = "None" if node.grad_before is None else _num(node.grad_before)
        out.append(f"\n{name}.grad: {before} + {_num(node.arrived)} → ")
        out.append(_num(node.grad), style="bold green")
        if node.grad_before is not None:
            out.append("\n" + t("graph.accumulated", lang), style="yellow")
        return out
    out.append("\n" + t("graph.arriving", lang, value=_num(node.grad)))
    me = label(graph, node.id)
    for edge in found.edges:
        target = label(graph, edge.to)
        if edge.local is not None:
            out.append("\n" + t("graph.rule", lang, out=me, inp=target, local=_num(edge.local),
                                 up=_num(node.grad)) + " → ")
            out.append(_num(edge.grad), style="bold green")
        else:
            out.append("\n" + t("graph.torch_rule", lang, target=target) + " ")
            out.append(_num(edge.grad), style="bold green")
    if not found.edges:
        out.append("\n" + t("graph.no_inputs", lang))
    return out


def header_text(graph: BackwardGraph, lang: str, stepping: bool) -> Text:
    line = graph.line if graph.line is not None else "?"
    if not graph.order:  # a preview: the graph before its backward() runs
        root = graph.nodes[graph.roots[0]] if graph.roots else None
        name = (root.name if root is not None else None) or "?"
        return Text(t("graph.preview", lang, name=name, line=line), style="dim")
    where = t("graph.where", lang, n=graph.number, line=line)
    if graph.iteration is not None:
        where += " · " + t("graph.iteration", lang, k=graph.iteration)
    out = Text(where, style="dim")
    if not stepping:
        out.append("\n" + t("graph.press_b", lang), style="dim")
    return out


class GraphView(Vertical):
    """Renders a BackwardGraph; `show(graph, step)` skips work when nothing changed.

    The header and the step panel stay put; the tree below them scrolls, and while
    stepping it scrolls to keep the current node (▶) in sight."""

    DEFAULT_CSS = """
    GraphView > #graph-head, GraphView > #graph-step { height: auto; }
    GraphView > #graph-scroll { height: 1fr; scrollbar-size-vertical: 1; }
    GraphView #graph-tree { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, lang: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lang = lang
        self._key: tuple | None = None
        self.graph: BackwardGraph | None = None
        self.step: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="graph-head")
        yield Static("", id="graph-step")
        with VerticalScroll(id="graph-scroll", can_focus=False):
            yield Static("", id="graph-tree")

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self._key = None
        self.show(self.graph, self.step)

    def show(self, graph: BackwardGraph | None, step: int | None = None) -> None:
        # States from the kernel arrive unpickled: the same graph is a new, equal object.
        same = graph is self.graph or (graph is not None and graph == self.graph)
        key = (step, self.lang)
        self.graph, self.step = graph, step
        if (same and key == self._key) or not self.is_mounted:
            return
        self._key = key
        head, panel, tree = (self.query_one(f"#graph-{name}", Static) for name in ("head", "step", "tree"))
        if graph is None:
            head.update(Text(t("graph.empty", self.lang), style="dim"))
            panel.display = False
            tree.update("")
            return
        head.update(header_text(graph, self.lang, step is not None))
        panel.display = step is not None
        if step is not None:
            panel.update(step_text(graph, step, self.lang))
        text = tree_text(graph, self.lang, step, collapse=step is None)
        tree.update(text)
        row = next((i for i, line in enumerate(text.plain.split("\n")) if "▶" in line), None)
        scroll = self.query_one("#graph-scroll", VerticalScroll)
        if row is None:
            scroll.scroll_home(animate=False)
        else:  # the current node in sight, with a line of context above it
            self.call_after_refresh(scroll.scroll_to, y=max(0, row - 1), animate=False)

    def on_mount(self) -> None:
        self._key = None
        self.show(self.graph, self.step)
