"""A matplotlib backend of ours: figures go to the runner as data, not to a window.

The runner selects it for lesson code (`MPLBACKEND=module://tutor.engine.mpl_backend`
before matplotlib is imported, `pyplot.switch_backend` when it already is), so a
lesson's `plt.show()` hands every open figure to `figures.sink` (set by the runner) and
closes it, and figures still open when a cell ends are shown then, as Jupyter's
inline backend does. Importing this module imports matplotlib: it is imported only
when a lesson imports matplotlib.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backend_bases import FigureCanvasBase, FigureManagerBase, _Backend

NAME = "module://tutor.engine.mpl_backend"

def _give(manager: FigureManagerBase) -> None:
    from tutor.engine import figures

    if figures.sink is not None:
        figures.sink(manager.canvas.figure, manager.num)


class FigureCanvasTutor(FigureCanvasBase):
    """Draws nothing itself: the runner reads the figure's artists."""


class FigureManagerTutor(FigureManagerBase):
    def show(self) -> None:
        _give(self)


def show_open_figures() -> None:
    """Hand every open figure to the sink and close it (plt.show() and cell ends)."""
    from matplotlib import _pylab_helpers
    import matplotlib.pyplot as plt

    for manager in _pylab_helpers.Gcf.get_all_fig_managers():
        _give(manager)
    plt.close("all")


@_Backend.export
class _BackendTutor(_Backend):
    FigureCanvas = FigureCanvasTutor
    FigureManager = FigureManagerTutor

    @classmethod
    def show(cls, *args: Any, **kwargs: Any) -> None:
        show_open_figures()

    @staticmethod
    def mainloop() -> None:
        pass
