"""Benchmarks: actorio against a bare asyncio-queue actor, measured in one run on one machine.

Run ``python -m benchmarks`` from the repository root (``--help`` for options). Absolute
numbers depend on the machine; the ratios to the bare baseline are what to compare over time.
"""
