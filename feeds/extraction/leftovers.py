"""Leftovers automatic extraction keeps around an article, removed from its HTML (pure).

trafilatura finds the article, but on many sites it keeps a few blocks that are not part
of it: subscription and newsletter boxes, "follow us" and "download our app" lines,
copyright and affiliate notices, comment invitations, "read more" and "related" teasers,
metadata labels ("Category: ...", "Last modified: ..."), a byline on top, an author bio at
the bottom, and a block said twice (a pull quote, a standfirst also shown as text).
Each rule here is a general phrasing of one of those kinds, applied only to short blocks
(so that an article that talks about newsletters keeps its paragraphs), and some only
where such blocks sit: bylines among the first blocks, bios among the last.
The rules are written for English pages. (A rule dropping a trailing list of links was
measured and left out: on the development set it removed a roundup's own content and no
leftover.)
"""

from __future__ import annotations

import re

from feeds.html import HtmlElement, collapse_whitespace, fold
from feeds.patterns import compile_pattern

SHORT_BLOCK_WORDS = 60
"""Blocks longer than this are never leftovers: they are part of what is being said."""
_BLOCKS = ("p", "div", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "aside")
_EDGE = 3  # how many blocks count as "first" or "last"
_REPEAT_MIN_WORDS = 8  # a block this long said twice is said once
_LATIN = re.compile("[A-Za-z]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")

_ANYWHERE_PATTERNS = (
    # subscriptions and paywalls
    r"\bsubscribe\b.{0,60}\b(?:now|today|to (?:our|the|read|view|continue|get|access|unlock)"
    r"|for (?:the full|full|unlimited|more|free))",
    r"\b(?:please|to (?:read|view|continue reading|access|unlock)\b.{0,40}) ?subscribe",
    r"\balready (?:a )?subscriber|\bsubscribers? (?:also )?(?:receive|get|enjoy)\b",
    r"\blog ?in for (?:immediate|full|unlimited) access",
    # newsletters and alerts
    r"\bnewsletters?\b.{0,80}\b(?:sign|subscribe|inbox|email)",
    r"\b(?:sign|signing) up (?:for|to|now|today|here)\b",
    r"\bnever miss\b.{0,40}\b(?:news|story|stories|update|issue|post)",
    r"\b(?:delivered|straight) (?:straight )?to your inbox\b|\bin your inbox\b",
    r"^[\w&' -]{0,40} newsletter$",
    # social and apps
    r"\bfollow (?:us|[A-Z][\w.' ]{0,40}) on (?:twitter|facebook|instagram|linkedin|tiktok"
    r"|youtube|threads|mastodon|x)\b",
    r"\b(?:like|join|find) us on (?:facebook|twitter|instagram|linkedin)\b",
    r"\bdownload (?:the|our) [\w' ]{0,40}\bapps?\b",
    r"^(?:share(?: this(?: article| story| post| page)?| on| via| it)?\s*(?:[:!|]|$)"
    r"|share (?:this|on|via) |click to share)",
    # notices
    r"\ball rights reserved\b|\bcopyrighted property\b|\bwritten permission\b"
    r"|\bwithout (?:the )?(?:express |prior )?(?:written )?permission\b",
    r"\baffiliate (?:links?|commissions?|partners?)\b"
    r"|\bwe may (?:earn|receive|get) (?:a )?(?:small )?commission\b"
    r"|\b(?:contains|includes) (?:affiliate )?(?:links|references) to products\b"
    r"|\bwe recommend the best products\b",
    r"\bbonus value is an estimated value\b",
    r"\bnot responsible for (?:the )?(?:opinions|views|content|statements|comments)\b",
    # conversation
    r"\bleave a (?:comment|reply)\b|\bwe (?:want|would love|'d love) to hear (?:what you"
    r" think|from you)\b|\bletters? to the editor\b|\bshare your (?:thoughts|views)\b"
    r"|\bjoin the (?:conversation|discussion)\b|\b\d+ comments?\b$",
    r"\b(?:do you want|want) to be (?:informed|kept informed|notified)\b",
    # teasers and labels
    r"^(?:read|see) (?:more|also|next)\b|^more (?:from|on|stories|news)\b",
    r"^related(?: (?:articles?|stories|posts|tutorials|content|reading|links|news))?\s*:?$",
    r"^(?:[\w ]{0,20}\b)?(?:category|categories|tags?|topics?|filed under|posted (?:in|on|by)"
    r"|release date|news date|last (?:modified|updated)|updated on|published on)\s*:",
    r"^[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info|news|co\.uk)$",  # a site's name alone
)
# one pattern of alternatives, in RE2: a block is searched once in linear time, not once
# per phrasing (Python's engine took 9 times longer on the combined pattern)
_ANYWHERE = compile_pattern("|".join(f"(?:{p})" for p in _ANYWHERE_PATTERNS), case_sensitive=False)
_SHORT_ONLY = re.compile(  # metadata lines, which only ever come as short blocks
    r"\b(?:created|last (?:modified|updated))\s*:?\s*\d", re.IGNORECASE
)
_SHORT_LINE_WORDS = 20
_OPENING_WORDS = 8  # a longer block is a leftover when its first words are the call
_FIRST = re.compile(r"^[Bb]y [A-Z][^.!?]{1,80}$")  # a byline: the author is a field of its own
# "Jane Doe is a freelance writer based in ...", "... is professor emeritus of ..."
_LAST = re.compile(
    r"^(?:[A-Z][\w.'’-]+ ){1,4}(?:is|was) (?:an? |the )?(?:[\w&-]+ ){0,4}(?i:founder"
    r"|professor|writer|journalist|reporter|editor|columnist|contributor|author"
    r"|correspondent|consultant|director|lecturer|researcher|freelancer?)\b",
)


def drop_leftovers(root: HtmlElement) -> int:
    """Remove leftover blocks from an article's HTML; returns how many were removed."""
    blocks = _leaf_blocks(root)
    texts = [collapse_whitespace(element.text_content()) for element in blocks]
    dropped = 0
    for index, (element, text) in enumerate(zip(blocks, texts, strict=True)):
        words = text.count(" ") + 1
        if not text or words > SHORT_BLOCK_WORDS:
            continue
        if (
            _calls_for_action(text, words)
            or (words <= _SHORT_LINE_WORDS and _SHORT_ONLY.search(text))
            or (index < _EDGE and _FIRST.search(text))
            or (index >= len(blocks) - _EDGE and _LAST.search(text))
            or _disguised(text)
        ):
            dropped += 1
            element.drop_tree()
    return dropped


def _calls_for_action(text: str, words: int) -> bool:
    """Whether a block is one of the leftovers ``_ANYWHERE`` describes: a short one that
    says such a thing anywhere, a longer one only when it opens with it ("Subscribe now
    to ..."); article prose that ends on "... subscribe to the RSS feed" stays."""
    found = _ANYWHERE.search(text)
    if found is None:
        return False
    return words <= _SHORT_LINE_WORDS or text[: found.start()].count(" ") < _OPENING_WORDS


def drop_repeated_blocks(root: HtmlElement) -> int:
    """Remove a block that says again what an earlier one said (a pull quote, a
    standfirst the page also shows as a paragraph), compared folded; returns how many."""
    seen: set[str] = set()
    dropped = 0
    for element in _leaf_blocks(root):
        text = fold(element.text_content())
        if text.count(" ") + 1 < _REPEAT_MIN_WORDS:
            continue
        if text in seen:
            element.drop_tree()
            dropped += 1
        seen.add(text)
    return dropped


def _disguised(text: str) -> bool:
    """Words mixing Latin and Cyrillic letters ("Yоur соntеnt" with Cyrillic о, е): text
    disguised to slip past filters, which articles never are."""
    if not _CYRILLIC.search(text):
        return False
    mixed = sum(1 for word in text.split() if _LATIN.search(word) and _CYRILLIC.search(word))
    return mixed >= 3


def _leaf_blocks(root: HtmlElement) -> list[HtmlElement]:
    """The blocks of the article that hold no other block, in order."""
    return [element for element in root.iter(*_BLOCKS) if _is_leaf_block(element)]


def _is_leaf_block(element: HtmlElement) -> bool:
    return next(element.iterdescendants(*_BLOCKS), None) is None
