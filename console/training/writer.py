"""Labelled examples into the repository's own YAML, as a trainer would write them by hand.

A training example goes at the end of its intent's block in `data/nlu/<domain>.yml`
(the file that holds most of that intent's examples; a new intent gets its block in
`data/nlu/trainer.yml`); a held-out example at the end of its intent's block in
`tests/nlu/heldout.yml`. Files are edited as text, so comments, order and the
block style (`examples: |`) stay exactly as they were; a text already present
(after normalisation) is not written twice. Where the training root is a git
checkout, each batch is one commit authored by the trainer.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from common.normalizer import normalise

HEADER = 'version: "3.1"\n\n# Examples labelled by trainers in the console (docs/training.md).\n\nnlu:\n'
MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    entity: str
    value: str = ""


def plain(text: str) -> str:
    """The text of an annotated example, markup removed."""
    return MARKUP.sub(r"\1", text)


def key(text: str) -> str:
    """What makes two messages the same example: normalised text without spaces or punctuation."""
    folded = normalise(plain(text)).text
    return "".join(ch for ch in folded if ch.isalnum() or ch == "*")[:255]


def markup(text: str, entities: Sequence[Entity]) -> str:
    """Rasa's inline markup: `[text](entity)`, or with `{"entity", "value"}` when the value differs."""
    out, position = [], 0
    for e in sorted(entities, key=lambda e: e.start):
        if e.start < position or not 0 <= e.start < e.end <= len(text):
            raise ValueError("实体范围重叠或超出消息")
        span = text[e.start:e.end]
        out.append(text[position:e.start])
        if e.value and e.value != span:
            out.append(f'[{span}]{{"entity": "{e.entity}", "value": "{e.value}"}}')
        else:
            out.append(f"[{span}]({e.entity})")
        position = e.end
    out.append(text[position:])
    return " ".join("".join(out).split())  # one line: a block literal holds one example per line


def _blocks(lines: List[str]) -> Dict[str, Tuple[int, int]]:
    """intent -> (index of its `- intent:` line, index after its last example line)."""
    found: Dict[str, Tuple[int, int]] = {}
    for i, line in enumerate(lines):
        match = re.match(r"^- intent: *(\S+) *$", line)
        if not match:
            continue
        end = i + 1
        for j in range(i + 1, len(lines)):
            if lines[j].startswith("    - "):
                end = j + 1
            elif lines[j].strip() and not lines[j].startswith("  "):
                break
        found[match.group(1)] = (i, end)
    return found


def existing_keys(files: Iterable[Path]) -> set:
    keys = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("    - "):
                keys.add(key(line[6:]))
    return keys


def nlu_files(root: Path) -> List[Path]:
    return sorted(p for p in (root / "data" / "nlu").glob("*.yml"))


def _add(path: Path, intent: str, texts: List[str]) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER, encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    new = [f"    - {t}" for t in texts]
    block = _blocks(lines).get(intent)
    if block is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += [f"- intent: {intent}", "  examples: |", *new]
    else:
        lines[block[1]:block[1]] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write(root: Path, examples: Sequence[Tuple[str, str]], heldout: bool) -> List[Path]:
    """Write (intent, annotated text) pairs; returns the files changed."""
    files = nlu_files(root)
    target_of: Dict[str, Path] = {}
    if heldout:
        default = root / "tests" / "nlu" / "heldout.yml"
    else:
        default = root / "data" / "nlu" / "trainer.yml"
        most: Dict[str, int] = {}
        for path in files:  # an intent's home: the file holding most of its examples
            lines = path.read_text(encoding="utf-8").splitlines()
            for intent, (start, end) in _blocks(lines).items():
                count = sum(line.startswith("    - ") for line in lines[start:end])
                if count > most.get(intent, -1):
                    most[intent], target_of[intent] = count, path
    known = existing_keys(files + ([default] if default.exists() else []))
    grouped: Dict[Tuple[Path, str], List[str]] = {}
    for intent, text in sorted(examples):
        if key(text) in known:
            continue
        known.add(key(text))
        grouped.setdefault((target_of.get(intent, default), intent), []).append(text)
    for (path, intent), texts in grouped.items():
        _add(path, intent, texts)
    return sorted({path for path, _ in grouped})


def is_checkout(root: Path) -> bool:
    return (root / ".git").exists()


def commit(root: Path, files: Sequence[Path], author: str, message: str) -> Optional[str]:
    """One commit of `files` authored by the trainer; None when the root is not a git checkout."""
    if not files or not is_checkout(root):
        return None
    email = f"{author}@citylink.local"
    git = ["git", "-C", str(root), "-c", f"user.name={author}", "-c", f"user.email={email}"]
    subprocess.run([*git, "add", "--", *map(str, files)], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-q", "--author", f"{author} <{email}>", "-m", message],
                   check=True, capture_output=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
