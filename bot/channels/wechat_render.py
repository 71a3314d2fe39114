"""Turn Rasa's bot messages into the plain text a WeChat official account can send.

WeChat text messages carry no buttons, cards or markup, and one message holds
at most 2048 bytes of UTF-8, so everything the bot says in a turn is flattened
to text here: buttons become a numbered menu the user answers with a digit,
custom cards become labelled lines, links stay plain text, and long answers
are cut into several messages on line boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Tuple

# WeChat's limit for a text message's Content (客服消息 and passive replies).
TEXT_LIMIT_BYTES = 2048
MENU_LINE = "回复 {number} {title}"
IMAGE_LINE = "图片：{url}"
ATTACHMENT_LINE = "附件：{url}"
LINK_LINE = "链接：{url}"
FIELD_LINE = "{label}：{value}"
# Card keys shown as the first lines of a card, in this order.
HEADING_KEYS = ("title", "subtitle", "text")
ITEM_INDENT = "   "


@dataclass(frozen=True)
class RenderedTurn:
    """A turn's answer as one text, plus the button payloads its menu numbers stand for."""

    text: str
    button_payloads: List[str]


class _Menu:
    """Numbers buttons across a whole turn, so "回复 3" is unambiguous even when
    the bot sent two messages with buttons or a card with buttons per item."""

    def __init__(self) -> None:
        self.payloads: List[str] = []

    def lines(self, buttons: Any) -> List[str]:
        """One "回复 N 标题" line per button, remembering each payload under its number."""
        lines = []
        for button in buttons or []:
            self.payloads.append(str(button.get("payload") or button.get("title", "")))
            lines.append(MENU_LINE.format(number=len(self.payloads), title=button.get("title", "")))
        return lines


def render_messages(messages: Iterable[Dict[str, Any]]) -> RenderedTurn:
    """Flatten the messages Rasa collected for one turn into one text."""
    menu = _Menu()
    blocks: List[str] = []
    for message in messages:
        lines: List[str] = []
        if message.get("text"):
            lines.append(str(message["text"]))
        lines.extend(menu.lines(message.get("buttons")))
        if message.get("image"):
            lines.append(IMAGE_LINE.format(url=message["image"]))
        if message.get("attachment"):
            lines.append(ATTACHMENT_LINE.format(url=message["attachment"]))
        if isinstance(message.get("custom"), Mapping):
            lines.extend(_card_lines(message["custom"], menu))
        if lines:
            blocks.append("\n".join(lines))
    return RenderedTurn(text="\n\n".join(blocks), button_payloads=menu.payloads)


def _card_lines(card: Mapping[str, Any], menu: _Menu) -> List[str]:
    """Readable lines for a custom card (``{type, title, items: [{title, subtitle,
    fields, buttons}]}``): headings, fields, link, buttons, then numbered items.

    Keys a text channel cannot show (``type``, channel-specific flags) are left
    out rather than dumped as JSON at a citizen.
    """
    lines = [str(card[key]) for key in HEADING_KEYS if card.get(key)]
    lines.extend(
        FIELD_LINE.format(label=label, value=value) for label, value in _fields(card.get("fields"))
    )
    if card.get("url"):
        lines.append(LINK_LINE.format(url=card["url"]))
    lines.extend(menu.lines(card.get("buttons")))
    for number, item in enumerate(card.get("items") or [], start=1):
        item_lines = _card_lines(item, menu) if isinstance(item, Mapping) else [str(item)]
        if item_lines:
            lines.append(f"{number}. {item_lines[0]}")
            lines.extend(ITEM_INDENT + line for line in item_lines[1:])
    return lines


def _fields(fields: Any) -> Iterator[Tuple[Any, Any]]:
    """Label/value pairs from ``[[label, value], ...]`` (the web chat's cards) or a mapping."""
    if isinstance(fields, Mapping):
        yield from fields.items()
    elif isinstance(fields, list):
        for pair in fields:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                yield pair[0], pair[1]


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> List[str]:
    """Cut text into messages of at most ``limit`` UTF-8 bytes, preferring line breaks.

    Lines are packed greedily; only a single line longer than the limit is cut
    mid-line, and then on a character boundary so no character is broken.
    """
    chunks: List[str] = []
    current = ""
    for line in _short_lines(text.strip().split("\n"), limit):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode("utf-8")) <= limit:
            current = candidate
            continue
        chunks.append(current.rstrip())
        current = line
    if current.strip():
        chunks.append(current.rstrip())
    return chunks


def _short_lines(lines: Iterable[str], limit: int) -> Iterator[str]:
    """Yield the lines, cutting any line over ``limit`` bytes into pieces that fit."""
    for line in lines:
        while len(line.encode("utf-8")) > limit:
            # Decoding a byte prefix with errors="ignore" drops a cut character.
            piece = line.encode("utf-8")[:limit].decode("utf-8", "ignore")
            yield piece
            line = line[len(piece) :]
        yield line
