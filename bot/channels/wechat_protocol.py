"""The wire format of WeChat's official-account callbacks: signatures, XML, replay window.

Kept apart from the Rasa channel so the security checks can be read (and
reviewed) on one screen: every request is refused unless its signature and
timestamp check out, and XML is parsed with defusedxml with DTDs forbidden, so
entity expansion ("billion laughs") and external entities never happen.
"""

from __future__ import annotations

import hmac
import time
from typing import Dict, Optional
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.utils import WeChatSigner

# Fields every message and event carries; a body without them is not WeChat's.
REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


class RejectedRequest(Exception):
    """A callback the channel must refuse; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def forbidden(reason: str) -> RejectedRequest:
    """A request that did not prove it comes from WeChat (403)."""
    return RejectedRequest(403, reason)


def malformed(reason: str) -> RejectedRequest:
    """An authentic request whose body cannot be understood (400)."""
    return RejectedRequest(400, reason)


def sign(*parts: str) -> str:
    """WeChat's signature: SHA1 of the parts sorted and concatenated (wechatpy's signer)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def verify_signature(signature: Optional[str], *parts: str) -> None:
    """Refuse unless ``signature`` signs ``parts``; compared in constant time."""
    if not signature or not hmac.compare_digest(signature.encode(), sign(*parts).encode()):
        raise forbidden("bad signature")


def verify_timestamp(timestamp: Optional[str], max_age: float) -> None:
    """Refuse timestamps further than ``max_age`` seconds from now, so a captured
    signed request cannot be replayed later."""
    try:
        sent_at = int(timestamp or "")
    except ValueError:
        raise forbidden("bad timestamp") from None
    if abs(time.time() - sent_at) > max_age:
        raise forbidden("stale timestamp")


def parse_xml(body: bytes | str) -> Dict[str, str]:
    """The ``<xml>`` root's children as a flat dict of tag → text."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as error:
        raise malformed(f"unreadable XML: {error}") from None
    if root.tag != "xml":
        raise malformed("root element is not <xml>")
    return {child.tag: (child.text or "") for child in root}


def parse_message(body: bytes | str) -> Dict[str, str]:
    """A decrypted message or event, with the fields the channel relies on present."""
    message = parse_xml(body)
    missing = [name for name in REQUIRED_FIELDS if not message.get(name)]
    if missing:
        raise malformed(f"missing {', '.join(missing)}")
    return message


def text_reply_xml(message: Dict[str, str], content: str) -> str:
    """A passive text reply to ``message`` (sender and recipient swapped).

    Built here rather than with wechatpy's TextReply because that one pastes
    the text into CDATA unescaped, so a bot answer containing ``]]>`` (for
    example echoing user input) would break or inject into the XML.
    """
    return (
        "<xml>"
        f"<ToUserName>{_cdata(message['FromUserName'])}</ToUserName>"
        f"<FromUserName>{_cdata(message['ToUserName'])}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType>{_cdata('text')}</MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


def _cdata(text: str) -> str:
    """A CDATA section holding ``text`` exactly, splitting any ``]]>`` across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
