"""Benchmarks: actorio against hand-written baselines and peer frameworks, in one run.

``python -m benchmarks`` (``--help`` for options; ``pip install -e '.[bench]'`` for the peers)
runs each workload on each system in a child process of its own, each system's children
next to the hand-written baselines' of the same loop in every repeat, and reports medians and
each row's ratio to the best baseline (the median of the per-repeat ratios), plus actorio's
targets. Absolute numbers depend on the machine; the ratios are what to compare over time.

Layout: ``__main__`` (the command), ``_harness`` (plan, children, medians, ratios), ``_child``
(one system in one process), ``systems/`` (one adapter per system), ``_users`` (the user
classes every system runs), ``workloads`` (what is measured) with ``_calls``, ``_bulk``,
``_memory`` and ``_startup`` (how), ``_targets``, ``_report`` (table and JSON) and ``_chart`` (PNG).
"""
