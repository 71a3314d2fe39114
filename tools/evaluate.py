"""Score a trained model on the held-out NLU test set (make eval).

Rasa's own `rasa test nlu` scores each extractor separately; citizens get the
union of all extractors, so this scores what the bot actually outputs:
intent accuracy and macro-F1, faq topic accuracy, and per-entity
precision/recall on (entity, value) pairs with canonical values. With
`--stock` it also trains Rasa's stock Chinese pipeline on the same data and
scores it the same way, for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
STOCK_CONFIG = ROOT / "configs" / "stock.yml"
RESULTS = ROOT / "results"


@dataclass
class Case:
    text: str
    intent: str  # "faq/passport" for retrieval intents
    entities: List[Tuple[str, str]]
    group: str = ""  # the file it came from: a failure kind or an out-of-scope domain


@dataclass
class Scores:
    model: str
    examples: int
    intent_accuracy: float
    intent_macro_f1: float
    faq_topic_accuracy: float
    entity_precision: float
    entity_recall: float
    entity_f1: float
    per_intent: Dict[str, Dict[str, float]] = field(default_factory=dict)
    per_entity: Dict[str, Dict[str, float]] = field(default_factory=dict)
    errors: List[Dict[str, object]] = field(default_factory=list)
    scope: Optional[ScopeScores] = None
    calibration: List[Dict[str, float]] = field(default_factory=list)


def load_cases(path: Path = HELDOUT) -> List[Case]:
    """The cases of one file, or of every .yml file under a directory (grouped by file)."""
    from rasa.shared.nlu.training_data.loading import load_data

    files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
    return [
        Case(
            text=ex.get("text"),
            intent=ex.get_full_intent(),
            entities=[(e["entity"], str(e["value"])) for e in ex.get("entities") or []],
            group=str(file.relative_to(path).with_suffix("")) if path.is_dir() else file.stem,
        )
        for file in files
        for ex in load_data(str(file)).training_examples
    ]


REJECTED = {"out_of_scope", "nlu_fallback"}  # the bot declines or offers choices


@dataclass
class ScopeScores:
    """In-scope accuracy and out-of-scope rejection apart: one number hides the other."""

    in_scope: int
    in_scope_accuracy: float
    out_of_scope: int
    out_of_scope_rejection: float
    per_group: Dict[str, Dict[str, float]] = field(default_factory=dict)


def scope_right(gold_intent: str, predicted: str) -> bool:
    """An out-of-scope message is right when the bot declines it (out_of_scope or the
    fallback); any other message when its intent (without the faq topic) is right."""
    gold = gold_intent.split("/")[0]
    return predicted in REJECTED if gold == "out_of_scope" else predicted == gold


def scope_scores(cases: List[Case], predictions: List[dict]) -> ScopeScores:
    """An out-of-scope message counts as rejected when it lands in out_of_scope or
    below the fallback threshold; an in-scope one only when its intent is right."""
    groups: Dict[str, Counter] = defaultdict(Counter)
    for case, parsed in zip(cases, predictions):
        predicted = (parsed.get("intent") or {}).get("name") or "none"
        kind = "oos" if case.intent.split("/")[0] == "out_of_scope" else "in"
        right = scope_right(case.intent, predicted)
        for name in (case.group, f"_{kind}"):
            groups[name]["n"] += 1
            groups[name]["right"] += right
    ins, oos = groups.pop("_in", Counter()), groups.pop("_oos", Counter())
    return ScopeScores(
        in_scope=ins["n"],
        in_scope_accuracy=ins["right"] / ins["n"] if ins["n"] else 0.0,
        out_of_scope=oos["n"],
        out_of_scope_rejection=oos["right"] / oos["n"] if oos["n"] else 0.0,
        per_group={g: {"n": c["n"], "right": c["right"] / c["n"]} for g, c in sorted(groups.items())},
    )


def calibration(predictions: List[dict], cases: List[Case],
                edges: Tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.9, 1.01)) -> List[Dict[str, float]]:
    """Accuracy of the classifier's top intent by confidence band (before the fallback):
    below the fallback threshold it should be mostly wrong, above it mostly right."""
    bands: List[Dict[str, float]] = []
    for low, high in zip(edges, edges[1:]):
        inside = [(c, p) for c, p in zip(cases, predictions)
                  if low <= _top(p)[1] < high]
        right = sum(_top(p)[0] == c.intent.split("/")[0] for c, p in inside)
        bands.append({"from": low, "to": min(high, 1.0), "n": len(inside),
                      "accuracy": right / len(inside) if inside else 0.0})
    return bands


def _top(parsed: dict) -> Tuple[str, float]:
    """The classifier's own top intent, under the fallback's nlu_fallback if any."""
    ranking = [r for r in parsed.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    return (ranking[0]["name"], ranking[0]["confidence"]) if ranking else ("none", 0.0)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score(name: str, cases: List[Case], predictions: List[dict]) -> Scores:
    """Compare parse results with the annotated cases."""
    confusion: Dict[str, Counter] = defaultdict(Counter)  # gold -> predicted
    faq_total = faq_right = 0
    entity_counts: Dict[str, Counter] = defaultdict(Counter)  # tp, fp, fn
    errors: List[Dict[str, object]] = []
    for case, parsed in zip(cases, predictions):
        gold_intent = case.intent.split("/")[0]
        predicted = (parsed.get("intent") or {}).get("name") or "none"
        confusion[gold_intent][predicted] += 1
        if gold_intent == "faq":
            faq_total += 1
            selectors = parsed.get("response_selector") or {}
            # Rasa's selector without `retrieval_intent` answers under "default".
            topic = (selectors.get("faq") or selectors.get("default") or {}).get("response", {})
            faq_right += predicted == "faq" and topic.get("intent_response_key") == case.intent
        gold = Counter(case.entities)
        got = Counter((e["entity"], str(e["value"])) for e in parsed.get("entities", []))
        for (entity, _), n in (gold & got).items():
            entity_counts[entity]["tp"] += n
        for (entity, _), n in (got - gold).items():
            entity_counts[entity]["fp"] += n
        for (entity, _), n in (gold - got).items():
            entity_counts[entity]["fn"] += n
        if predicted != gold_intent or gold != got:
            errors.append({"text": case.text, "intent": case.intent, "predicted": predicted,
                           "confidence": _top(parsed)[1], "group": case.group,
                           "missing": sorted(gold - got), "extra": sorted(got - gold)})
    labels = sorted(set(confusion) | {p for c in confusion.values() for p in c})
    per_intent = {}
    for label in labels:
        tp = confusion[label][label]
        fp = sum(confusion[g][label] for g in confusion if g != label)
        fn = sum(confusion[label].values()) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        if label in confusion:
            per_intent[label] = {"precision": p, "recall": r, "f1": _f1(p, r), "support": tp + fn}
    per_entity = {}
    for entity, c in sorted(entity_counts.items()):
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        per_entity[entity] = {"precision": p, "recall": r, "f1": _f1(p, r),
                              "support": c["tp"] + c["fn"]}
    tp = sum(c["tp"] for c in entity_counts.values())
    fp = sum(c["fp"] for c in entity_counts.values())
    fn = sum(c["fn"] for c in entity_counts.values())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    correct = sum(confusion[g][g] for g in confusion)
    return Scores(
        model=name,
        examples=len(cases),
        intent_accuracy=correct / len(cases),
        intent_macro_f1=sum(v["f1"] for v in per_intent.values()) / len(per_intent),
        faq_topic_accuracy=faq_right / faq_total if faq_total else 0.0,
        entity_precision=precision,
        entity_recall=recall,
        entity_f1=_f1(precision, recall),
        per_intent=per_intent,
        per_entity=per_entity,
        errors=errors,
        scope=scope_scores(cases, predictions),
        calibration=calibration(predictions, cases),
    )


async def _parse_all(model: Path, texts: List[str]) -> List[dict]:
    from rasa.core.agent import Agent

    quiet_logs()
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def quiet_logs() -> None:
    """Warnings and errors only: a parse loop would otherwise log every message."""
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    structlog_quiet(logging.WARNING)


def structlog_quiet(level: int) -> None:
    """Rasa 3.6 logs every parse at debug level through structlog."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))


def evaluate_model(model: Path, cases: List[Case]) -> Scores:
    return score(model.stem.replace(".tar", ""), cases, predict(model, cases))


def predict(model: Path, cases: List[Case]) -> List[dict]:
    return asyncio.run(_parse_all(model, [c.text for c in cases]))


STOCK_MODEL = ROOT / "models" / "stock.tar.gz"
STOCK_TRAINING = RESULTS / "stock_training.json"


def train_stock(out: Path = STOCK_MODEL) -> float:
    """Train the stock pipeline on the same data; record and return the seconds taken.

    `--force` skips Rasa's training cache: the time recorded is always a full
    training, never a restore of components trained earlier.
    """
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "train", "--config", str(STOCK_CONFIG),
         "--fixed-model-name", out.name.replace(".tar.gz", ""), "--out", str(out.parent),
         "--force"],
        cwd=ROOT, check=True,
    )
    seconds = time.monotonic() - started
    RESULTS.mkdir(exist_ok=True)
    STOCK_TRAINING.write_text(json.dumps({"train_seconds": seconds}), encoding="utf-8")
    return seconds


def recorded_stock_training() -> object:
    """Seconds the last `--train-stock` took, if it was recorded here."""
    if STOCK_TRAINING.exists():
        return json.loads(STOCK_TRAINING.read_text(encoding="utf-8"))["train_seconds"]
    return None


def write_report(scores: Scores, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scores.json").write_text(
        json.dumps(asdict(scores), ensure_ascii=False, indent=2), encoding="utf-8"
    )


def summary_line(s: Scores) -> str:
    return (f"{s.model:<10} intent acc {s.intent_accuracy:6.2%}  macro-F1 {s.intent_macro_f1:6.2%}"
            f"  faq topic {s.faq_topic_accuracy:6.2%}  entity P {s.entity_precision:6.2%}"
            f" R {s.entity_recall:6.2%} F1 {s.entity_f1:6.2%}")


def scope_line(s: Scores) -> str:
    scope = s.scope
    if scope is None:
        return ""
    return (f"{s.model:<10} in scope {scope.in_scope_accuracy:6.2%} of {scope.in_scope}"
            f"  out of scope rejected {scope.out_of_scope_rejection:6.2%} of {scope.out_of_scope}")


def print_details(s: Scores) -> None:
    if s.scope and len(s.scope.per_group) > 1:
        print(f"\n[{s.model}] per group (right / n):")
        for group, v in s.scope.per_group.items():
            print(f"  {group:<40} {v['right']:6.2%} {v['n']:5.0f}")
    print(f"[{s.model}] accuracy by confidence: " + ", ".join(
        f"[{b['from']:.1f}, {b['to']:.1f}) {b['accuracy']:.0%} of {b['n']}" for b in s.calibration))
    print(f"\n[{s.model}] per entity (precision / recall / support):")
    for entity, v in s.per_entity.items():
        print(f"  {entity:<16} {v['precision']:6.2%} {v['recall']:6.2%} {v['support']:4d}")
    weakest = sorted(s.per_intent.items(), key=lambda kv: kv[1]["f1"])[:6]
    print(f"[{s.model}] weakest intents (F1): "
          + ", ".join(f"{k} {v['f1']:.2f}" for k, v in weakest))


def intent_errors(s: Scores) -> List[Dict[str, object]]:
    """The wrong intents as the scope scores count them (an out-of-scope message the
    bot declines is right), by group: to read the kinds of mistakes, not only their number."""
    wrong = [e for e in s.errors if not scope_right(str(e["intent"]), str(e["predicted"]))]
    return sorted(wrong, key=lambda e: (str(e["group"]), str(e["intent"]), str(e["predicted"])))


def print_errors(s: Scores) -> None:
    print(f"\n[{s.model}] intent errors (group, gold -> predicted, confidence, text):")
    for e in intent_errors(s):
        print(f"  {e['group']:<22} {e['intent']:<20} -> {e['predicted']:<20}"
              f" {float(e['confidence']):.2f}  {e['text']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "citylink.tar.gz")
    parser.add_argument("--stock", action="store_true",
                        help="also score the stock pipeline (models/stock.tar.gz, make trains it)")
    parser.add_argument("--train-stock", action="store_true", help="only train the stock pipeline")
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument("--errors", action="store_true",
                        help="also list every message whose intent is wrong, by group")
    args = parser.parse_args()
    if args.train_stock:
        print(f"stock pipeline trained in {train_stock():.0f} s")
        return
    cases = load_cases(args.heldout)
    ours = evaluate_model(args.model, cases)
    write_report(ours, RESULTS / "citylink")
    rows = [ours]
    comparison: Dict[str, object] = {"citylink": {"model_mb": args.model.stat().st_size / 2**20}}
    if args.stock:
        stock = evaluate_model(STOCK_MODEL, cases)
        write_report(stock, RESULTS / "stock")
        rows.append(stock)
        comparison["stock"] = {"train_seconds": recorded_stock_training(),
                               "model_mb": STOCK_MODEL.stat().st_size / 2**20}
    for s in rows:
        comparison.setdefault(s.model, {}).update(
            {k: getattr(s, k) for k in ("intent_accuracy", "intent_macro_f1", "faq_topic_accuracy",
                                        "entity_precision", "entity_recall", "entity_f1")})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "comparison.json").write_text(json.dumps(comparison, indent=2), encoding="utf-8")
    print(f"\nHeld-out set: {os.path.relpath(args.heldout.resolve(), ROOT)} ({len(cases)} examples)")
    for s in rows:
        print(summary_line(s))
        print(scope_line(s))
    for s in rows:
        print_details(s)
        if args.errors:
            print_errors(s)
    print(f"\nReports: {RESULTS}/<model>/scores.json, {RESULTS}/comparison.json")


if __name__ == "__main__":
    main()
