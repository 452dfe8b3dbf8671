"""Benchmarks (not tests): each measures the running system and writes bench/results/.

Run them with ``python -m bench`` (all) or ``python -m bench NAME [options]``; see
docs/benchmarks.md for the figures and how they were taken.
"""
