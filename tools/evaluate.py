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
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
STOCK_CONFIG = ROOT / "configs" / "stock.yml"
RESULTS = ROOT / "results"


@dataclass
class Case:
    text: str
    intent: str  # "faq/passport" for retrieval intents
    entities: List[Tuple[str, str]]


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


def load_cases(path: Path = HELDOUT) -> List[Case]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [
        Case(
            text=ex.get("text"),
            intent=ex.get_full_intent(),
            entities=[(e["entity"], str(e["value"])) for e in ex.get("entities") or []],
        )
        for ex in data.training_examples
    ]


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
    predictions = asyncio.run(_parse_all(model, [c.text for c in cases]))
    return score(model.stem.replace(".tar", ""), cases, predictions)


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


def print_details(s: Scores) -> None:
    print(f"\n[{s.model}] per entity (precision / recall / support):")
    for entity, v in s.per_entity.items():
        print(f"  {entity:<16} {v['precision']:6.2%} {v['recall']:6.2%} {v['support']:4d}")
    weakest = sorted(s.per_intent.items(), key=lambda kv: kv[1]["f1"])[:6]
    print(f"[{s.model}] weakest intents (F1): "
          + ", ".join(f"{k} {v['f1']:.2f}" for k, v in weakest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "citylink.tar.gz")
    parser.add_argument("--stock", action="store_true",
                        help="also score the stock pipeline (models/stock.tar.gz, make trains it)")
    parser.add_argument("--train-stock", action="store_true", help="only train the stock pipeline")
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
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
    for s in rows:
        print_details(s)
    print(f"\nReports: {RESULTS}/<model>/scores.json, {RESULTS}/comparison.json")


if __name__ == "__main__":
    main()
