"""A varied workload: held-out-style citizen messages written for the bench.

These are not the training examples (data/nlu) nor the NLU test set
(tests/nlu): they were written for this file, the way citizens type on a
phone — colloquial, missing words, a plate or a road name in the middle,
small talk between two questions. Many start a form or reach a backend
(violations, traffic, weather, buses), none pays or books anything, so they
can be replayed forever. The long-conversation level sends them, in order and
round after round, as one conversation; nothing checks the answers' text
(varied messages have no single right answer), only that there is one.
"""

from __future__ import annotations

from typing import List, Tuple

VARIED_MESSAGES: Tuple[str, ...] = (
    "喂，有人在不",
    "我想问下我的车有没有被罚",
    "粤A288E0",
    "好的知道了",
    "广州这两天会下雨吗",
    "明儿出门得带伞不",
    "换个城市，我现在在深圳",
    "深南大道那边塞车没",
    "北环大道呢",
    "谢谢你啊",
    "公交10路几点有车",
    "坐几路车去火车站",
    "护照到期了怎么续",
    "身份证丢了咋办",
    "驾驶证换证要带什么材料",
    "社保怎么查",
    "我要投诉噪音",
    "12345热线电话是多少",
    "水费怎么交",
    "电费哪里可以查",
    "燃气费欠费了会停气吗",
    "医院挂号怎么弄",
    "你是真人还是程序啊",
    "哈喽，你好哇",
    "帮我看看粤B55S41违章了没",
    "发动机号8ZCCYU",
    "行，谢了哈兄弟",
    "今天天气咋样",
    "会不会很热",
    "我在广州",
    "天河路堵吗",
    "中山大道现在好走吗",
    "广州地铁几点收班",
    "公交车几点开始运营",
    "办居住证需要什么",
    "想把户口从老家迁过来咋弄",
    "结婚登记要预约吗",
    "港澳通行证续签流程",
    "嗯嗯嗯，明白",
    "那倒不用了哈",
    "唉算了算了",
    "再查一次违章",
    "粤A288E0有罚单吗",
    "罚款要怎么交",
    "扣分了吗",
    "周末深圳天气",
    "深圳明天气温多少度",
    "滨海大道堵车吗",
    "10路公交车到哪了",
    "哈哈",
    "你能干嘛",
    "都有什么服务",
    "帮帮我",
    "我不懂怎么操作",
    "护照办理要多久",
    "身份证补办要钱吗",
    "临时身份证怎么开",
    "社保卡丢了",
    "医保怎么报销",
    "公积金能查吗",
    "停水通知在哪看",
    "停电了找谁",
    "我家楼下一直施工好吵",
    "路灯坏了向哪里反映",
    "天气咋样呀",
    "现在路况咋样",
    "帮我查查公交",
    "查个违章",
    "车牌粤A288E0",
    "好嘞没问题",
    "ok的收到",
    "真是多谢多谢",
    "先这样，拜拜啦",
    "你好，我又来了",
    "广州今天多少度",
    "要穿外套吗",
    "广州大道堵不堵",
    "环市路怎么样",
    "公交10路首班车",
    "最后一班车几点走",
    "驾照过期了",
    "车辆年检在哪",
    "新生儿上户口",
    "护照加急可以吗",
    "签证在哪办",
    "我想找个人工帮忙",
    "转人工客服",
    "没事了",
    "查一下深圳的天气吧",
    "深圳深南大道路况",
    "查下粤B55S41",
    "8ZCCYU",
    "太感谢你了",
    "早上好呀小助手",
    "不早了晚安啦",
    "你们上班时间是几点",
    "周末能办事吗",
    "办事大厅在哪里",
    "网上能办吗",
    "好的，再见",
)


def long_messages(turns: int, window: int = 20) -> List[str]:
    """The long conversation's messages: the varied ones in order, round after round,
    in rounds of the largest length (at most all of them) that puts the last `window`
    turns on the same messages as the first `window` (200 turns: rounds of 90, so turns
    181-200 say what turns 1-20 said): first and last turns differ only by position."""
    span = turns - window
    cycle = next(
        (n for n in range(len(VARIED_MESSAGES), window - 1, -1) if span > 0 and span % n == 0),
        len(VARIED_MESSAGES),
    )
    return [VARIED_MESSAGES[n % cycle] for n in range(turns)]
