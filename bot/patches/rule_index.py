"""RulePolicy checks only the rules that can match the current turn.

What: `RulePolicy._get_possible_keys` runs `_is_rule_applicable` for every
learned rule against each state of the conversation, newest first. Here the
first pass (the current turn) starts from the rules whose last step has the
conversation's previous action and intent, looked up in an index built once
per rule table, plus the few rules the index cannot place; Rasa's own filter
then runs on those, so the surviving rules are the same set.
Why: ~100 rules checked per prediction, two or three predictions per message:
RulePolicy was 10% of a bot worker at 32 citizens (py-spy), half of it in
this filter (docs/benchmarks.md change 21).
The walk back through the conversation stops once no rule is left or every
rule left is shorter than the turns walked (Rasa's check passes any rule from
its length on): it went through every state of the session, the whole
conversation's length per prediction (change 31).
Gain: measured in docs/benchmarks.md (changes 21 and 31).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from bot.patches.guard import Target

TARGETS = (
    Target(
        "rasa.core.policies.rule_policy:RulePolicy._get_possible_keys",
        ("self", "lookup", "states"),
    ),
    Target(
        "rasa.core.policies.rule_policy:RulePolicy._is_rule_applicable",
        ("self", "rule_key", "turn_index", "conversation_state"),
    ),
    Target("rasa.core.policies.rule_policy:RulePolicy._rule_key_to_state", ("rule_key",)),
)

ANY_INTENT = None  # index slot of rules whose last step names no intent
Key = Tuple[str, Optional[str]]


class RuleIndex:
    """Rule keys by what their last step requires: previous action name and intent."""

    def __init__(self, rule_keys: List[str], key_to_state: Any) -> None:
        from rasa.shared.core.constants import PREVIOUS_ACTION, USER
        from rasa.shared.nlu.constants import ACTION_NAME, INTENT

        self.by_key: Dict[Key, List[str]] = {}
        self.starters: List[str] = []  # last step without a previous action
        self.unplaced: List[str] = []  # checked every time
        # Rasa's `_is_rule_applicable` holds any rule applicable at a turn index past its length.
        self.length: Dict[str, int] = {}
        for rule_key in rule_keys:
            states = key_to_state(rule_key)
            self.length[rule_key] = len(states)
            if not states:
                self.unplaced.append(rule_key)
                continue
            last = states[-1]
            previous = last.get(PREVIOUS_ACTION)
            if not previous:
                self.starters.append(rule_key)
                continue
            name = _required(previous.get(ACTION_NAME))
            if name is None:
                self.unplaced.append(rule_key)
                continue
            intent = _required((last.get(USER) or {}).get(INTENT))
            self.by_key.setdefault((name, intent), []).append(rule_key)

    def candidates(self, state: Dict[str, Any]) -> List[str]:
        """A superset of the rules whose last step can match `state`."""
        from rasa.shared.core.constants import PREVIOUS_ACTION, USER
        from rasa.shared.nlu.constants import ACTION_NAME, INTENT

        previous = state.get(PREVIOUS_ACTION)
        if not previous:  # only starters pass Rasa's check on a conversation start
            return self.starters + self.unplaced
        name = previous.get(ACTION_NAME)
        intent = (state.get(USER) or {}).get(INTENT)
        return (
            self.by_key.get((name, intent), [])
            + (self.by_key.get((name, ANY_INTENT), []) if intent is not ANY_INTENT else [])
            + self.unplaced
        )


def _required(value: Any) -> Optional[str]:
    """The value a rule step requires the conversation to have, if it is one to index.

    Rasa checks a rule value only when it is set and not `should_not_be_set`;
    anything but a plain string is left to Rasa's check (unplaced).
    """
    from rasa.shared.core.constants import SHOULD_NOT_BE_SET

    if isinstance(value, str) and value and value != SHOULD_NOT_BE_SET:
        return value
    return None


def index_for(policy: Any, lookup: Dict[str, Any]) -> RuleIndex:
    """The index of this rule table, built on first use (the table does not change)."""
    indexes: Dict[int, Tuple[Dict[str, Any], RuleIndex]] = policy.__dict__.setdefault(
        "_citylink_rule_indexes", {}
    )
    entry = indexes.get(id(lookup))
    if entry is None or entry[0] is not lookup:
        entry = (lookup, RuleIndex(list(lookup), policy._rule_key_to_state))
        indexes[id(lookup)] = entry
    return entry[1]


def possible_keys(policy: Any, lookup: Dict[str, Any], states: List[Dict[str, Any]]) -> Set[str]:
    """Rasa's `_get_possible_keys`, its first pass over the index's candidates."""
    if not states:
        return set(lookup)
    index = index_for(policy, lookup)
    keys: Any = index.candidates(states[-1])
    for i, state in enumerate(reversed(states)):
        if not keys or i >= max(index.length[key] for key in keys):
            break  # nothing left, or every rule left is shorter: each would pass from here on
        keys = {key for key in keys if policy._is_rule_applicable(key, i, state)}
    return set(keys)


def apply() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    RulePolicy._get_possible_keys = possible_keys
