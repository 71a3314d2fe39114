"""A candidate model scored against the model in service, on the same held-out sets.

Both models parse every held-out example (`tools/evaluate.py` scores them the
way citizens get answers: the union of all extractors). The report holds intent
accuracy, macro-F1 and entity F1 before and after, the per-intent F1 changes,
and the examples whose intent flipped (fixed or broken). A candidate whose
accuracy, macro-F1 or entity F1 drops by more than `max_drop()` (default 1
point, `CITYLINK_ACTIVATION_MAX_DROP`) is blocked from activation unless an
admin overrides it with a written reason. Charts are computed here as plain
geometry and drawn as SVG by the template: no script, no CDN.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

from common.privacy import mask_text
from console.training import paths

METRICS = (("intent_accuracy", "意图准确率"), ("intent_macro_f1", "意图宏平均 F1"), ("entity_f1", "实体 F1"))
MAX_FLIPPED = 200


def max_drop() -> float:
    return float(os.environ.get("CITYLINK_ACTIVATION_MAX_DROP", "0.01"))


def heldout_cases(sets: Sequence[Path]) -> List[Any]:
    from tools.evaluate import load_cases

    return [case for path in sets for case in load_cases(path)]


def predictions(model: Path, cases: Sequence[Any]) -> List[Dict[str, Any]]:
    """The model's parses of the cases, kept beside the candidates: the model in service is
    usually scored on the same held-out sets again and again."""
    from tools.evaluate import predict

    real = model.resolve()
    digest = hashlib.sha256(json.dumps([str(real), real.stat().st_mtime, [c.text for c in cases]],
                                       ensure_ascii=False).encode()).hexdigest()[:20]
    cache = paths.candidates_dir() / f".parses-{digest}.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    found = predict(model, list(cases))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
    return found


def evaluate(baseline: Path, candidate: Path, sets: Sequence[Path]) -> Dict[str, Any]:
    """Parse the held-out sets with both models and compare."""
    from tools.evaluate import score

    cases = heldout_cases(sets)
    before, after = predictions(baseline, cases), predictions(candidate, cases)
    return report(cases, score("before", cases, before), score("after", cases, after), before, after,
                  baseline, candidate, sets)


def _intent(parsed: Dict[str, Any]) -> str:
    return (parsed.get("intent") or {}).get("name") or "none"


def report(cases: Sequence[Any], old: Any, new: Any, before: Sequence[Dict[str, Any]],
           after: Sequence[Dict[str, Any]], baseline: Path, candidate: Path,
           sets: Sequence[Path]) -> Dict[str, Any]:
    metrics = {name: [getattr(old, name), getattr(new, name)] for name, _ in METRICS}
    per_intent = []
    for intent in sorted(set(old.per_intent) | set(new.per_intent)):
        b = old.per_intent.get(intent, {}).get("f1", 0.0)
        a = new.per_intent.get(intent, {}).get("f1", 0.0)
        per_intent.append({"intent": intent, "before": b, "after": a,
                           "support": new.per_intent.get(intent, {}).get("support", 0)})
    flipped = []
    for case, b, a in zip(cases, before, after):
        gold = case.intent.split("/")[0]
        if _intent(b) != _intent(a) and gold in (_intent(b), _intent(a)):
            flipped.append({"text": mask_text(case.text), "intent": case.intent, "before": _intent(b),
                            "after": _intent(a), "fixed": _intent(a) == gold})
    drop = max(before_ - after_ for before_, after_ in metrics.values())
    return {"baseline": str(baseline), "candidate": str(candidate), "examples": len(cases),
            "sets": [str(s) for s in sets], "metrics": metrics, "drop": drop,
            "worse": drop > max_drop(), "max_drop": max_drop(),
            "per_intent": sorted(per_intent, key=lambda r: -abs(r["after"] - r["before"])),
            "flipped": sorted(flipped, key=lambda f: (f["fixed"], f["intent"]))[:MAX_FLIPPED],
            "fixed": sum(f["fixed"] for f in flipped), "broken": sum(not f["fixed"] for f in flipped)}


def metric_bars(rep: Dict[str, Any], width: int = 560) -> Dict[str, Any]:
    """Before/after bars per metric, 0-100%, with labels."""
    rows, y = [], 8
    for name, label in METRICS:
        b, a = rep["metrics"][name]
        rows.append({"label": label, "y": y, "before": b, "after": a,
                     "wb": round(b * (width - 200), 1), "wa": round(a * (width - 200), 1),
                     "worse": a + rep["max_drop"] < b})
        y += 56
    return {"width": width, "height": y, "rows": rows}


def intent_bars(rep: Dict[str, Any], width: int = 560, limit: int = 20) -> Dict[str, Any]:
    """Per-intent F1 change, centred bars (right: better, left: worse), changed intents only."""
    changed = [r for r in rep["per_intent"] if abs(r["after"] - r["before"]) >= 0.0005][:limit]
    mid, scale, rows = width // 2 + 60, (width // 2 - 80), []
    for i, r in enumerate(changed):
        delta = r["after"] - r["before"]
        w = round(min(abs(delta), 1.0) * scale * 4, 1) if abs(delta) < 0.25 else scale
        rows.append({"intent": r["intent"], "y": 6 + i * 22, "delta": delta, "w": max(w, 1.0),
                     "x": mid if delta >= 0 else mid - max(w, 1.0)})
    return {"width": width, "height": 12 + 22 * len(rows), "mid": mid, "rows": rows}
