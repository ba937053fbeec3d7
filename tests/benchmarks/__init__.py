"""Benchmarks for the quality bars listed in docs/benchmarks.md.

Run with ``.venv/bin/python -m tests.benchmarks`` (``--quick`` for a short smoke run). Nothing in
here is collected by pytest: no file is named ``test_*.py``, and timings are never asserted.
"""
