"""Widgets on their own: lr parsing, the cost plot, the tensor table's formatting."""

from __future__ import annotations

import re

import math

import pytest
from textual.app import App

from tutor.engine.state import CostPoint, TensorView
from tutor.ui.widgets.cost_plot import CostPlot, PreviousRun, build_plot, lr_label
from tutor.ui.widgets.lr_field import LrRefused, parse_lr
from tutor.ui.widgets.tensor_table import TensorTable, fmt_values


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.01", 0.01), (" 1e-3 ", 1e-3), ("1", 1.0), ("+.5", 0.5), ("2.", 2.0), ("3E2", 300.0)],
)
def test_parse_lr_accepts_positive_finite_numbers(text, value):
    assert parse_lr(text) == value


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "lr.empty"),
        ("   ", "lr.empty"),
        ("abc", "lr.not_number"),
        ("0x10", "lr.not_number"),
        ("학습률", "lr.not_number"),
        ("０.１", "lr.not_number"),  # full-width digits: float() would take them
        ("1_000", "lr.not_number"),
        ("0", "lr.not_positive"),
        ("0.0", "lr.not_positive"),
        ("-0.1", "lr.not_positive"),
        ("nan", "lr.not_finite"),
        ("-inf", "lr.not_finite"),
        ("inf", "lr.not_finite"),
        ("1e400", "lr.not_finite"),
    ],
)
def test_parse_lr_refuses_with_a_reason(text, key):
    with pytest.raises(LrRefused) as refused:
        parse_lr(text)
    assert refused.value.key == key


def _points(costs, lr=0.1, start=0):
    return tuple(CostPoint(step=start + i, cell=0, iteration=i, cost=c, lr=lr) for i, c in enumerate(costs))


def test_build_plot_skips_non_finite_points_and_counts_them():
    costs = _points([4.0, 1.0, float("nan"), float("inf"), 0.25])
    text, hidden = build_plot(costs, (), (), log=False, width=40, height=10)
    assert hidden == 2
    assert "┤" in text.plain  # an axis was drawn: plotext did not raise


def test_build_plot_log_scale_skips_zero_and_negative():
    costs = _points([4.0, 1.0, 0.0, 0.25])
    _, hidden = build_plot(costs, (2,), (), log=True, width=40, height=10)
    assert hidden == 1


def test_build_plot_drops_background_colours():
    text, _ = build_plot(_points([3.0, 2.0, 1.0]), (1,), (), log=False, width=30, height=8)
    for span in text.spans:
        assert span.style.bgcolor is None


def test_lr_label_names_the_change():
    assert lr_label(_points([1.0, 0.5], lr=0.1)) == "lr=0.1"
    changed = _points([1.0], lr=0.1) + _points([0.5], lr=0.01, start=1)
    assert lr_label(changed) == "lr=0.1→0.01"


def test_fmt_values():
    assert fmt_values(0.5, None) == "0.5"
    assert fmt_values([2.0], None) == "2"
    assert fmt_values([[1.0, 2.0], [3.0, 4.0]], None) == "[1 2 3 4]"
    assert fmt_values(list(range(10)), None) == "[0 1 2 3 4 5 …]"
    assert fmt_values(None, {"mean": 0.5, "std": 2.0}) == "μ0.5 σ2"
    assert fmt_values(None, None) == "-"


class _PlotApp(App):
    def compose(self):
        yield CostPlot("en", id="plot")
        yield TensorTable("ko", id="tensors")


async def test_cost_plot_rebuilds_only_when_its_data_changes():
    app = _PlotApp()
    async with app.run_test(size=(60, 20)) as pilot:
        plot = app.query_one(CostPlot)
        costs = _points([4.0, 2.0, 1.0])
        plot.show(costs, (), ())
        await pilot.pause(0.1)
        assert plot.builds == 1
        for _ in range(5):  # the refresh timer hands over the same data again and again
            plot.show(costs, (), ())
            plot.refresh()
            await pilot.pause(0.02)
        assert plot.builds == 1
        previous = (PreviousRun("lr=1", _points([5.0, 6.0])),)
        plot.show(costs, (), previous)
        await pilot.pause(0.1)
        assert plot.builds == 2
        rendered = plot.render().plain
        assert "lr=1" in rendered and "now lr=0.1" in rendered


async def test_tensor_table_lines_up_hangul_headers():
    app = _PlotApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(TensorTable)
        table.show((
            TensorView("W", (1,), "float32", [1.5], [-0.25], is_parameter=True, changed=True),
            TensorView("x_train", (3, 1), "float32", [[1.0], [2.0], [3.0]]),
        ))
        await pilot.pause(0.1)
        lines = [
            "".join(seg.text for seg in strip)
            for strip in app.screen._compositor.render_strips()
        ]
        header = next(line for line in lines if "이름" in line)
        row = next(line for line in lines if "x_train" in line)
        from rich.cells import cell_len

        # the value column starts at the same cell in the header and in the row
        header_col = cell_len(header[: header.index("값")])
        row_col = cell_len(row[: row.index("[1 2 3]")])
        assert header_col == row_col
        assert not math.isnan(header_col)


def test_log_labels_are_at_most_six_characters():
    from tutor.ui.widgets.cost_plot import log_ticks, short_label

    assert short_label(2.96990227870856131352424149011640e37) == "3e37"
    assert short_label(1e-4) == "1e-4" and short_label(0.01) == "0.01" and short_label(100.0) == "100"
    for low, high in [(1e-4, 3e37), (0.5, 2.0), (1e-12, 1.0), (3.0, 7.0)]:
        ticks = log_ticks(low, high)
        assert ticks[0] <= low and ticks[-1] >= high and len(ticks) <= 5
        assert all(len(short_label(v)) <= 6 for v in ticks)
    text, _ = build_plot(_points([1e-4, 1.0, 3e37]), (), (), True, 40, 12)
    numbers = re.findall(r"[0-9][0-9.e+-]*", text.plain.split("└")[0])
    assert numbers and all(len(n) <= 6 for n in numbers), numbers


def test_a_lesson_without_lr_gets_no_lr_label():
    assert lr_label(_points([1.0, 0.5], lr=None)) == ""
