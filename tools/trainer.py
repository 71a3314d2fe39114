"""The trainers' command line: every console step, for trainers who prefer their editor and git, and CI.

    python -m tools.trainer inbox-export [--out inbox.jsonl]
    python -m tools.trainer label-import labels.jsonl --user alice   # decide, write, one git commit
    python -m tools.trainer train --user alice                        # validate, train, score
    python -m tools.trainer evaluate --candidate models/candidates/x.tar.gz [--baseline ...]
    python -m tools.trainer activate <model id> --user alice [--admin --reason "..."]
    python -m tools.trainer rollback --user alice
    python -m tools.trainer history

It works on the same database (`TRACKER_URL`), training root, models and
active-model record as the console (`console/training/paths.py`).
A label line: {"key": "...", "action": "train|heldout|discard", "intent": "...",
"entities": [{"start": 0, "end": 2, "entity": "city", "value": "深圳"}]}.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List

from console import db
from console.training import activation, compare, inbox, jobs, labels, paths, writer


def _engine() -> Any:
    return db.init(db.tracker_url())


def _print_report(report: dict) -> None:
    for name, label in compare.METRICS:
        before, after = report["metrics"][name]
        print(f"{label:<12} {before:7.2%} -> {after:7.2%}")
    print(f"翻转：修好 {report['fixed']} 条，改坏 {report['broken']} 条；"
          f"{'比在用模型差，超过阈值' if report['worse'] else '可以启用'}")


def inbox_export(args: argparse.Namespace) -> None:
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    for g in inbox.groups(_engine()):
        out.write(json.dumps({"key": g.key, "text": g.text, "count": g.count, "predicted": g.intent,
                              "confidence": round(g.confidence, 3), "reasons": g.reasons,
                              "entities": g.entities}, ensure_ascii=False) + "\n")


def label_import(args: argparse.Namespace) -> None:
    engine, root = _engine(), paths.training_root()
    current = {g.key: g for g in inbox.groups(engine, root)}
    decided = 0
    for number, line in enumerate(Path(args.file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        group = current.get(item.get("key", ""))
        if group is None:
            print(f"第 {number} 行：收件箱里没有 {item.get('key')}（已处理或已在训练数据里），跳过")
            continue
        entities = [writer.Entity(**e) for e in item.get("entities") or []]
        decided += labels.decide(engine, root, args.user, group, item.get("action", "train"),
                                 item.get("intent", ""), entities)
    files, sha, n = labels.write_batch(engine, root, args.user)
    print(f"{decided} 条已标注；写入 {n} 条到 {', '.join(str(f.relative_to(root)) for f in files) or '–'}"
          + (f"；提交 {sha[:10]}" if sha else ""))


def train(args: argparse.Namespace) -> None:
    engine = _engine()
    job_id = jobs.train_now(engine, args.user)
    if job_id is None:
        sys.exit("另一个训练任务正在进行（一次只训练一个），请稍后再试")
    row = jobs.job(engine, job_id)
    print(row.log.splitlines()[-1] if row and row.log else "")
    if row is None or row.state != "done":
        sys.exit(1)
    model = activation.model_row(engine, row.model_id)
    assert model is not None
    print(f"候选模型 {row.model_id}: {model.path}（训练 {model.train_seconds:.0f} 秒）")
    _print_report(json.loads(model.report))


def run_job(args: argparse.Namespace) -> None:
    jobs.run_job(_engine(), args.id)


def evaluate(args: argparse.Namespace) -> None:
    baseline = Path(args.baseline) if args.baseline else activation.serving()
    _print_report(compare.evaluate(baseline, Path(args.candidate), paths.heldout_sets()))


def activate(args: argparse.Namespace) -> None:
    print(f"已启用 {activation.activate(_engine(), args.user, args.admin, args.id, args.reason or '')}")


def rollback(args: argparse.Namespace) -> None:
    print(f"已回退到 {activation.rollback(_engine(), args.user)}")


def history(args: argparse.Namespace) -> None:
    print(f"在用：{activation.serving()}")
    for m in activation.history(_engine())["models"]:
        scores = json.loads(m.report)["metrics"]["intent_accuracy"] if m.report else ["?", "?"]
        print(f"{m.id:4d} {Path(m.path).name}  训练 {m.trained_by}  启用 {m.activated_by or '–'}  "
              f"准确率 {scores[0]:.2%} -> {scores[1]:.2%}")


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("inbox-export").add_argument("--out")
    p = sub.add_parser("label-import")
    p.add_argument("file")
    p.add_argument("--user", required=True)
    sub.add_parser("train").add_argument("--user", required=True)
    sub.add_parser("run-job").add_argument("id", type=int)
    p = sub.add_parser("evaluate")
    p.add_argument("--candidate", required=True)
    p.add_argument("--baseline")
    p = sub.add_parser("activate")
    p.add_argument("id", type=int)
    p.add_argument("--user", required=True)
    p.add_argument("--admin", action="store_true", help="an admin's override of a worse candidate")
    p.add_argument("--reason")
    sub.add_parser("rollback").add_argument("--user", required=True)
    sub.add_parser("history")
    args = parser.parse_args(argv)
    try:
        {"inbox-export": inbox_export, "label-import": label_import, "train": train, "run-job": run_job,
         "evaluate": evaluate, "activate": activate, "rollback": rollback, "history": history,
         }[args.command](args)
    except (labels.LabelError, activation.ActivationError) as refused:
        sys.exit(str(refused))


if __name__ == "__main__":
    main()
