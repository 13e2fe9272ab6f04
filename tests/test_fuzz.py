"""Property tests (hypothesis): whatever text a page or a config holds, feeds either
handles it or says what is wrong, and every feed it writes parses strictly."""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from ruamel.yaml import YAML

from feeds.config import load_config
from feeds.errors import ConfigError
from feeds.extraction.normalise import normalise
from feeds.models import Article, Link
from feeds.publishing.formats import FORMATS, render
from tests.test_publish import CHANNEL as PUBLISH_CHANNEL

NOW = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
CHANNEL = replace(PUBLISH_CHANNEL, feed_id="fuzz")
STRICT_XML = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)

# any Unicode, surrogates and controls included (what a broken page can decode to)
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
MARKUP = st.sampled_from(
    ["<p>", "</p>", "<b>", "</b>", "<a href='https://x.example/'>", "</a>", "<img src=x>",
     "<script>", "</script>", "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#x1;",
     "&lt;", "<", ">", "&", '"', "'", "\x00", "\ufffe", "\ud800", "]]>", "<svg>", "<br/>"]
)  # fmt: skip
HTML_ISH = st.lists(st.one_of(ANY_TEXT, MARKUP), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    title=st.one_of(ANY_TEXT, HTML_ISH),
    author=st.one_of(st.none(), ANY_TEXT),
    body=st.one_of(ANY_TEXT, HTML_ISH),
    description=st.one_of(st.none(), ANY_TEXT),
    categories=st.lists(ANY_TEXT, max_size=3),
)
def test_any_text_normalises_and_publishes_as_strict_xml_and_json(
    title: str, author: str | None, body: str, description: str | None, categories: list[str]
) -> None:
    article = Article(
        url="https://herald.example/news/1",
        title=title,
        html=body,
        text=body,
        author=author,
        description=description,
        categories=tuple(categories),
    )
    link = Link("https://herald.example/news/1", "fuzz")
    item = normalise(article, link, feed="fuzz", first_seen=NOW)
    for fmt in FORMATS.values():
        document = render(CHANNEL, [item], fmt)
        document.decode("utf-8")  # strict UTF-8
        if fmt.name == "json":
            parsed = json.loads(document)
            assert parsed["items"][0]["id"] == item.id
        else:
            root = etree.fromstring(document, STRICT_XML)
            assert root is not None
            html_fields = [e.text for e in root.iter() if isinstance(e.tag, str) and e.text]
            for html in html_fields:  # no embedded text breaks its own element either
                assert "\x00" not in html


# the config loader: any document gives a config or a ConfigError, nothing else

KEYS = st.sampled_from(
    ["settings", "feeds", "sources", "url", "path", "links", "extract", "body", "remove",
     "interval", "max_items", "output_dir", "state_dir", "base_url", "title", "formats",
     "include", "exclude", "kind", "robots", "headers", "cookies", "allow_domains",
     "url_pattern", "max_pages", "next_page", "refresh", "schedule", "per_host_delay",
     "parallel_feeds", "extract_workers", "websub_hub", "language", "icon", "news", "x"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    ANY_TEXT.filter(lambda text: "\x00" not in text),
    st.sampled_from(["1h", "30m", "-1s", "0", "http://127.0.0.1/", "a[", "*/5 * * * *", "..", "/"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(KEYS, st.text(max_size=8)), children, max_size=5),
    ),
    max_leaves=25,
)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=4)


def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "feeds.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path)
        except ConfigError as error:
            assert str(error)  # a message to show


def dump(document: Any) -> str:
    yaml = YAML(typ="safe")
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS)
def test_any_yaml_structure_loads_or_gives_a_config_error(document: dict[str, Any]) -> None:
    load_text(dump(document))


@settings(max_examples=400, deadline=None)
@given(
    document=st.builds(
        lambda feed, source: {"feeds": {feed: {"sources": [source]}}},
        st.one_of(st.text(max_size=10), KEYS),
        st.dictionaries(KEYS, VALUES, max_size=4),
    )
)
@example(document={"feeds": {"a": {"sources": [{"path": None}]}}})  # found by this test
def test_any_source_entry_loads_or_gives_a_config_error(document: dict[str, Any]) -> None:
    load_text(dump(document))


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(ANY_TEXT, st.lists(st.sampled_from(
    ["feeds:", "settings:", "  ", "- ", ": ", "{", "}", "[", "]", "&a", "*a", "!!python/object", "\n",
     "url:", "'", '"', "#", "|", ">", "? ", "%YAML 1.2", "---", "...", "<<: *a", "\t"]
), max_size=40).map("".join)))  # fmt: skip
@example(text="? - :")  # a sequence as a key: found by this test
def test_any_text_loads_or_gives_a_config_error(text: str) -> None:
    load_text(text)
