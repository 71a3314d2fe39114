from datetime import date, datetime, timedelta, timezone

import pytest

from common import gazetteer
from common import dates
from common.dates import CHINA, find_dates, parse_time_period, resolve

FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=CHINA)
YEAR_END = datetime(2026, 12, 30, 10, 0, tzinfo=CHINA)  # a Wednesday
SUNDAY = datetime(2026, 11, 29, 10, 0, tzinfo=CHINA)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA)


def iso(text: str, now: datetime = FRIDAY):
    res = resolve(text, now)
    return res.date if res else None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("今天", "2026-11-27"),
        ("明天", "2026-11-28"),
        ("后天", "2026-11-29"),
        ("大后天", "2026-11-30"),
        ("昨天", "2026-11-26"),
        ("前天", "2026-11-25"),
        ("大前天", "2026-11-24"),
        ("明儿", "2026-11-28"),
        ("三天后", "2026-11-30"),
        ("两个星期以后", "2026-12-11"),
    ],
)
def test_relative_days(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("明天", "2026-12-31"),
        ("后天", "2027-01-01"),
        ("大后天", "2027-01-02"),
        ("1月2号", "2027-01-02"),
        ("3号", "2027-01-03"),
        ("30号", "2026-12-30"),  # today still counts
        ("29号", "2027-01-29"),
        ("12月3号", "2027-12-03"),
        ("下个月3号", "2027-01-03"),
        ("下个月底", "2027-01-31"),
        ("月底", "2026-12-31"),
        ("元旦", "2027-01-01"),
        ("周五", "2027-01-01"),
        ("下周一", "2027-01-04"),
        ("下下周二", "2027-01-12"),
        ("这周日", "2027-01-03"),
        ("三天后", "2027-01-02"),
    ],
)
def test_year_end_rolls_into_next_year(text, expected):
    assert iso(text, YEAR_END) == expected


def test_past_month_day_means_next_year():
    assert iso("1月2号", at(2026, 12, 3)) == "2027-01-02"
    assert iso("11月20号") == "2027-11-20"
    assert iso("11月27号") == "2026-11-27"


@pytest.mark.parametrize(
    "now, text, expected",
    [
        (at(2028, 1, 10), "2月底", "2028-02-29"),
        (at(2026, 1, 10), "2月底", "2026-02-28"),
        (at(2027, 3, 1), "2月底", "2028-02-29"),  # passed in 2027, next one is leap
        (at(2028, 1, 10), "二月底", "2028-02-29"),
        (at(2028, 1, 10), "下个月底", "2028-02-29"),
        (at(2026, 2, 10), "月底", "2026-02-28"),
        (at(2026, 2, 10), "本月底", "2026-02-28"),
        (at(2028, 1, 10), "2月29号", "2028-02-29"),
        (at(2026, 2, 10), "2月29号", None),  # neither 2026 nor 2027 has one
        (at(2026, 2, 10), "这个月30号", None),
        (at(2026, 2, 10), "下个月30号", "2026-03-30"),
    ],
)
def test_february_ends(now, text, expected):
    assert iso(text, now) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("周五", "2026-11-27"),  # today is Friday: today
        ("周四", "2026-12-03"),  # passed this week: next one
        ("周六", "2026-11-28"),
        ("星期天", "2026-11-29"),
        ("周日", "2026-11-29"),
        ("周天", "2026-11-29"),
        ("礼拜三", "2026-12-02"),
        ("星期3", "2026-12-02"),
        ("下周一", "2026-11-30"),
        ("下星期五", "2026-12-04"),
        ("下个礼拜一", "2026-11-30"),
        ("这周五", "2026-11-27"),
        ("这周三", "2026-11-25"),  # named week: literal, even if past
        ("本周日", "2026-11-29"),
        ("下下周二", "2026-12-08"),
        ("下下个星期一", "2026-12-07"),
        ("上周五", "2026-11-20"),
    ],
)
def test_weekdays(text, expected):
    assert iso(text) == expected


def test_next_monday_said_on_sunday_is_tomorrow():
    assert iso("下周一", SUNDAY) == "2026-11-30"
    assert iso("这周一", SUNDAY) == "2026-11-23"
    assert iso("周日", SUNDAY) == "2026-11-29"
    assert iso("下周日", SUNDAY) == "2026-12-06"


def test_bare_weekday_is_always_within_the_coming_week():
    names = "一二三四五六日"
    for offset in range(0, 800, 3):
        today = date(2026, 1, 1) + timedelta(days=offset)
        now = datetime(today.year, today.month, today.day, 9, tzinfo=CHINA)
        for weekday, name in enumerate(names):
            got = date.fromisoformat(iso(f"周{name}", now))
            assert got.weekday() == weekday
            assert 0 <= (got - today).days <= 6
        assert date.fromisoformat(iso("明天", now)) == today + timedelta(days=1)


def test_bare_day_is_the_next_such_day_whatever_the_month():
    for offset in range(0, 800, 5):
        today = date(2026, 1, 1) + timedelta(days=offset)
        now = datetime(today.year, today.month, today.day, 9, tzinfo=CHINA)
        for day in (1, 15, 29, 30, 31):
            got = date.fromisoformat(iso(f"{day}号", now))
            assert got.day == day
            assert 0 <= (got - today).days <= 62


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12月3号", "2026-12-03"),
        ("12月3日", "2026-12-03"),
        ("12月3", "2026-12-03"),
        ("十二月三号", "2026-12-03"),
        ("十二月二十五日", "2026-12-25"),
        ("三十一号", "2026-12-31"),  # November has no 31st
        ("下个月3号", "2026-12-03"),
        ("下月5号", "2026-12-05"),
        ("这个月30号", "2026-11-30"),
        ("2026-12-03", "2026-12-03"),
        ("2026/12/3", "2026-12-03"),
        ("2026.12.03", "2026-12-03"),
        ("2026年12月3日", "2026-12-03"),
        ("二〇二六年十二月三日", "2026-12-03"),
        ("2025年12月3日", "2025-12-03"),  # a year said is kept
        ("明年3月5号", "2027-03-05"),
        ("今年12月3号", "2026-12-03"),
        ("12/3", "2026-12-03"),
        ("月底", "2026-11-30"),
        ("下个月底", "2026-12-31"),
    ],
)
def test_month_days(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("１２月３号", "2026-12-03"),
        ("２０２６－１２－０３", "2026-12-03"),
        ("１２/１０", "2026-12-10"),
        ("３号", "2026-12-03"),
    ],
)
def test_full_width_digits(text, expected):
    assert iso(text) == expected


def test_full_width_span_keeps_the_citizens_characters():
    [res] = find_dates("预约１２月３号上午", FRIDAY)
    assert (res.text, res.start, res.end) == ("１２月３号上午", 2, 9)
    assert (res.date, res.time_period) == ("2026-12-03", "morning")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("元旦", "2027-01-01"),
        ("国庆", "2027-10-01"),
        ("国庆节", "2027-10-01"),
        ("五一", "2027-05-01"),
        ("圣诞节", "2026-12-25"),
        ("春节", "2027-02-06"),
        ("除夕", "2027-02-05"),
        ("元宵节", "2027-02-20"),
        ("端午节", "2027-06-09"),
        ("中秋节", "2027-09-15"),
    ],
)
def test_holidays_are_the_next_occurrence(text, expected):
    assert iso(text) == expected


def test_holiday_on_the_day_is_today():
    assert iso("元旦", at(2027, 1, 1)) == "2027-01-01"
    assert iso("春节", at(2026, 2, 10)) == "2026-02-17"


@pytest.mark.parametrize(
    "text, period",
    [
        ("上午", "morning"),
        ("早上", "morning"),
        ("明早八点", "morning"),
        ("下午", "afternoon"),
        ("中午", "afternoon"),
        ("上昼", "morning"),  # Cantonese
        ("听日下昼", "afternoon"),
        ("晚上", "evening"),
        ("夜里", "evening"),
        ("今晚", "evening"),
        ("9点", "morning"),
        ("15:30", "afternoon"),
        ("晚上8点", "evening"),
        ("３点", None),  # am or pm: not said
        ("早点来", None),
        ("我要挂号", None),
        ("", None),
    ],
)
def test_parse_time_period(text, period):
    assert parse_time_period(text) == period


@pytest.mark.parametrize(
    "text, expected, period",
    [
        ("明早", "2026-11-28", "morning"),
        ("明天上午", "2026-11-28", "morning"),
        ("明天早上", "2026-11-28", "morning"),
        ("今晚", "2026-11-27", "evening"),
        ("明晚", "2026-11-28", "evening"),
        ("今天中午", "2026-11-27", "afternoon"),
        ("后天下午三点", "2026-11-29", "afternoon"),
        ("后天早上八点", "2026-11-29", "morning"),
        ("周五下午", "2026-11-27", "afternoon"),
        ("下周三上午", "2026-12-02", "morning"),
        ("12月31号晚上", "2026-12-31", "evening"),
        ("明天下午3:30", "2026-11-28", "afternoon"),
        ("明天9点", "2026-11-28", "morning"),
        ("明天", "2026-11-28", None),
        ("星期五晚", "2026-11-27", "evening"),
        ("明天晚点到", "2026-11-28", None),  # 晚点 is "late", not evening
        ("明天吧，上午", "2026-11-28", "morning"),  # one date: a period said apart is its own
        ("明天或者后天下午", "2026-11-28", None),  # two dates: the period is 后天's
    ],
)
def test_dates_with_a_time_of_day(text, expected, period):
    res = resolve(text, FRIDAY)
    assert (res.date, res.time_period) == (expected, period)


def test_span_inside_a_sentence():
    [res] = find_dates("我想挂明天上午中山一院的儿科", FRIDAY)
    assert res == dates.DateResolution("2026-11-28", "morning", "明天上午", 3, 7)


def test_several_dates_left_to_right():
    found = find_dates("下周三下午不行的话12月3号也可以，或者后天晚上7点", FRIDAY)
    assert [(r.text, r.date, r.time_period) for r in found] == [
        ("下周三下午", "2026-12-02", "afternoon"),
        ("12月3号", "2026-12-03", None),
        ("后天晚上7点", "2026-11-29", "evening"),
    ]
    text = "下周三下午不行的话12月3号也可以，或者后天晚上7点"
    assert all(text[r.start:r.end] == r.text for r in found)


def test_resolve_keeps_the_span_of_the_first_date():
    res = resolve("我的车牌粤B12345明天限行吗", FRIDAY)
    assert (res.text, res.start, res.end, res.date) == ("明天", 11, 13, "2026-11-28")


def test_longest_expression_wins():
    [res] = find_dates("大后天", FRIDAY)
    assert (res.text, res.date) == ("大后天", "2026-11-30")
    [res] = find_dates("12月3号", FRIDAY)
    assert res.text == "12月3号"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "你好",
        "我要查违章",
        "坐3号线到市民中心",
        "3号线换乘",
        "2号楼的物业电话",
        "去5号窗口办",
        "10路公交还有多久到",
        "粤B12345",
        "13812345678",
        "2月30号",  # impossible: nothing, not a guess at 30号
        "13月45号",
        "下周",
        "下个月",
        "查一下这个月电费",
        "每周五",
        "一周一次",
        "一月一次",
        "十二月十一次",
        "12月3号线",
        "下周一起去吧",
        "五一广场怎么走",
        "下午",  # a time of day is not a date
    ],
)
def test_not_a_date(text):
    assert resolve(text, FRIDAY) is None
    assert find_dates(text, FRIDAY) == []


def test_now_in_another_zone_is_read_as_china_time():
    # 17:30 UTC on the 27th is 01:30 on the 28th in Shanghai.
    utc_now = datetime(2026, 11, 27, 17, 30, tzinfo=timezone.utc)
    assert iso("今天", utc_now) == "2026-11-28"
    assert iso("周六", utc_now) == "2026-11-28"


def test_naive_now_is_china_time():
    assert iso("今天", datetime(2026, 11, 27, 23, 59)) == "2026-11-27"
    assert iso("明天", datetime(2026, 12, 31, 0, 1)) == "2027-01-01"


def test_now_in_china_is_aware_utc_plus_8():
    now = dates.now_in_china()
    assert now.utcoffset() == timedelta(hours=8)


def test_every_gazetteer_time_period_word_is_understood():
    words = gazetteer.load().canonical_names("time_period")
    assert words
    for word, canonical in words.items():
        assert parse_time_period(word) == canonical, word


def test_a_long_message_full_of_dates_is_scanned_about_once_per_rule():
    """Linear work (issue 11): each rule goes through the text about once,
    however many dates it holds, instead of once per date found."""
    text = "明天下午3点 周五 12月3号 随便写点字 " * 800  # ~19k characters, 2,400 dates
    upcoming = dates._UpcomingMatches(text)
    pos = 0
    while hits := upcoming.at_or_after(pos):
        pos = max(m.end() for m, _ in hits)
    assert upcoming.scanned <= len(dates._RULES) * len(text)
    assert len(find_dates(text, FRIDAY)) == 3 * 800


def test_dates_in_a_long_message_are_those_of_its_pieces():
    piece = "下周三下午不行的话12月3号也可以，或者后天晚上7点。"
    one = find_dates(piece, FRIDAY)
    many = find_dates(piece * 500, FRIDAY)
    assert [(d.date, d.time_period, d.text) for d in many] == [
        (d.date, d.time_period, d.text) for d in one] * 500
    assert many[-1].start == 499 * len(piece) + one[-1].start


def test_a_long_run_of_spaces_is_not_a_date():
    assert find_dates(" " * 50_000 + "明天", FRIDAY)[0].start == 50_000
