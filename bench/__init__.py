"""Benchmarks: programs that print figures measured on this machine (never timed tests)."""
