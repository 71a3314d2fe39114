"""Chinese date expressions (明天, 下周一, 12月3号, 后天下午三点) to ISO dates.

Why hand-written rules: dateparser, jionlp, time-nlp and Microsoft
Recognizers were scored on the same 112 expressions and the best got 72%
(docs/date_parsers.md, tools/compare_date_parsers.py). They resolve bare
weekdays and month-days into the past, misread 3号线 and 2号楼 as dates, and
miss 月底 or full-width digits. These rules get every case there, at about
0.02 ms a call. The lunar calendar (春节, 中秋) comes from lunar-python.

Booking is future-oriented: a bare weekday (周五) or month-day (1月2号) is
the next such day, today included. Words that name a week or month
(这周五, 上周五, 这个月3号) or a year stay literal, even in the past.
Weeks start on Monday, so 下周一 said on a Sunday is tomorrow.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Tuple

from lunar_python import Lunar

from common.normalizer import fold_char

# China has had no daylight saving since 1991: a fixed offset needs no tzdata.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# A day, month or hour: 1-2 Arabic digits or a Chinese numeral up to 三十一.
_CN_NUMERALS = "零〇一二两三四五六七八九十"
_NUM = rf"(?:(?<![0-9])[0-9]{{1,2}}(?![0-9])|[{_CN_NUMERALS}]{{1,3}})"
_YEAR = r"(?:(?<![0-9])[0-9]{4}|[零〇一二三四五六七八九]{4})"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
# Includes the gazetteer's time_periods (上昼/下昼 are Cantonese) so the
# date's period and the time_period entity agree.
_PERIOD_WORDS = {
    "早上": "morning", "早晨": "morning", "清晨": "morning", "上午": "morning",
    "凌晨": "morning", "一早": "morning", "今早": "morning", "明早": "morning",
    "今晨": "morning", "明晨": "morning", "清早": "morning", "早上头": "morning",
    "上昼": "morning",
    "中午": "afternoon", "下午": "afternoon", "午后": "afternoon", "下昼": "afternoon",
    "傍晚": "evening", "晚上": "evening", "夜里": "evening", "夜间": "evening",
    "晚间": "evening", "半夜": "evening", "今晚": "evening", "明晚": "evening",
    "昨晚": "evening",
}
_PERIOD = "|".join(sorted(_PERIOD_WORDS, key=len, reverse=True))
_CLOCK = (
    rf"(?P<hour>{_NUM})\s*(?:点钟?|时)(?:\s*(?:半|一刻|三刻|{_NUM}\s*分?))?"
    r"|(?P<hh>(?<![0-9])[0-9]{1,2})\s*[:：]\s*[0-9]{2}(?![0-9])"
)
# After a date a lone 晚 is evening too (周五晚), but not 晚点 ("late").
_SUFFIX_PERIODS = {**_PERIOD_WORDS, "晚": "evening"}
_SUFFIX = re.compile(
    rf"(?:\s*的)?\s*(?P<period>{_PERIOD}|晚(?![点些了]))?\s*(?:{_CLOCK})?"
)
_PERIOD_OR_CLOCK = re.compile(rf"(?P<period>{_PERIOD})|{_CLOCK}")

# Relative day words; the ones that also name a time of day carry it.
_DAY_WORDS: Dict[str, Tuple[int, Optional[str]]] = {
    "今天": (0, None), "今日": (0, None), "今儿": (0, None), "今早": (0, "morning"),
    "今晨": (0, "morning"), "今晚": (0, "evening"), "明天": (1, None), "明日": (1, None),
    "明儿": (1, None), "明早": (1, "morning"), "明晨": (1, "morning"),
    "明晚": (1, "evening"), "后天": (2, None), "大后天": (3, None), "昨天": (-1, None),
    "昨日": (-1, None), "昨晚": (-1, "evening"), "前天": (-2, None), "大前天": (-3, None),
    # Cantonese: 听日 tomorrow, 听朝 tomorrow morning, 后日 the day after, 琴日 yesterday.
    "听日": (1, None), "听朝": (1, "morning"), "后日": (2, None), "琴日": (-1, None),
    "寻日": (-1, None),
}
_SOLAR_HOLIDAYS = {
    "元旦": (1, 1), "情人节": (2, 14), "妇女节": (3, 8), "植树节": (3, 12),
    "劳动节": (5, 1), "五一": (5, 1), "青年节": (5, 4), "儿童节": (6, 1),
    "国庆节": (10, 1), "国庆": (10, 1), "平安夜": (12, 24), "圣诞节": (12, 25), "圣诞": (12, 25),
}
# Lunar (month, day); 除夕 is the day before 春节, whatever the month's length.
_LUNAR_HOLIDAYS = {
    "春节": (1, 1), "大年初一": (1, 1), "元宵节": (1, 15), "元宵": (1, 15),
    "端午节": (5, 5), "端午": (5, 5), "七夕": (7, 7), "中秋节": (8, 15), "中秋": (8, 15),
    "重阳节": (9, 9), "重阳": (9, 9), "除夕": (1, 0), "大年三十": (1, 0),
}
_WEEK_SHIFT = {"上上": -2, "上": -1, "这": 0, "本": 0, "下": 1, "下下": 2}
_MONTH_SHIFT = {"上": -1, "这": 0, "本": 0, "下": 1, "下下": 2}
_REL_WEEK = r"(?P<rel>上上|上|下下|下|这|本)个?"
_REL_MONTH = r"(?P<rel>上|下下|下|这|本)个?月"


@dataclass(frozen=True)
class DateResolution:
    """One date said by the citizen: ISO date in China, period, and where."""

    date: str
    time_period: Optional[str]
    text: str
    start: int
    end: int


def now_in_china() -> datetime:
    """The wall clock the citizen reads."""
    return datetime.now(CHINA)


def _today(now: datetime) -> date:
    """Naive `now` is taken as China time; aware `now` is converted to it."""
    if now.tzinfo is None:
        return now.date()
    return now.astimezone(CHINA).date()


def _number(said: str) -> Optional[int]:
    """3, 03, 三, 十二, 二十三, 三十一 -> int; malformed numerals (二二) -> None."""
    if said.isdigit():
        return int(said)
    if "十" not in said:
        return _CN_DIGITS[said] if len(said) == 1 else None
    tens, _, ones = said.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _year(said: str) -> int:
    return int(said) if said.isdigit() else int("".join(str(_CN_DIGITS[c]) for c in said))


def _make_date(year: int, month: Optional[int], day: Optional[int]) -> Optional[date]:
    try:
        return date(year, month or 0, day or 0)
    except ValueError:
        return None


def _shift_month(today: date, months: int) -> Tuple[int, int]:
    index = today.year * 12 + today.month - 1 + months
    return index // 12, index % 12 + 1


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _next_month_day(month: Optional[int], day: Optional[int], today: date) -> Optional[date]:
    """This year's month-day, or next year's once it has passed."""
    for year in (today.year, today.year + 1):
        found = _make_date(year, month, day)
        if found and found >= today:
            return found
    return None


@lru_cache(maxsize=64)
def _lunar_to_solar(year: int, month: int, day: int) -> date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _ymd(m: re.Match[str], today: date) -> Optional[date]:
    """2026-12-03, 2026年12月3日, 明年3月5号, 12月3号, 十二月三号."""
    month, day = _number(m["m"]), _number(m["d"])
    relative_year = m.groupdict().get("yrel")
    if m["y"]:
        return _make_date(_year(m["y"]), month, day)
    if relative_year:
        return _make_date(today.year + "今明后".index(relative_year[0]), month, day)
    return _next_month_day(month, day, today)


def _slash(m: re.Match[str], today: date) -> Optional[date]:
    """12/3 is month/day in China."""
    return _next_month_day(int(m["m"]), int(m["d"]), today)


def _month_rel_day(m: re.Match[str], today: date) -> Optional[date]:
    """下个月3号, 这个月15号: the named month, even if the day has passed."""
    year, month = _shift_month(today, _MONTH_SHIFT[m["rel"]])
    return _make_date(year, month, _number(m["d"]))


def _month_end_rule(m: re.Match[str], today: date) -> Optional[date]:
    """月底, 下个月底, 2月底 (the next February end, 29th in leap years)."""
    if m["m"]:
        month = _number(m["m"])
        if month is None or not 1 <= month <= 12:
            return None
        end = _month_end(today.year, month)
        return end if end >= today else _month_end(today.year + 1, month)
    year, month = _shift_month(today, _MONTH_SHIFT[m["rel"]] if m["rel"] else 0)
    return _month_end(year, month)


def _bare_day(m: re.Match[str], today: date) -> Optional[date]:
    """3号: this month's 3rd, or the next month that has that day ahead."""
    day = _number(m["d"])
    for months in range(3):
        year, month = _shift_month(today, months)
        found = _make_date(year, month, day)
        if found and found >= today:
            return found
    return None


def _weekday(m: re.Match[str], today: date) -> Optional[date]:
    """周五 is the next Friday (today included); 下周五 is Friday of next week."""
    weekday = _WEEKDAYS[m["wd"]]
    if m["rel"] is None:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=_WEEK_SHIFT[m["rel"]])
    return monday + timedelta(days=weekday)


def _day_word(m: re.Match[str], today: date) -> Optional[date]:
    return today + timedelta(days=_DAY_WORDS[m[0]][0])


def _days_later(m: re.Match[str], today: date) -> Optional[date]:
    """三天后, 两周以后."""
    count = _number(m["n"])
    if count is None:
        return None
    return today + timedelta(days=count * (1 if m["unit"] in "天日" else 7))


def _holiday(m: re.Match[str], today: date) -> Optional[date]:
    """The next 元旦/国庆/春节/中秋, today included."""
    name = m[0]
    if name in _SOLAR_HOLIDAYS:
        return _next_month_day(*_SOLAR_HOLIDAYS[name], today)
    month, day = _LUNAR_HOLIDAYS[name]
    dates = (
        _lunar_to_solar(year, month, day) if day else _lunar_to_solar(year, 1, 1) - timedelta(days=1)
        for year in range(today.year - 1, today.year + 2)
    )
    return min(d for d in dates if d >= today)


_Rule = Tuple[re.Pattern[str], Callable[[re.Match[str], date], Optional[date]]]
# No rule starts with an optional prefix followed by \s*: such a rule would
# try the whole of a run of spaces at each of its positions (quadratic).
_NOT_A_DAY = r"(?![线楼门口窗床房院馆位台车路栋座室层码机站票])"  # 3号线, 2号楼, 5号窗口
# 12月3 may drop its 号, but 一月一次 is a frequency and 十二月十一次 must not
# shrink to 十二月十.
_RULES: List[_Rule] = [
    (re.compile(
        rf"(?:(?:(?P<y>{_YEAR})\s*年|(?P<yrel>今年|明年|后年))\s*)?(?P<m>{_NUM})\s*月"
        rf"\s*(?P<d>{_NUM})\s*(?:[日号]{_NOT_A_DAY}|(?![日号次个遍回趟{_CN_NUMERALS}]))"
    ), _ymd),
    (re.compile(
        rf"(?P<y>{_YEAR})\s*(?P<sep>[-/.])\s*(?P<m>[0-9]{{1,2}})\s*(?P=sep)"
        r"\s*(?P<d>[0-9]{1,2})(?![0-9])"
    ), _ymd),
    (re.compile(r"(?<![0-9/])(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})(?![0-9/])"), _slash),
    (re.compile(rf"{_REL_MONTH}\s*(?P<d>{_NUM})\s*[日号]{_NOT_A_DAY}"), _month_rel_day),
    (re.compile(rf"(?:{_REL_MONTH}|(?P<m>{_NUM})\s*月|月)\s*[底末]"), _month_end_rule),
    (re.compile(rf"(?<![0-9月/第])(?P<d>{_NUM})\s*[日号]{_NOT_A_DAY}"), _bare_day),
    # 每周五 is a routine and 一周一次 a frequency, not dates; 下周一起 is "together".
    (re.compile(
        rf"(?<![0-9零〇一二两三四五六七八九十几每])(?:(?:{_REL_WEEK})\s*)?(?:周|星期|礼拜)"
        r"(?P<wd>[一二三四五六日天1-7])(?!起)"
    ), _weekday),
    (re.compile("|".join(sorted(_DAY_WORDS, key=len, reverse=True))), _day_word),
    (re.compile(rf"(?P<n>{_NUM})\s*个?\s*(?P<unit>天|日|周|星期|礼拜)\s*[以之]?后"), _days_later),
    (re.compile(
        "(?:" + "|".join(sorted([*_SOLAR_HOLIDAYS, *_LUNAR_HOLIDAYS], key=len, reverse=True))
        + r")(?![路街广大])"  # 五一路, 五一广场
    ), _holiday),
]


def _clock_period(hour_said: Optional[str]) -> Optional[str]:
    """A clock time alone: 9点 is morning, 15:00 afternoon; 3点 is ambiguous."""
    hour = _number(hour_said) if hour_said else None
    if hour is None or not 6 <= hour <= 23:
        return None
    if hour < 12:
        return "morning"
    return "afternoon" if hour < 18 else "evening"


def parse_time_period(text: str) -> Optional[str]:
    """The first time of day in `text`: 上午/早上 -> morning, 下午/中午 ->
    afternoon, 晚上/夜里 -> evening; a clock time alone (9点, 15:30) counts."""
    folded = "".join(fold_char(c) for c in text)
    for m in _PERIOD_OR_CLOCK.finditer(folded):
        period = _PERIOD_WORDS.get(m["period"] or "") or _clock_period(m["hour"] or m["hh"])
        if period:
            return period
    return None


def _suffix(folded: str, pos: int) -> Tuple[int, Optional[str]]:
    """A time of day right after the date (明天上午, 后天下午三点)."""
    m = _SUFFIX.match(folded, pos)
    if not m or not (m["period"] or m["hour"] or m["hh"]):
        return pos, None
    period = _SUFFIX_PERIODS.get(m["period"] or "") or _clock_period(m["hour"] or m["hh"])
    return m.end(), period


def find_dates(text: str, now: datetime) -> List[DateResolution]:
    """Every date expression in `text`, left to right, resolved against `now`.

    At each place the longest expression wins, so 12月3号 is not also 3号;
    an impossible one (2月30号) yields nothing rather than a shorter guess.
    """
    today = _today(now)
    folded = "".join(fold_char(c) for c in text)  # one to one: offsets hold
    found: List[DateResolution] = []
    upcoming = _UpcomingMatches(folded)
    pos = 0
    while True:
        hits = upcoming.at_or_after(pos)
        if not hits:
            return found
        start = min(m.start() for m, _ in hits)
        m, handler = max(
            ((m, handler) for m, handler in hits if m.start() == start),
            key=lambda pair: pair[0].end(),
        )
        pos = max(m.end(), start + 1)
        day = handler(m, today)
        if day is None:
            continue
        period = _DAY_WORDS[m[0]][1] if handler is _day_word else None
        end, suffix_period = _suffix(folded, m.end())
        pos = max(pos, end)
        found.append(
            DateResolution(day.isoformat(), suffix_period or period, text[start:end], start, end)
        )


class _UpcomingMatches:
    """Each rule's next match, searched again only once the scan has passed its start.

    Searching every rule again after every date (as a plain loop would) costs
    the rest of the text per date: quadratic in a long message full of dates.
    A rule's first match at or after `pos` is still its first match at or after
    any later `pos` up to its start, so each rule scans the text about once.
    """

    def __init__(self, folded: str) -> None:
        self.folded = folded
        self.next: List[Tuple[Optional[re.Match[str]], int]] = [(None, -1)] * len(_RULES)
        self.scanned = 0  # characters the searches went through (tests count the work)

    def at_or_after(self, pos: int) -> List[Tuple[re.Match[str], Callable[..., Optional[date]]]]:
        hits = []
        for index, (pattern, handler) in enumerate(_RULES):
            m, searched_from = self.next[index]
            if searched_from < 0 or (m is not None and m.start() < pos):
                m = pattern.search(self.folded, pos)
                self.scanned += (m.start() if m else len(self.folded)) - pos
                self.next[index] = (m, pos)
            if m is not None:
                hits.append((m, handler))
        return hits


def resolve(text: str, now: datetime) -> Optional[DateResolution]:
    """The first date in `text`, e.g. a slot answer (明天上午, 周五吧 下午).

    With a single date, a time of day said apart from it (明天吧，上午) is
    taken too; with several, a stray period could belong to any of them.
    """
    dates = find_dates(text, now)
    if not dates:
        return None
    first = dates[0]
    if first.time_period or len(dates) > 1:
        return first
    rest = text[: first.start] + " " + text[first.end :]
    return replace(first, time_period=parse_time_period(rest))
