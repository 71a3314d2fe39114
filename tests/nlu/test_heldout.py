"""NLU regression: the trained model on the held-out set (never trained on).

`make test` trains first; this fails if intent accuracy falls below 90% or
entity F1 below 85% — the floor, not the target (docs/benchmarks.md has the
current figures from `make eval`).
"""
import pytest

from tools import evaluate

MODEL = evaluate.ROOT / "models" / "citylink.tar.gz"


@pytest.fixture(scope="module")
def scores() -> evaluate.Scores:
    if not MODEL.exists():
        pytest.fail("没有训练好的模型：请用 make test 运行（它会先训练）")
    return evaluate.evaluate_model(MODEL, evaluate.load_cases())


def test_held_out_intent_accuracy_at_least_90_percent(scores):
    assert scores.intent_accuracy >= 0.90, evaluate.summary_line(scores)


def test_held_out_entity_f1_at_least_85_percent(scores):
    assert scores.entity_f1 >= 0.85, evaluate.summary_line(scores)


def test_every_contract_intent_is_in_the_held_out_set():
    intents = {case.intent.split("/")[0] for case in evaluate.load_cases()}
    contract = {"query_violation", "pay_fine", "query_traffic", "query_restriction", "query_bus",
                "query_route", "query_bill", "pay_bill", "book_appointment", "query_appointment",
                "cancel_appointment", "recommend_department", "query_weather",
                "query_social_security", "query_housing_fund", "report_issue", "query_ticket",
                "faq", "set_city", "inform", "greet", "goodbye", "thank", "affirm", "deny", "stop",
                "help", "bot_challenge", "human_handoff", "chitchat", "out_of_scope"}
    assert contract <= intents


INDEPENDENT = evaluate.ROOT / "tests" / "nlu" / "independent"


def test_independent_set_in_scope_and_out_of_scope_floors():
    """The independent author's set (issue 15): its target as a floor (today in
    scope 97.6%, rejection 95.9%; docs/benchmarks.md), so a change that gives
    back what the three rounds of data and OpenCC won fails the build."""
    if not MODEL.exists():
        pytest.fail("没有训练好的模型：请用 make test 运行（它会先训练）")
    cases = evaluate.load_cases(INDEPENDENT)
    assert len(cases) >= 1500
    scope = evaluate.evaluate_model(MODEL, cases).scope
    assert scope is not None and scope.in_scope_accuracy >= 0.95, scope
    assert scope.out_of_scope_rejection >= 0.95, scope


def test_scope_scores_count_the_fallback_as_a_rejection():
    cases = [evaluate.Case("订酒店", "out_of_scope", [], "oos"),
             evaluate.Case("放首歌", "out_of_scope", [], "oos"),
             evaluate.Case("查违章", "query_violation", [], "in")]
    predictions = [{"intent": {"name": "nlu_fallback"}}, {"intent": {"name": "query_bus"}},
                   {"intent": {"name": "query_violation"}}]
    scope = evaluate.scope_scores(cases, predictions)
    assert (scope.in_scope_accuracy, scope.out_of_scope_rejection) == (1.0, 0.5)
    assert scope.per_group["oos"] == {"n": 2, "right": 0.5}


def test_intent_errors_list_only_wrong_intents_with_their_group():
    cases = [evaluate.Case("订酒店", "out_of_scope", [], "oos"),
             evaluate.Case("放首歌", "out_of_scope", [], "oos"),
             evaluate.Case("谢谢 没问题了", "thank", [], "closings"),
             evaluate.Case("查违章", "query_violation", [("city", "广州")], "in")]
    ranking = [{"name": "query_ticket", "confidence": 0.6}]
    predictions = [{"intent": {"name": "nlu_fallback"}, "intent_ranking": ranking},
                   {"intent": {"name": "query_bus"}, "intent_ranking": ranking},
                   {"intent": {"name": "query_ticket"}, "intent_ranking": ranking},
                   {"intent": {"name": "query_violation"}, "entities": []}]
    errors = evaluate.intent_errors(evaluate.score("m", cases, predictions))
    assert [(e["group"], e["text"], e["predicted"], e["confidence"]) for e in errors] == [
        ("closings", "谢谢 没问题了", "query_ticket", 0.6), ("oos", "放首歌", "query_bus", 0.6)]
