"""The chart pane: one place on the lesson screen, several views that `v` cycles.

The views are its children, in cycling order, each with an id that names it
(`plot` the cost plot, `landscape` the landscape, `graph` the autograd graph of the
last backward()). Only the current one is displayed; the pane's border title is the
current view's name (i18n key `pane.<id>`). Adding a view is one more child in the
screen's `compose` and its `pane.<id>` title in tutor/ui/i18n.py.
"""

from __future__ import annotations

from textual.widgets import ContentSwitcher


class ChartPane(ContentSwitcher):
    """Shows one of its children; `cycle()` moves to the next one."""

    def views(self) -> list[str]:
        return [child.id for child in self.children if child.id]

    def cycle(self) -> str:
        """Show the next view (after the last: the first); return its id."""
        views = self.views()
        if not views:
            return ""
        current = self.current if self.current in views else views[0]
        self.current = views[(views.index(current) + 1) % len(views)]
        return self.current
