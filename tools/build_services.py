"""Generate the domain's `forms:` section and data/rules/services.yml from the
service manifest (common/services.yml), as build_nlu_resources generates the
jieba dictionary from the gazetteer.

Both outputs are committed (Rasa's own tools and a reader of the domain see
whole files) and rewritten only when their text changes, so `make train`
retrains only when the manifest did. `--check` fails when either is stale
(tests/test_services.py runs it).

    python -m tools.build_services          # write
    python -m tools.build_services --check  # exit 1 if a file is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List

from common import services

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ROOT / "domain.yml"
RULES = ROOT / "data" / "rules" / "services.yml"
GENERATED = "# Generated from common/services.yml by tools/build_services.py: edit the manifest."
# The domain's forms section: from `forms:` up to the next top-level key.
FORMS_SECTION = re.compile(r"^forms:\n(?:(?:[ #].*)?\n)*?(?=^\S)", re.MULTILINE)


def forms_section(manifest: services.Manifest) -> str:
    lines = ["forms:", f"  {GENERATED}"]
    for s in manifest.services:
        lines += [f"  {s.form}:", f"    required_slots: [{', '.join(s.slots)}]"]
    return "\n".join(lines) + "\n\n"


def rules(manifest: services.Manifest) -> str:
    lines = [
        'version: "3.1"',
        "",
        GENERATED,
        "# Each service: its intent starts its form; when the form is done (all",
        "# slots valid, or the citizen stopped), the service action answers. Stop,",
        "# handoff, side questions and repeated invalid input are handled inside the",
        "# forms (actions/forms.py), so they need no rules here.",
        "rules:",
    ]
    for s in manifest.services:
        lines += [
            f"  - rule: {s.intent} starts {s.form}",
            "    steps:",
            f"      - intent: {s.intent}",
            f"      - action: {s.form}",
            f"      - active_loop: {s.form}",
            f"  - rule: {s.form} done, {s.submit} answers",
            "    condition:",
            f"      - active_loop: {s.form}",
            "    steps:",
            f"      - action: {s.form}",
            "      - active_loop: null",
            "      - slot_was_set:",
            "          - requested_slot: null",
            f"      - action: {s.submit}",
            "      - action: action_listen",
        ]
    return "\n".join(lines) + "\n"


def outputs(manifest: services.Manifest) -> Dict[Path, str]:
    """Each generated file and the text it must have."""
    domain = DOMAIN.read_text(encoding="utf-8")
    if not FORMS_SECTION.search(domain):
        raise SystemExit("domain.yml 里没有 forms: 部分")
    return {
        DOMAIN: FORMS_SECTION.sub(lambda _: forms_section(manifest), domain, count=1),
        RULES: rules(manifest),
    }


def stale(manifest: services.Manifest) -> List[Path]:
    return [
        path
        for path, text in outputs(manifest).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    manifest = services.load()
    if args.check:
        old = stale(manifest)
        if old:
            sys.exit("过期（请运行 python -m tools.build_services）：" + ", ".join(map(str, old)))
        return
    for path, text in outputs(manifest).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"已生成 {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
