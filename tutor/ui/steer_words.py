"""Words for the engine's steering facts: run-until outcomes, divergence, a nan/inf cost,
branches.

The engine reports plain facts (`UntilOutcome`, `Divergence`, `NonFiniteCost` in RunState; `Branch`
in the session); these pure functions word them in the learner's language from the
strings in tutor/ui/i18n.py, so the output pane and the cost plot say the same thing
in both languages and tests can check the words without an app.
"""

from __future__ import annotations

from tutor.engine.state import Divergence, NonFiniteCost, UntilOutcome
from tutor.ui.i18n import t
from tutor.ui.widgets.status_line import fmt_cost


def until_words(outcome: UntilOutcome, lang: str) -> str:
    """Why a run-until stopped where it did."""
    values = {"condition": outcome.condition, "iteration": outcome.iteration, "cost": fmt_cost(outcome.cost)}
    if outcome.reason == "met" and outcome.parameter is not None:
        return t("until.met_grad", lang, parameter=outcome.parameter, norm=fmt_cost(outcome.grad_norm), **values)
    return t(f"until.{outcome.reason}", lang, **values)


def nonfinite_words(fact: NonFiniteCost, lang: str) -> str:
    """The cost became nan/inf: the lr is probably too large; with the critical lr
    when the engine found the lr in force above it."""
    text = t("nonfinite.hint", lang)
    if fact.critical_lr is None or fact.lr is None:
        return text
    return f"{text} " + t("nonfinite.critical", lang, lr=f"{fact.lr:g}", critical=f"{fact.critical_lr:.3g}")


def divergence_words(div: Divergence, lang: str) -> str:
    """What diverged, where the run paused, whom to blame, and the way back."""
    cost = f"{div.cost:.3g}"  # the size is the news, not the digits
    if div.kind == "growth":
        parts = [t("divergence.growth", lang, iteration=div.iteration, cost=cost)]
    elif div.last_finite < 0:
        parts = [t("divergence.first", lang, cost=cost)]
    else:
        parts = [t("divergence.nonfinite", lang, iteration=div.iteration, cost=cost, last=div.last_finite)]
    if div.parameter is not None:
        growth = "∞" if div.update_growth is None or div.update_growth == float("inf") else f"{div.update_growth:.3g}"
        parts.append(t("divergence.parameter", lang, parameter=div.parameter, growth=growth))
    parts.append(t("divergence.advice", lang, start=div.growth_start))
    return " ".join(parts)


def branch_words(branch, lang: str) -> str:
    """The cost plot's label for a branch (tutor.session.Branch)."""
    if branch.edited_cell is not None:
        return t("plot.branch_edit", lang, cell=branch.edited_cell + 1)  # learners count cells from 1
    old = "?" if branch.old_lr is None else f"{branch.old_lr:g}"
    new = "?" if branch.new_lr is None else f"{branch.new_lr:g}"
    return t("plot.branch", lang, old=old, new=new, iteration=branch.iteration)
