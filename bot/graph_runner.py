"""Run the prediction graph in a plain loop instead of through dask.

Rasa runs every parse and every policy prediction as a dask graph: per call it
re-derives the sub-graph for the targets, builds a dask task dict and lets
dask's scheduler walk it. The graph is fixed once the model is loaded, and
its nodes are cheap (a parse is ~1 ms of work), so the scheduling was about a
fifth of a parse (py-spy, docs/benchmarks.md). This runner computes each
target set's execution order once and then calls the same `GraphNode`s in that
order, with the same inputs and outputs as dask would pass.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner


class SequentialGraphRunner(DaskGraphRunner):
    """A `DaskGraphRunner` whose `run` needs no dask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: Dict[Tuple[Text, ...], List[Text]] = {}

    def _order(self, targets: Tuple[Text, ...]) -> List[Text]:
        """Nodes needed for `targets`, each after everything it needs (cached)."""
        if targets not in self._orders:
            nodes = self._graph_schema.nodes
            order: List[Text] = []

            def visit(name: Text) -> None:
                if name in order or name not in nodes:  # not a node: a run input
                    return
                for needed in nodes[name].needs.values():
                    visit(needed)
                order.append(name)

            for target in targets:
                visit(target)
            self._orders[targets] = order
        return self._orders[targets]

    def run(
        self, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None
    ) -> Dict[Text, Any]:
        """Runs the graph (see `GraphRunner.run`)."""
        run_targets = targets if targets else self._graph_schema.target_names
        # Like dask: a node's output is the pair (node name, value), inputs too,
        # and an input replaces a node of the same name.
        outputs: Dict[Text, Any] = {name: (name, value) for name, value in (inputs or {}).items()}
        try:
            for name in self._order(tuple(run_targets)):
                if name not in outputs:
                    needs = self._graph_schema.nodes[name].needs.values()
                    outputs[name] = self._instantiated_nodes[name](*(outputs[n] for n in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)
