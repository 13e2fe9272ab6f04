"""The charset of a fetched body, as a browser finds it: the HTTP header, else the
document's own declaration (``<meta charset>``, XML declaration, BOM), else detected from
the bytes (charset-normalizer); the labels the web takes for Windows-1252 read as it."""

from __future__ import annotations

import codecs
import functools
import re
from email.message import Message

import charset_normalizer

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
# WHATWG: these labels mean windows-1252 on the web
_WEB_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}  # codecs.lookup() names


def detect_encoding(body: bytes, content_type_header: str) -> str:
    """The charset of a body: from the HTTP header, else the document's own declaration
    (``<meta charset>``, XML declaration, BOM), else detected from the bytes."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    candidates = [_header_charset(content_type_header)]
    head = body[:4096]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(head)
        if match:
            candidates.append(match.group(1).decode("ascii", "ignore"))
    for name in candidates:
        codec = _codec(name)
        if codec is not None:
            return codec
    if _decodes(body, "utf-8"):
        return "utf-8"
    guess = charset_normalizer.from_bytes(body[: 256 * 1024]).best()
    return _codec(guess.encoding if guess is not None else None) or "cp1252"


@functools.lru_cache(maxsize=64)
def _header_charset(content_type_header: str) -> str | None:
    """The ``charset`` parameter of a Content-Type header (cached: a site sends the same
    header with every page, and the email parser that reads it costs more than the rest
    of the detection)."""
    message = Message()
    message["Content-Type"] = content_type_header
    return message.get_content_charset()


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    return _WEB_ALIASES.get(codec, codec)


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True
