"""`rasa data validate`, failing on every warning but Rasa 3.6's false positives.

Rasa 3.6 reports a response as "not used in any story or rule" when a form
asks with it (utter_ask_<slot>) or an action sends it by name. Those are
checked here instead: the slot must be asked by a form, or the response name
must appear in the action code. It also reports a retrieval intent listed in
the domain (as its docs require) as "duplicated" once it syncs the NLU data.
Any other warning fails the build.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import List

import yaml

ROOT = Path(__file__).resolve().parents[1]
UNUSED = re.compile(r"The utterance '([^']+)' is not used in any story or rule")
WARNING = re.compile(r"UserWarning: (.*)")
DUPLICATED = re.compile(r"duplicated intents have been found across multiple domain files: (.*)")
RETRIEVAL_INTENTS = {"faq"}


def used_outside_stories(response: str) -> bool:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    asked = {s for form in domain.get("forms", {}).values() for s in form["required_slots"]}
    if response.startswith("utter_ask_") and response.removeprefix("utter_ask_") in asked:
        return True
    code = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "actions").rglob("*.py"))
    return f'"{response}"' in code or f'"{response}/' in code or f"{response}/{{" in code


def real_warnings(output: str) -> List[str]:
    found = []
    for line in output.splitlines():
        match = WARNING.search(line)
        if not match:
            continue
        unused = UNUSED.search(match.group(1))
        if unused and used_outside_stories(unused.group(1)):
            continue
        duplicated = DUPLICATED.search(match.group(1))
        if duplicated and set(duplicated.group(1).split(", ")) <= RETRIEVAL_INTENTS:
            continue
        found.append(match.group(1))
    return found


def main() -> int:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--fail-on-warnings"],
        cwd=ROOT, capture_output=True, text=True,
    )
    warnings = real_warnings(result.stdout + result.stderr)
    for warning in warnings:
        print(f"warning: {warning}")
    if result.returncode != 0 or warnings:
        print(result.stdout[-3000:] + result.stderr[-3000:])
        print(f"rasa data validate: {len(warnings)} warning(s), exit code {result.returncode}")
        return 1
    print("rasa data validate: no warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
