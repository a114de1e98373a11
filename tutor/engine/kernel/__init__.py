"""Lesson code in its own process: the kernel (design §6, docs/architecture.md).

- `zygote.py`: a fresh interpreter that imports torch once and forks kernels.
- `kernel.py`: runs inside a kernel (and its checkpoints): a `Runner` driven by
  commands from the app, its `RunState`s sent back.
- `host.py`: the app's `KernelHost` (zygote, listener, lifeline); started before
  Textual is imported, so it imports only the standard library and protocol.py.
- `client.py`: the app's side of one lesson: `KernelClient`, a drop-in for the
  Runner. Imports no torch.
- `protocol.py`: the forwarded commands (one list), message shapes, limits.

Nothing here imports textual or rich.
"""
