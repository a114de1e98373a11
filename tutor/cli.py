"""The `tutor` command line (design §3).

Parsing only: each subcommand lives in `tutor.commands.<name>` and is imported
when used, so `tutor list` never imports torch and `tutor` shows its first frame
before torch loads. Usage errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from tutor.errors import UsageError  # noqa: F401  (re-exported: tutor.cli.UsageError)

SUBCOMMANDS = {
    "list": "tutor.commands.list_lessons",
    "check": "tutor.commands.check",
    "run": "tutor.commands.run",
    "new": "tutor.commands.new",
    "import": "tutor.commands.import_notebook",
    "serve": "tutor.commands.serve",
    "passwd": "tutor.commands.passwd",
    "class": "tutor.commands.class_view",
}




class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(message)


def default_lang(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    for key in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key)
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def _global_options() -> argparse.ArgumentParser:
    # SUPPRESS: these may come before or after the subcommand without the
    # subparser's defaults overwriting what was given before it.
    common = _Parser(add_help=False)
    common.add_argument(
        "--lessons", metavar="DIR", default=argparse.SUPPRESS,
        help="lesson directory (default: the bundled lessons)",
    )
    common.add_argument(
        "--lang", choices=("ko", "en"), default=argparse.SUPPRESS,
        help="language of the lessons and the app (default: from LANG)",
    )
    common.add_argument(
        "--kernel-memory", metavar="SIZE", default=argparse.SUPPRESS,
        help="memory lesson code may use in the app, e.g. 512M or 4G (default: 2G)",
    )
    return common


def build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """(app parser for `tutor [LESSON]`, parser with the subcommands)."""
    common = _global_options()
    app = _Parser(prog="tutor", parents=[common], description="Learn PyTorch training step by step.",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    app.add_argument("lesson", nargs="?", help="lesson id or path to a .md file")
    app.add_argument("--watch", action="store_true", help="reload the lesson when its file changes")

    sub_parser = _Parser(prog="tutor", parents=[common])
    subs = sub_parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = subs.add_parser("list", parents=[common], help="list lessons")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = subs.add_parser("check", parents=[common], help="validate lesson files")
    p.add_argument("--run", action="store_true", help="also run them and compare output blocks")
    p.add_argument("--update", action="store_true",
                   help="with --run: rewrite the output blocks that differ with what the cells printed")
    p.add_argument("paths", nargs="+", metavar="PATH")

    p = subs.add_parser("run", parents=[common], help="run a lesson headless")
    p.add_argument("lesson", help="lesson id or path to a .md file")
    p.add_argument("--lr", help="learning rate override (a positive number)")
    p.add_argument("--jsonl", action="store_true", help="print one JSON event per line")
    p.add_argument("--landscape", action="store_true",
                   help="with --jsonl: a landscape event (cost surface, path, critical lr) after each training loop")
    p.add_argument("--graph", action="store_true",
                   help="with --jsonl: a backward event (the autograd graph) at each backward() call")
    p.add_argument("--until", metavar="CONDITION",
                   help='stop where it is first met: "500", "cost < 0.01", "cost > 5", "cost rises", '
                        '"grad > 10", "nan"; last line: the iteration reached (exit 1 when never met)')

    p = subs.add_parser("new", parents=[common], help="write a skeleton lesson")
    p.add_argument("slug")
    p.add_argument("--title-en")
    p.add_argument("--title-ko")

    p = subs.add_parser("import", parents=[common], help="convert a Jupyter notebook into a lesson")
    p.add_argument("notebook")
    p.add_argument("-o", "--output", metavar="PATH")

    p = subs.add_parser("serve", parents=[common], help="serve the app to browser tabs")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--users", metavar="FILE", help="logins (NAME:hash lines from `tutor passwd`)")
    p.add_argument("--state", metavar="DIR", help="learners' progress and edits, DIR/NAME/")
    p.add_argument("--max-sessions", type=int, default=20, metavar="N",
                   help="most tabs at once (default 20)")
    p.add_argument("--idle", default="30", metavar="MINUTES",
                   help="close a session after this many minutes without input (default 30)")

    p = subs.add_parser("passwd", parents=[common], help="set a learner's password for serve")
    p.add_argument("name")
    p.add_argument("--users", metavar="FILE", required=True)

    p = subs.add_parser("class", parents=[common], help="teacher's view of the learners' state")
    p.add_argument("--state", metavar="DIR", required=True)
    p.add_argument("--json", action="store_true", help="print a JSON array")
    app.epilog = _commands_epilog(subs)
    return app, sub_parser


def _commands_epilog(subs) -> str:
    """`tutor --help` lists every subcommand with its one line (from the subparsers,
    so a new subcommand is listed without another edit)."""
    helps = {action.dest: action.help for action in subs._choices_actions}
    width = max(len(name) for name in helps)
    lines = [f"  tutor {name.ljust(width)}  {helps[name]}" for name in helps]
    return "commands:\n" + "\n".join(lines) + "\n\n`tutor COMMAND --help` shows a command's options."


_VALUED_GLOBALS = ("--lessons", "--lang", "--kernel-memory")


def _first_positional(argv: list[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED_GLOBALS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def parse(argv: list[str]) -> argparse.Namespace:
    app, sub_parser = build_parser()
    if _first_positional(argv) in SUBCOMMANDS:
        args = sub_parser.parse_args(argv)
    else:
        args = app.parse_args(argv)
        args.command = "app"
    if getattr(args, "lang", None) is None:
        args.lang = default_lang()
    if getattr(args, "lessons", None) is None:
        args.lessons = None
    if getattr(args, "kernel_memory", None) is None:
        args.kernel_memory = None
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse(argv)
        module = import_module(SUBCOMMANDS.get(args.command, "tutor.commands.app"))
        return int(module.main(args) or 0)
    except UsageError as exc:
        print(f"tutor: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `tutor run ... | head`: the reader left; stop quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
