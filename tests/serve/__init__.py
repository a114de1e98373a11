"""Tests of `tutor serve`, `tutor passwd` and `tutor class`."""
