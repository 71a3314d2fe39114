"""Deterministic entity extractors for Chinese city-service messages.

Why not let DIET tag these? The values are closed sets (the gazetteer) or
codes with a checksum/format, and citizens' names for them are unbounded
aliases. Dictionary and pattern matching on the normalised text recognises a
hospital or plate the model never saw in training, and maps aliases to the
backend's canonical name in the same step. Pure functions over the
normalised text; the Rasa components live in bot.nlu.components.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from common import gazetteer
from common import codes, dates
from common.normalizer import normalise_surface


@dataclass(frozen=True)
class Found:
    entity: str
    value: str
    start: int
    end: int
    text: str
    additional_info: Optional[Dict[str, Any]] = None

    def as_rasa(self, extractor: str) -> Dict[str, Any]:
        entity = {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "confidence_entity": 1.0,
            "extractor": extractor,
        }
        if self.additional_info:
            entity["additional_info"] = self.additional_info
        return entity


# ---------------------------------------------------------------- codes
_ENGINE = re.compile(
    r"(?:发动机号?码?|(?<!手)机号|引擎号|车架号|最?后(?:[六6]|几)位)(?:最?后(?:[六6]|几)位)?码?"
    r"(?:是|为|:|：)?\s*([a-z0-9]{4,17})(?![0-9a-z])"
)
_ACCOUNT_CUE = re.compile(
    r"(?:户号|账号|帐号|用户号|用户编号|缴费号|客户编号|户口号)(?:是|为|:|：)?\s*(\d{5,20})"
)
# Letters and digits right after a plate (粤B12345 123456): its engine number, typed in
# the order the form asks for them.
_AFTER_PLATE = re.compile(r"[\s,，、]+([a-z0-9]*[0-9][a-z0-9]*)(?![0-9a-z])")
_BARE_DIGITS = re.compile(r"(?<![0-9a-z])\d{8,16}(?![0-9a-z])")
_TICKET = re.compile(r"(?<![a-z])([a-z]{2}\d{11})(?![0-9])")


def find_codes(text: str) -> List[Found]:
    """Plates, resident IDs, phone numbers, engine, account and ticket numbers."""
    found: List[Found] = []
    taken: List[Tuple[int, int]] = []

    def add(entity: str, value: str, start: int, end: int) -> None:
        if any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        found.append(Found(entity, value, start, end, text[start:end]))

    plate_ends: List[int] = []
    for m in codes.PLATE_PATTERN.finditer(text):
        plate = codes.canonical_plate(m.group())
        if plate:
            add("plate_number", plate, m.start(), m.end())
            plate_ends.append(m.end())
    for m in codes.ID_PATTERN.finditer(text):
        value = codes.canonical_id_number(m.group())
        if value:
            add("id_number", value, m.start(), m.end())
    for m in _TICKET.finditer(text):
        add("ticket_id", m.group(1).upper(), m.start(1), m.end(1))
    for m in _ENGINE.finditer(text):
        add("engine_number", m.group(1).upper(), m.start(1), m.end(1))
    for m in _ACCOUNT_CUE.finditer(text):
        add("account_number", m.group(1), m.start(1), m.end(1))
    for m in codes.PHONE_PATTERN.finditer(text):
        add("phone_number", m.group().replace("-", ""), m.start(), m.end())
    for end in plate_ends:  # after IDs and phones: a phone after a plate stays a phone
        after = _AFTER_PLATE.match(text, end)
        if after and 4 <= len(after.group(1)) <= 17:
            add("engine_number", after.group(1).upper(), after.start(1), after.end(1))
    for m in _BARE_DIGITS.finditer(text):
        add("account_number", m.group(), m.start(), m.end())
    return sorted(found, key=lambda f: f.start)


# ------------------------------------------------------------ gazetteer
# When one surface form names things of several kinds, the earlier kind wins.
_KINDS = ("hospital", "department", "road", "bus_line", "bus_stop", "place", "symptom",
          "utility_type", "city")
_BUS_LINE = re.compile(
    r"(?<![0-9a-z号])((?:夜|高峰专线)?[a-z]?[0-9一二三四五六七八九十百零〇两]{1,4})(?:路|号线公交|路公交|路车)(?!口|线)"
)
_ORIGIN_CUE = ("从", "由", "打")
_DESTINATION_CUE = ("到", "去", "至", "回")
# A place right before these starts a trip: 北站到欢乐谷, 东门过去华强北.
_ORIGIN_FOLLOWER = re.compile(r"(?:出发)?(?:到|去|过去|坐到|至)")
_PLACE = r"[^，,。？?！!\s从到去回要把迁办还几多]{2,10}?"
_ROUTE_PATTERNS = (
    # 从A到B…: the places may be anything, the 从 makes it a trip.
    re.compile(
        rf"(?:从|由)(?P<origin>{_PLACE})(?:出发)?(?:到|去|至|回)(?P<destination>{_PLACE})"
        r"(?=怎么|咋|要|坐|乘|搭|最|有|该|应该|的|路线|多久|多远|几|用|呢|啊|吗|[，,。？?！!\s]|$)"
    ),
    # A到B怎么走 at the start of a clause: only with a way-of-travel word after B.
    re.compile(
        rf"(?:^|(?<=[\s，,。！!？?]))(?P<origin>{_PLACE})(?:到|去|过去)(?P<destination>{_PLACE})"
        r"(?=怎么|咋|点|坐|搭|乘|换乘|有没有|地铁|公交|路线)"
    ),
)
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}


def chinese_number(text: str) -> Optional[int]:
    """十 -> 10, 二十三 -> 23, 一百零五 -> 105, 三七五 -> 375."""
    if text.isdigit():
        return int(text)
    if all(c in _CN_DIGITS for c in text):  # digit by digit: 三七五
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, current = 0, 0
    for char in text:
        if char in _CN_DIGITS:
            current = _CN_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def canonical_bus_line(raw: str) -> Optional[str]:
    """b1 -> B1路, 十 -> 10路, 夜20 -> 夜20路."""
    m = re.fullmatch(r"(夜|高峰专线)?([a-z]?)(.+)", raw)
    if not m:
        return None
    number = chinese_number(m.group(3))
    if number is None or number == 0:
        return None
    return f"{m.group(1) or ''}{m.group(2).upper()}{number}路"


class Dictionary:
    """Longest-match lookup of every gazetteer surface form in a text."""

    def __init__(self, gaz: gazetteer.Gazetteer) -> None:
        self.entries: Dict[str, Tuple[str, str]] = {}
        for kind in reversed(_KINDS):  # earlier kinds overwrite later ones
            for surface, value in gaz.canonical_names(kind).items():
                if len(surface) >= 2:  # 电 alone would fire inside 电话
                    self.entries[normalise_surface(surface)] = (kind, value)
        self.max_len = max(len(s) for s in self.entries)
        self.stops = {normalise_surface(s) for s in gaz.canonical_names("bus_stop")}

    def kind_of(self, surface: str) -> Optional[str]:
        hit = self.entries.get(surface)
        return hit[0] if hit else None

    def scan(self, text: str) -> List[Found]:
        found: List[Found] = []
        i = 0
        while i < len(text):
            for length in range(min(self.max_len, len(text) - i), 0, -1):
                hit = self.entries.get(text[i : i + length])
                if hit:
                    found.append(Found(hit[0], hit[1], i, i + length, text[i : i + length]))
                    i += length
                    break
            else:
                i += 1
        return found


def assign_route_roles(text: str, places: List[Found]) -> List[Found]:
    """Places become origin/destination by the word before them (从/到/去...)."""
    roles: List[Found] = []
    for place in places:
        before = text[max(0, place.start - 2) : place.start]
        starts_trip = _ORIGIN_FOLLOWER.match(text, place.end) is not None
        if before.endswith(_ORIGIN_CUE) or before.endswith("在") or starts_trip:
            roles.append(Found("origin", place.text, place.start, place.end, place.text))
        elif before.endswith(_DESTINATION_CUE) or before.endswith("坐到"):
            roles.append(Found("destination", place.text, place.start, place.end, place.text))
    return roles


def find_gazetteer_entities(text: str, dictionary: Dictionary) -> List[Found]:
    """Gazetteer names plus bus lines and origin/destination by pattern."""
    result: List[Found] = []
    spans: List[Tuple[int, int]] = []
    for m in _BUS_LINE.finditer(text):
        line = canonical_bus_line(m.group(1))
        if line:
            result.append(Found("bus_line", line, m.start(), m.end(), m.group()))
            spans.append((m.start(), m.end()))
    route = next((m for m in (p.search(text) for p in _ROUTE_PATTERNS) if m), None)
    if route and not any(dictionary.kind_of(route.group(r)) == "city" for r in ("origin", "destination")):
        for role in ("origin", "destination"):
            result.append(
                Found(role, route.group(role), route.start(role), route.end(role), route.group(role))
            )
            spans.append((route.start(role), route.end(role)))
    hits = [h for h in dictionary.scan(text) if not any(s < h.end and h.start < e for s, e in spans)]
    has_bus_line = any(f.entity == "bus_line" for f in result + hits)
    places = [h for h in hits if h.entity in ("place", "bus_stop")]
    routed = [] if has_bus_line else assign_route_roles(text, places)
    routed_starts = {r.start for r in routed}
    result += routed
    for hit in hits:
        if hit.start in routed_starts or hit.entity == "place":
            continue
        if has_bus_line and hit.text in dictionary.stops:  # 梅林关 the stop, not the road
            hit = Found("bus_stop", hit.text, hit.start, hit.end, hit.text)
        result.append(hit)
    return sorted(result, key=lambda f: f.start)


class TimePeriods:
    """上午/下午/晚上 and their variants, from the gazetteer."""

    def __init__(self, gaz: gazetteer.Gazetteer) -> None:
        words = gaz.canonical_names("time_period")
        self.words = sorted(words, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, self.words)))
        self.canonical = words

    def scan(self, text: str) -> List[Found]:
        return [Found("time_period", self.canonical[m.group()], m.start(), m.end(), m.group())
                for m in self.pattern.finditer(text)]


def find_date_entities(
    text: str, periods: TimePeriods, now: Optional[datetime] = None
) -> List[Found]:
    """`date` as said (ISO date in additional_info) and `time_period` canonical.

    A date said together with a period (明天上午) gives two entities, as the
    contract annotates them: date 明天 and time_period morning.
    """
    found = periods.scan(text)
    period_starts = {p.start for p in found}
    for res in dates.find_dates(text, now or dates.now_in_china()):
        end = res.end
        while end > res.start and any(s < end for s in period_starts if s >= res.start):
            end = max(s for s in period_starts if res.start <= s < end)
        start = res.start
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            found.append(Found("date", text[start:end], start, end, text[start:end],
                               {"iso": res.date, "time_period": res.time_period}))
    return sorted(found, key=lambda f: f.start)
