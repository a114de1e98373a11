"""Errors every layer may raise, below the command line that reports them.

`UsageError` lives here, not in `tutor.cli`, so the subcommands (and anything
under them) can raise it without importing the command-line module that imports
them (import-linter checks the direction, see pyproject.toml).
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad usage or bad input: reported as one line, exit code 2."""
