"""tutor: watch PyTorch training happen, one step at a time, in a terminal."""

__version__ = "0.1.0"
