"""Links and inline formatting put back into an extracted article, from the page (pure).

trafilatura picks the article's blocks best without links and formatting: asked to keep
them, it keeps other blocks (a 115-word first paragraph lost, a publisher's blurb kept on
the development sets), and it resolves links against the site's root rather than the
page. So text extraction runs without them, and each block of the article that stands on
the page with exactly the same text gets that page block's inline markup back (links,
emphasis, code, line breaks, the images that stand in its text) as the page wrote it,
its addresses read as a browser reads them (normalising resolves them against the
document's base, as every address of the content), to be sanitised with the rest. A
block whose text differs (extraction trimmed or joined it) keeps its plain text;
``restore_media`` places the page's other images.
"""

from __future__ import annotations

import copy
from collections import deque

from feeds.extraction.media import MIN_INLINE_IMAGE_SIDE, page_image
from feeds.html import HtmlElement
from feeds.urls import url_attribute

LEAF_BLOCKS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt", "td",
    "th", "figcaption", "div", "section", "article",
)  # fmt: skip
"""Block elements whose inline content can be carried over, when they hold no other block."""
_BLOCK_TAGS = frozenset(
    (*LEAF_BLOCKS, "ul", "ol", "dl", "table", "tbody", "thead", "tr", "figure", "main",
     "header", "footer", "aside", "nav", "form", "fieldset", "details", "hr")
)  # fmt: skip
_LEFT_OUT = ("picture", "source", "svg", "iframe", "video", "audio", "object", "embed", "button",
             "input", "select", "textarea", "template")  # fmt: skip
_MIN_KEY_CHARS = 2


def restore_inline(article: HtmlElement, page: HtmlElement, base: str) -> int:
    """Give each leaf block of ``article`` the inline markup of the page block with the
    same text (blocks that read alike are matched in order), the images in it resolved
    against the document's ``base`` as ``restore_media`` resolves the others; how many
    got it."""
    waiting: dict[str, deque[HtmlElement]] = {}
    for block in _leaf_blocks(article):
        key = _key(block)
        if len(key) >= _MIN_KEY_CHARS:
            waiting.setdefault(key, deque()).append(block)
    if not waiting:
        return 0
    restored = 0
    for on_page in _leaf_blocks(page):
        if on_page.find(".//*") is None:
            continue  # plain text on the page too: nothing to carry over
        # as the page reads, or without what it hides when extraction left that out
        queue = waiting.get(_key(on_page))
        hidden_dropped = False
        if not queue:
            queue = waiting.get(_key(on_page, visible=True))
            hidden_dropped = True
        if not queue:
            continue
        _take_inline(queue.popleft(), on_page, base, hidden_dropped)
        restored += 1
    return restored


def _leaf_blocks(root: HtmlElement) -> list[HtmlElement]:
    """The blocks of ``root`` that hold no other block, in document order: its blocks less
    their ancestors (marked up to the first one marked already)."""
    blocks = list(root.iter(*_BLOCK_TAGS))
    holding: set[HtmlElement] = set()
    for block in blocks:
        for ancestor in block.iterancestors():
            if ancestor in holding:
                break
            holding.add(ancestor)
    return [b for b in blocks if b.tag in LEAF_BLOCKS and b not in holding and b is not root]


def _key(element: HtmlElement, *, visible: bool = False) -> str:
    """The block's text without spaces; with ``visible``, without what the page hides
    (``display: none``, ``hidden``: a formula's MathML beside its image)."""
    if visible and any(_hidden(e) for e in element.iterdescendants()):
        return "".join(_visible_text(element).split())
    return "".join(element.text_content().split())


def _hidden(element: HtmlElement) -> bool:
    if not isinstance(element.tag, str):
        return False
    style = element.get("style", "").replace(" ", "").lower()
    return element.get("hidden") is not None or "display:none" in style


def _visible_text(element: HtmlElement) -> str:
    parts = [element.text or ""]
    for child in element:
        if not _hidden(child) and isinstance(child.tag, str):
            parts.append(_visible_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _take_inline(block: HtmlElement, on_page: HtmlElement, base: str, hidden_dropped: bool) -> None:
    for child in list(block):
        block.remove(child)
    block.text = on_page.text
    for child in on_page:
        block.append(copy.deepcopy(child))
    left_out = [
        element
        for element in block.iter()
        if element is not block
        and (element.tag in _LEFT_OUT or (hidden_dropped and _hidden(element)))
    ]
    for element in left_out:
        element.drop_tree()  # keeps its tail
    for image in list(block.iter("img")):  # an image in the text: a formula, a flag
        clean = page_image(image, base, min_side=MIN_INLINE_IMAGE_SIDE)
        parent = image.getparent()
        if clean is None or parent is None:
            image.drop_tree()
        else:
            clean.tail = image.tail
            parent.replace(image, clean)
    # read as a browser reads them (normalising resolves them): serialising would escape
    # the spaces a page leaves around an address (``href=" https://a.example/ "``)
    for element in block.iter("a", "q", "blockquote", "del", "ins"):
        for name in ("href", "cite"):
            value = element.get(name)
            if value is not None:
                element.set(name, url_attribute(value))
