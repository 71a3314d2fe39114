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
