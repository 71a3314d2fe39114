"""Which department to see (导诊): from the symptoms said, with a warning for urgent ones."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.forms import ServiceForm
from actions.texts import words
from common import gazetteer

# Symptoms that may be an emergency: the citizen is told to go to 急诊 or call
# 120 first; the department is the one to see once it is not acute.
URGENT_SYMPTOMS = {
    "胸痛": "心血管内科", "胸口痛": "心血管内科", "胸口疼": "心血管内科",
    "呼吸困难": "呼吸内科", "喘不上气": "呼吸内科", "喘不过气": "呼吸内科", "咯血": "呼吸内科",
    "吐血": "消化内科", "便血": "消化内科", "剧烈腹痛": "消化内科",
    "昏迷": "急诊科", "晕倒": "急诊科", "大出血": "急诊科",
    "抽搐": "神经内科", "口角歪斜": "神经内科", "半身麻木": "神经内科", "说话不清": "神经内科",
}
# Hospitals see anyone with a fever at the fever clinic first, whatever else hurts.
FIRST_STOP = "发热门诊"
CHILD_WORDS = ("孩子", "小孩", "宝宝", "儿子", "女儿", "小朋友")
# Intents of an answer to “哪里不舒服” taken as a description in the citizen's own words.
DESCRIPTION_INTENTS = ("inform", "nlu_fallback")
CHILDREN_DEPARTMENT = "儿科"
GENERAL_DEPARTMENT = "内科"


# -------------------------------------------------------- recommendation
@dataclass(frozen=True)
class Recommendation:
    department: str
    symptoms: List[str]  # the known ones, as said
    urgent: List[str]


@lru_cache(maxsize=None)
def _symptom_pattern() -> re.Pattern[str]:
    words = {*gazetteer.load().symptoms, *URGENT_SYMPTOMS}
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))


def recommend(said: str) -> Recommendation:
    """Children: 儿科; a fever: 发热门诊; else the department most symptoms point to; unknown: 内科."""
    mapping = {**gazetteer.load().symptoms, **URGENT_SYMPTOMS}
    symptoms = list(dict.fromkeys(_symptom_pattern().findall(said)))
    urgent = [s for s in symptoms if s in URGENT_SYMPTOMS]
    departments = Counter(mapping[s] for s in symptoms)
    if any(word in said for word in CHILD_WORDS):
        department = CHILDREN_DEPARTMENT
    elif FIRST_STOP in departments:
        department = FIRST_STOP
    elif departments:
        department = departments.most_common(1)[0][0]
    else:
        department = GENERAL_DEPARTMENT
    return Recommendation(department, symptoms, urgent)


class ValidateDepartmentForm(ServiceForm):
    form = "department_form"
    service = "hospital"
    slots = ["symptom"]
    needs_city = False  # advice is the same everywhere
    transient_slots = ["symptom"]

    def not_an_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[List[EventType]]:
        """Symptoms in the citizen's own words (胸口疼得厉害) are an answer too."""
        intent = tracker.latest_message.get("intent", {}).get("name")
        if tracker.get_slot("requested_slot") == "symptom" and intent in DESCRIPTION_INTENTS:
            return None
        return super().not_an_answer(dispatcher, tracker)

    async def extract_symptom(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Words no entity covers: the answer to the question, or an urgent symptom said up front."""
        text = (tracker.latest_message.get("text") or "").strip()
        if tracker.slots_to_validate().get("symptom") or not text:
            return {}
        answering = (tracker.get_slot("requested_slot") == "symptom"
                     and tracker.latest_message.get("intent", {}).get("name") in DESCRIPTION_INTENTS)
        return {"symptom": text} if answering or recommend(text).urgent else {}

    async def validate_symptom(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The whole message, not only the symptom the slot took: 头疼发烧 is two, and
        孩子发烧 is for 儿科. A symptom left from an earlier message is asked again."""
        said = (tracker.latest_message.get("text") or "").strip()
        return {"symptom": said if str(value) in said else None}


class ActionRecommendDepartment(Action):
    def name(self) -> Text:
        return "action_recommend_department"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        said = tracker.get_slot("symptom")
        if not said:  # the form was stopped
            return []
        advice = recommend(said)
        lines = []
        if advice.urgent:
            lines.append(words("department.ActionRecommendDepartment", join_advice_urgent='、'.join(advice.urgent)))
        if advice.symptoms:
            lines.append(words("department.ActionRecommendDepartment_2",
                               join_advice_symptoms='、'.join(advice.symptoms),
                               advice_department=advice.department))
            if advice.department == FIRST_STOP:
                lines.append(words("department.ActionRecommendDepartment_3"))
        else:
            general = words("department.ActionRecommendDepartment_4") if advice.department == GENERAL_DEPARTMENT else ""
            lines.append(words("department.ActionRecommendDepartment_5",
                               said=said,
                               advice_department=advice.department,
                               general=general))
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[{"title": words("department.ActionRecommendDepartment_6", advice_department=advice.department),
                      "payload": replies.intent_payload("book_appointment", department=advice.department)}],
        )
        return [SlotSet("symptom", None)]
