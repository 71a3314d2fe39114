"""The prediction graph run in a plain loop instead of through dask.

What: `rasa.core.processor.DaskGraphRunner` (the runner the processor loads
the model with) is replaced by `bot.graph_runner.SequentialGraphRunner`,
which calls the same graph nodes in an order computed once per target set.
Why: Rasa re-derived the sub-graph and ran dask's scheduler for every parse
and prediction: 6% of a worker (docs/benchmarks.md change 10).
Gain: dask gone from the profile; part of change 9-11's 104.7 -> 158.8 msg/s.
"""

from __future__ import annotations

from bot.patches.guard import Target

TARGETS = (
    Target("rasa.core.processor:DaskGraphRunner"),
    Target("rasa.engine.runner.dask:DaskGraphRunner.run", ("self", "inputs", "targets")),
    Target(
        "rasa.engine.runner.dask:DaskGraphRunner.__init__",
        ("self", "graph_schema", "model_storage", "execution_context", "hooks"),
    ),
)


def apply() -> None:
    import rasa.core.processor

    from bot.graph_runner import SequentialGraphRunner

    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner
