"""Images' captions and embedded media, put back into an extracted article (pure).

trafilatura keeps an article's images but not reliably their captions, and it drops
``<iframe>``, ``<video>`` and ``<audio>``, which sanitising would remove anyway: a video
the article is about would silently vanish. Both are recovered from the page itself:

- each image of the article gets the caption it has on the page (its ``figure``'s
  ``figcaption``, or a caption block beside it), as ``<figure><img><figcaption>``;
- each embed (YouTube, Vimeo, Dailymotion, other known media players, ``<video>``,
  ``<audio>``) becomes a link to the media, with a thumbnail where the service has a
  fixed thumbnail address, placed after the page paragraph that precedes it, if that
  paragraph is part of the article (so a sidebar widget does not come in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.html

from feeds.html import HtmlElement, collapse_whitespace
from feeds.urls import is_web_url, resolve

MAX_CAPTION = 400
EMBED_MARK = "data-feeds-embed"
"""Marks an embed's thumbnail, so that it is never taken for the article's main image."""
_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd")
_CAPTION_CLASS = re.compile(r"caption|credit", re.IGNORECASE)
_SMALL_CONTAINER = 3  # children of a box that holds an image and its caption
_ANCHOR_MIN_CHARS = 20
_EMBED_TAGS = ("iframe", "video", "audio")
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


def restore_media(article: HtmlElement, page: HtmlElement, base: str) -> None:
    """Put captions and embeds of ``page`` back into the extracted ``article``."""
    attach_captions(article, page, base)
    insert_embeds(article, page, base)


def attach_captions(article: HtmlElement, page: HtmlElement, base: str) -> None:
    """Wrap each image of the article that has a caption on the page in a figure."""
    captions = dict(_page_captions(page, base))
    if not captions:
        return
    for image in list(article.iter("img")):
        caption = captions.get(resolve(base, image.get("src", "")) or "")
        if not caption or image.getparent() is None:
            continue
        _drop_duplicate_block(article, caption)
        figure = image.getparent()
        if figure is None or figure.tag != "figure":
            figure = lxml.html.Element("figure")
            image.addprevious(figure)
            figure.append(image)  # moves the image, with its tail
            figure.tail, image.tail = image.tail, None
        if figure.find("figcaption") is None:
            figcaption = lxml.html.Element("figcaption")
            figcaption.text = caption
            figure.append(figcaption)


def insert_embeds(article: HtmlElement, page: HtmlElement, base: str) -> None:
    """Put a link to each embedded player of the page where it sat in the article."""
    anchors: list[str] = []  # texts of the page's blocks so far, in page order
    placed: list[tuple[str, Embed]] = []
    for element in page.iter():
        if element.tag in _BLOCKS:
            text = collapse_whitespace(element.text_content())
            if len(text) >= _ANCHOR_MIN_CHARS:
                anchors.append(text)
        elif element.tag in _EMBED_TAGS and anchors:
            embed = _embed(element, base)
            if embed is not None:
                placed.append((anchors[-1], embed))
    if not placed:
        return
    targets = {
        collapse_whitespace(element.text_content()): element for element in article.iter(*_BLOCKS)
    }
    seen = {link.get("href", "") for link in article.iter("a")}
    for anchor_text, embed in placed:
        anchor = targets.get(anchor_text)
        if anchor is not None and embed.url not in seen:
            anchor.addnext(embed.html())
            seen.add(embed.url)


def _page_captions(page: HtmlElement, base: str) -> Iterator[tuple[str, str]]:
    """(image URL, caption) for every captioned image of the page."""
    for image in page.iter("img"):
        caption = _caption_of(image)
        if not caption or len(caption) > MAX_CAPTION:
            continue
        for name in ("src", "data-src", "data-lazy-src", "data-original"):
            value = image.get(name)
            url = resolve(base, value) if value and not value.startswith("data:") else None
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


def _drop_duplicate_block(article: HtmlElement, caption: str) -> None:
    """trafilatura sometimes keeps a caption as a paragraph of its own: it goes."""
    for block in list(article.iter("p", "div")):
        if collapse_whitespace(block.text_content()) == caption and not len(
            block.findall(".//img")
        ):
            block.drop_tree()


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
