"""One module per subcommand, each exposing `main(args) -> int` (see tutor.cli).

Modules are imported only when their subcommand runs, so `tutor list` and
`tutor check` never import torch or Textual.
"""
