"""Images, captions and embedded media, put back into an extracted article (pure).

Text extraction runs without images (taking them into account changes which text blocks
trafilatura keeps), does not reliably keep captions, and drops ``<iframe>``, ``<video>``
and ``<audio>``, which sanitising would remove anyway: a video the article is about would
silently vanish. All three are recovered from the page itself, in one walk over it:

- each image of the page that stands between two blocks of the article (or just before
  its first block) is put back there, its real address found behind lazy-loading
  placeholders (``data-src``, ``data-original``, ``srcset``, a ``<noscript>`` copy);
- each embed (YouTube, Vimeo, Dailymotion, other known media players, ``<video>``,
  ``<audio>``) becomes a link to the media, with a thumbnail where the service has a
  fixed thumbnail address, placed after the page paragraph that precedes it, if that
  paragraph is part of the article (so a sidebar widget does not come in);
- each image of the article gets the caption it has on the page (its ``figure``'s
  ``figcaption``, or a caption block beside it), as ``<figure><img><figcaption>``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from feeds.html import HtmlElement, ascii_number, collapse_whitespace
from feeds.urls import is_web_url, resolve

MAX_CAPTION = 400
EMBED_MARK = "data-feeds-embed"
"""Marks an embed's thumbnail, so that it is never taken for the article's main image."""
_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd")
_TEXT_BOXES = ("div", "section")
_CAPTION_CLASS = re.compile(r"caption|credit", re.IGNORECASE)
_SMALL_CONTAINER = 3  # children of a box that holds an image and its caption
_EMBED_TAGS = ("iframe", "video", "audio")
_INNER_BLOCK = etree.XPath("boolean(.//p | .//li | .//h2 | .//h3 | .//blockquote)")
_KEY_CHARS = 60
_MIN_KEY_CHARS = 16  # a block with fewer characters (spaces aside) says too little to place
MIN_IMAGE_SIDE = 48
"""Pixels: an image standing alone with a smaller side is an icon, a button, a tracker."""
MIN_INLINE_IMAGE_SIDE = 8
"""Pixels: an image in a line of text (a formula, a symbol) may be small; a tracker not."""
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|svg)(?:[?#]|$)", re.IGNORECASE)
_LAZY_SRC_ATTRIBUTES = (
    "data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-hi-res-src",
)  # fmt: skip
_SRCSET_ATTRIBUTES = ("data-srcset", "data-lazy-srcset", "srcset")
_PLACEHOLDER = re.compile(
    r"placeholder|blank\.|spacer|transparent|1x1|pixel\.|lazy|loading|gr[ae]y\.gif", re.I
)
_YOUTUBE = re.compile(r"(?:youtube(?:-nocookie)?\.com/(?:embed|v|shorts)/|youtu\.be/)([\w-]{11})")
_VIMEO = re.compile(r"player\.vimeo\.com/video/(\d+)")
_DAILYMOTION = re.compile(r"dailymotion\.com/embed/video/(\w+)")
_MEDIA_HOSTS = {
    "open.spotify.com": "Spotify",
    "w.soundcloud.com": "SoundCloud",
    "bandcamp.com": "Bandcamp",
    "embed.podcasts.apple.com": "Apple Podcasts",
    "www.tiktok.com": "TikTok",
    "player.twitch.tv": "Twitch",
    "codepen.io": "CodePen",
    "www.google.com": "Google Maps",
    "archive.org": "the Internet Archive",
    "www.ted.com": "TED",
    "embed.ted.com": "TED",
}


@dataclass(frozen=True, slots=True)
class Embed:
    """An embedded player, as a link a feed reader can show."""

    url: str
    service: str
    title: str
    thumbnail: str | None = None

    def html(self) -> HtmlElement:
        """``<figure>`` with the thumbnail (if any) and a caption linking the media."""
        figure = lxml.html.Element("figure")
        if self.thumbnail:
            link = lxml.html.Element("a", href=self.url)
            thumbnail = lxml.html.Element("img", src=self.thumbnail, alt=f"Video: {self.title}")
            thumbnail.set(EMBED_MARK, "")  # not the article's own image (sanitising drops it)
            link.append(thumbnail)
            figure.append(link)
        caption = lxml.html.Element("figcaption")
        link = lxml.html.Element("a", href=self.url)
        link.text = f"{self.title} ({self.service})"
        caption.append(link)
        figure.append(caption)
        return figure


def restore_media(article: HtmlElement, page: HtmlElement, base: str, *, images: bool) -> None:
    """Put embeds and captions of ``page`` back into the extracted ``article``, and with
    ``images`` (text extraction ran without them) its images too."""
    _MediaWalk(article, base, images=images).walk(page)
    attach_captions(article, page, base)


def attach_captions(article: HtmlElement, page: HtmlElement, base: str) -> None:
    """Wrap each image of the article in a figure with the caption it has on the page,
    when text extraction kept that caption (as a paragraph of its own, which goes): a
    caption it left out is not added as text (on the development sets such captions were
    as often credits and boilerplate as description, a ``<figcaption>`` included: adding
    those cost text precision on the checking half) but becomes the image's ``alt``."""
    if article.find(".//img") is None:
        return
    captions = dict(_page_captions(page, base))
    if not captions:
        return
    for image in list(article.iter("img")):
        caption = captions.get(resolve(base, image.get("src", "")) or "")
        if not caption or image.getparent() is None:
            continue
        figure = image.getparent()
        if not _take_caption_block(article, caption, figure):
            if not image.get("alt"):
                image.set("alt", caption)
            continue
        if figure is None or figure.tag != "figure":
            figure = lxml.html.Element("figure")
            image.addprevious(figure)
            figure.append(image)  # moves the image, with its tail
            figure.tail, image.tail = image.tail, None
        if figure.find("figcaption") is None:
            figcaption = lxml.html.Element("figcaption")
            figcaption.text = caption
            figure.append(figcaption)


def image_source(image: HtmlElement) -> tuple[str | None, str | None]:
    """Where an ``<img>`` really loads from, behind lazy loading: ``(src, srcset)``.

    A lazy-loading attribute (``data-src``, ``data-original``...) wins over ``src``, which
    then holds a placeholder; a ``src`` that is a data URI or looks like a placeholder
    gives way to the best candidate of ``srcset`` (or ``data-srcset``)."""
    srcset = next((image.get(name) for name in _SRCSET_ATTRIBUTES if image.get(name)), None)
    lazy = next(
        (value for name in _LAZY_SRC_ATTRIBUTES if _address(value := image.get(name) or "")), None
    )
    if lazy:
        return lazy.strip(), srcset
    src = (image.get("src") or "").strip()
    usable = bool(src) and not src.startswith("data:")
    best = best_candidate(srcset) if srcset else None
    if best and (not usable or _PLACEHOLDER.search(src)):
        return best, srcset
    return (src if usable else None), srcset


def _address(value: str) -> bool:
    """Whether a lazy-loading attribute holds an image's address (some hold JSON, or a
    data URI placeholder)."""
    value = value.strip()
    return bool(value) and not value.startswith(("data:", "{", "[")) and '"' not in value


def best_candidate(srcset: str) -> str | None:
    """The largest image of a ``srcset`` (by its ``w`` or ``x`` descriptor)."""
    best, best_size = None, -1.0
    for candidate in srcset.split(","):
        parts = candidate.split()
        if not parts or parts[0].startswith("data:"):
            continue
        descriptor = parts[1] if len(parts) > 1 else "1x"
        try:
            size = float(descriptor[:-1]) if descriptor[-1:] in ("w", "x") else 1.0
        except ValueError:
            size = 1.0
        if size > best_size:
            best, best_size = parts[0], size
    return best


class _MediaWalk:
    """One walk over the page in document order, noting which of its text blocks are the
    article's, and placing the page's images (between two article blocks) and embeds
    (after an article block) into the article."""

    def __init__(self, article: HtmlElement, base: str, *, images: bool) -> None:
        self.base = base
        self.images = images
        # blocks by key, in order: blocks that begin alike are matched one after the other
        self.blocks: dict[str, deque[HtmlElement]] = {}
        for element, text in _block_texts(article):
            self.blocks.setdefault(_key(text), deque()).append(element)
        self.seen = {link.get("href", "") for link in article.iter("a")} | {
            image.get("src", "") for image in article.iter("img")
        }
        self.anchor: HtmlElement | None = None  # the article block the walk last passed
        self.anchor_on_page: HtmlElement | None = None  # the same block on the page
        self.started = False  # whether an article block has been passed
        self.pending: list[tuple[HtmlElement, HtmlElement]] = []  # (on the page, new image)
        self.placed: dict[HtmlElement, HtmlElement] = {}  # anchor -> last element put after it

    def walk(self, page: HtmlElement) -> None:
        if not self.blocks:
            return
        wanted = (*_BLOCKS, *_TEXT_BOXES, *_EMBED_TAGS, *(("img",) if self.images else ()))
        for element in page.iter(*wanted):
            if element.tag == "img":
                self._image(element)
            elif element.tag in _EMBED_TAGS:
                self._embed(element)
            elif element.tag in _TEXT_BOXES:
                self._text_box(element)
            else:
                self._block(element)
        self._settle()

    def _text_box(self, element: HtmlElement) -> None:
        """A ``<div>`` that holds text and no block: one of the article's blocks when it
        reads as one (pages that write paragraphs as divs), else nothing to judge by (a
        container's text begins as its first block's)."""
        if element.find("div") is not None or _INNER_BLOCK(element):
            return
        if self.blocks.get(_key(element.text_content())):
            self._block(element)

    def _block(self, element: HtmlElement) -> None:
        key = _key(element.text_content())
        if len(key) < _MIN_KEY_CHARS:
            return
        waiting = self.blocks.get(key)
        block = waiting.popleft() if waiting else None
        if block is None:
            if self.anchor is None and not self.pending:
                return  # outside the article with nothing waiting: nothing to change
            if _in_caption(element) or _INNER_BLOCK(element):
                return  # a caption, or a container whose own blocks are judged one by one
            self._settle()  # images followed by text that is not the article's
            self.anchor = self.anchor_on_page = None
            return
        if self.pending:
            if self.anchor is not None:
                for _, image in self.pending:
                    self._put_after(self.anchor, image)
            elif not self.started:  # a lead image, right before the article's first block
                for _, image in self.pending:
                    block.addprevious(image)
            self.pending.clear()
        self.anchor, self.anchor_on_page, self.started = block, element, True

    def _settle(self) -> None:
        """Keep the waiting images that sit in the same container as the article block
        before them (an image closing the article, or its section: the block's own
        wrapper aside), drop the others."""
        container = self._section_of(self.anchor_on_page)
        if self.anchor is not None and container is not None:
            for on_page, image in self.pending:
                if any(ancestor is container for ancestor in on_page.iterancestors()):
                    self._put_after(self.anchor, image)
        self.pending.clear()

    @staticmethod
    def _section_of(block: HtmlElement | None) -> HtmlElement | None:
        """The container a block stands in, past wrappers that hold it alone
        (``<div class="content"><span><p>``)."""
        container = block.getparent() if block is not None else None
        while (
            container is not None
            and container.getparent() is not None
            and len(container) == 1
            and container.tag not in ("body", "article", "main", "section")
        ):
            container = container.getparent()
        return container

    def _image(self, element: HtmlElement) -> None:
        image = page_image(element, self.base)
        if image is not None and image.get("src") not in self.seen:
            self.seen.add(image.get("src", ""))
            self.pending.append((element, image))

    def _embed(self, element: HtmlElement) -> None:
        if self.anchor is None:
            return
        embed = _embed(element, self.base)
        if embed is not None and embed.url not in self.seen:
            self._put_after(self.anchor, embed.html())
            self.seen.add(embed.url)

    def _put_after(self, anchor: HtmlElement, element: HtmlElement) -> None:
        self.placed.get(anchor, anchor).addnext(element)
        self.placed[anchor] = element


def _block_texts(article: HtmlElement) -> Iterator[tuple[HtmlElement, str]]:
    for element in article.iter(*_BLOCKS):
        text = element.text_content()
        if len(_key(text)) >= _MIN_KEY_CHARS:
            yield element, text


def _key(text: str) -> str:
    """What a block is recognised by on the page: its first characters, spaces aside
    (extraction sometimes adds or drops a space at inline markup)."""
    return "".join(text[: 4 * _KEY_CHARS].split())[:_KEY_CHARS]


def _in_caption(element: HtmlElement) -> bool:
    """Caption text, which belongs with its image and says nothing of where it stands."""
    for ancestor in (element, *list(element.iterancestors())[:3]):
        if ancestor.tag in ("figure", "figcaption") or _is_caption(ancestor):
            return True
    return False


def page_image(
    element: HtmlElement, base: str, *, min_side: int = MIN_IMAGE_SIDE
) -> HtmlElement | None:
    """A clean ``<img>`` for an image of the page, or None for what is not an article's
    image: icons and pixels (a side under ``min_side`` pixels), images in navigation,
    asides and footers, thumbnails linking to other pages."""
    for size in (element.get("width"), element.get("height")):
        if size and ascii_number(size.strip()) and int(size) < min_side:
            return None
    for ancestor in element.iterancestors():
        if ancestor.tag in ("nav", "aside", "footer", "button"):
            return None
        if ancestor.tag == "a" and _teaser_link(ancestor):
            return None
    src, srcset = image_source(element)
    url = resolve(base, src) if src else None
    if url is None or not is_web_url(url):
        return None
    image = lxml.html.Element("img", src=url)
    for name in ("alt", "title", "width", "height"):
        value = element.get(name)
        if value:
            image.set(name, value)
    if srcset:
        image.set("srcset", srcset)
    return image


def _teaser_link(link: HtmlElement) -> bool:
    """Whether an image's link makes it a teaser of another page (a thumbnail beside a
    headline), not the article's picture: a link that holds text of its own. A picture
    that links to its larger version, its photo page or a gallery (``href="#"``) holds
    nothing but the image (and its caption, in a figure)."""
    if _IMAGE_FILE.search(link.get("href", "")):
        return False
    caption = "".join(figcaption.text_content() for figcaption in link.iter("figcaption"))
    return len("".join(link.text_content().split())) > len("".join(caption.split()))


def _page_captions(page: HtmlElement, base: str) -> Iterator[tuple[str, str]]:
    """(image URL, caption) for every captioned image of the page."""
    for image in page.iter("img"):
        caption = _caption_of(image)
        if not caption or len(caption) > MAX_CAPTION:
            continue
        src, _ = image_source(image)
        url = resolve(base, src) if src else None
        if url is not None:
            yield url, caption


def _caption_of(image: HtmlElement) -> str | None:
    """The caption of an image on the page: its figure's ``figcaption``, else a caption
    block right after it, or beside it in a small container of its own."""
    for ancestor in list(image.iterancestors())[:4]:
        if ancestor.tag == "figure":
            figcaption = ancestor.find(".//figcaption")
            if figcaption is None:
                return None
            return collapse_whitespace(figcaption.text_content()) or None
    element = image
    parent = image.getparent()
    if parent is not None and parent.tag in ("a", "picture", "span") and len(parent) == 1:
        element = parent  # the image's own wrapper
    following = element.getnext()
    if following is not None and _is_caption(following):
        return collapse_whitespace(following.text_content()) or None
    container = element.getparent()
    if container is not None and len(container) <= _SMALL_CONTAINER:
        for child in container:
            if child is not element and _is_caption(child):
                return collapse_whitespace(child.text_content()) or None
    return None


def _is_caption(element: HtmlElement) -> bool:
    return isinstance(element.tag, str) and bool(_CAPTION_CLASS.search(element.get("class", "")))


def _take_caption_block(article: HtmlElement, caption: str, figure: HtmlElement | None) -> bool:
    """Remove the blocks of the article that hold only this caption (extraction keeps a
    caption as a paragraph of its own), but the image's own ``figcaption``; whether
    extraction kept the caption at all."""
    kept = False
    for block in list(article.iter("p", "div", "figcaption")):
        if collapse_whitespace(block.text_content()) != caption or block.find(".//img") is not None:
            continue
        kept = True
        if not (block.tag == "figcaption" and block.getparent() is figure):
            block.drop_tree()
    return kept


def _embed(element: HtmlElement, base: str) -> Embed | None:
    if element.tag in ("video", "audio"):
        source = element.get("src") or next(
            (s.get("src") for s in element.iter("source") if s.get("src")), None
        )
        url = resolve(base, source or "")
        if url is None or not is_web_url(url):
            return None
        poster = resolve(base, element.get("poster", "")) if element.get("poster") else None
        kind = "Video" if element.tag == "video" else "Audio"
        return Embed(url, "file", element.get("title") or kind, poster)
    src = element.get("src") or element.get("data-src") or ""
    url = resolve(base, src) if src else None
    if url is None or not is_web_url(url):
        return None
    title = collapse_whitespace(element.get("title", "")) or "Video"
    if match := _YOUTUBE.search(url):
        video = match.group(1)
        return Embed(
            f"https://www.youtube.com/watch?v={video}",
            "YouTube",
            title,
            f"https://i.ytimg.com/vi/{video}/hqdefault.jpg",
        )
    if match := _VIMEO.search(url):
        return Embed(f"https://vimeo.com/{match.group(1)}", "Vimeo", title)
    if match := _DAILYMOTION.search(url):
        video = match.group(1)
        return Embed(
            f"https://www.dailymotion.com/video/{video}",
            "Dailymotion",
            title,
            f"https://www.dailymotion.com/thumbnail/video/{video}",
        )
    service = _MEDIA_HOSTS.get(urlsplit(url).hostname or "")
    if service is None:
        return None  # ads, trackers, like buttons: not media
    return Embed(url, service, collapse_whitespace(element.get("title", "")) or "Embedded media")
