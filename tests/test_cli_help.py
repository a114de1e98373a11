"""`tutor --help` lists every subcommand with its line; UsageError lives below the CLI;
one lr rule for the field, `tutor run --lr`, the runner and the progress file."""

from __future__ import annotations

import re

import pytest

from tutor import cli
from tutor.engine import lr as lr_rule


def test_help_lists_every_subcommand_with_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert re.search(rf"^  tutor {re.escape(name)} +\S.*$", out, re.M), name
    assert "tutor COMMAND --help" in out


def test_usage_error_is_defined_below_the_command_line():
    from tutor.errors import UsageError

    assert cli.UsageError is UsageError and UsageError.__module__ == "tutor.errors"


@pytest.mark.parametrize("text, ok", [
    ("0.1", True), ("1e-3", True), (".5", True), ("+2", True), ("0", False), ("-1", False),
    ("nan", False), ("inf", False), ("1e400", False), ("abc", False), ("0x10", False),
    ("１", False), ("1_0", False), ("", False),
])
def test_one_lr_rule_everywhere(text, ok):
    from tutor.commands.run import parse_lr as run_parse
    from tutor.errors import UsageError
    from tutor.progress import _is_lr
    from tutor.ui.widgets.lr_field import parse_lr as field_parse

    assert field_parse is lr_rule.parse_lr
    if ok:
        value = lr_rule.parse_lr(text)
        assert run_parse(text) == value and _is_lr(value)
    else:
        with pytest.raises(lr_rule.LrRefused):
            lr_rule.parse_lr(text)
        with pytest.raises(UsageError):
            run_parse(text)
    for value, good in [(0.1, True), (0.0, False), (-1.0, False), (float("nan"), False),
                        (float("inf"), False), (True, False)]:
        assert _is_lr(value) is good
        if not good:
            with pytest.raises(ValueError):
                lr_rule.check_lr(value)
