"""Generate the NLU resources that derive from the gazetteer.

Writes the jieba user dictionary (var/jieba/userdict.txt) and the lookup
tables Rasa's RegexFeaturizer uses (data/nlu/generated/lookups.yml). Both
are build outputs (git-ignored); `make train` regenerates them, so a name
added to the gazetteer reaches tokenisation, features and the simulated
backends at once.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List

import yaml

from common import gazetteer
from common.normalizer import normalise_surface

ROOT = Path(__file__).resolve().parents[1]
LOOKUP_KINDS = ("city", "road", "bus_stop", "place", "hospital", "department", "symptom")
# Frequency high enough that jieba keeps each name as one token.
JIEBA_FREQUENCY = 3000


def dictionary_words(gaz: gazetteer.Gazetteer) -> List[str]:
    words = set()
    for kind in LOOKUP_KINDS + ("utility_type", "time_period", "district"):
        words.update(normalise_surface(s) for s in gaz.canonical_names(kind))
    for city in gaz.cities.values():
        words.update(normalise_surface(line.name) for line in city.bus_lines)
        words.update(normalise_surface(c) for c in city.utility_companies.values())
    return sorted(w for w in words if len(w) >= 2)


def lookup_tables(gaz: gazetteer.Gazetteer) -> Dict[str, list]:
    tables = []
    for kind in LOOKUP_KINDS:
        names = sorted({normalise_surface(s) for s in gaz.canonical_names(kind) if len(s) >= 2})
        tables.append({"lookup": kind, "examples": "".join(f"- {n}\n" for n in names)})
    return {"version": "3.1", "nlu": tables}


def write(root: Path = ROOT) -> None:
    gaz = gazetteer.load()
    jieba_dir = root / "var" / "jieba"
    jieba_dir.mkdir(parents=True, exist_ok=True)
    (jieba_dir / "userdict.txt").write_text(
        "".join(f"{w} {JIEBA_FREQUENCY} n\n" for w in dictionary_words(gaz)), encoding="utf-8"
    )
    generated = root / "data" / "nlu" / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    (generated / "lookups.yml").write_text(
        "# Generated from common/gazetteer by tools/build_nlu_resources.py. Do not edit.\n"
        + yaml.safe_dump(lookup_tables(gaz), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT)
    write(parser.parse_args().root)
