"""Benchmarks: measured, printed, never a pass/fail gate. ``python -m bench [name]``."""
