"""Plain text to status HTML: escaping, links, mentions, hashtags, paragraphs and length."""

from __future__ import annotations

import pytest

from federation.content import (
    Mentioned,
    countable_length,
    hashtags_in,
    mentions_in,
    tag_path,
    to_html,
)

KNOWN = {
    ("alice", None): Mentioned("https://kith.test/@alice", "alice"),
    ("bob", "remote.example"): Mentioned("https://remote.example/@bob", "bob"),
}


def resolve(username: str, domain: str | None) -> Mentioned | None:
    return KNOWN.get((username.lower(), domain.lower() if domain else None))


def render(text: str) -> str:
    return to_html(
        text,
        resolve_mention=resolve,
        tag_url=lambda name: f"https://kith.test/tags/{tag_path(name)}",
    )


ALICE = (
    '<span class="h-card" translate="no"><a href="https://kith.test/@alice"'
    ' class="u-url mention">@<span>alice</span></a></span>'
)


def test_everything_is_escaped():
    html = render("<script>alert('x')</script> & \"quotes\"")
    assert html == (
        "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;</p>"
    )


def test_paragraphs_and_line_breaks():
    assert render("one\ntwo\n\nthree\r\n\r\n\r\nfour") == (
        "<p>one<br />two</p><p>three</p><p>four</p>"
    )
    assert render("  \n padded \n\n ") == "<p>padded</p>"
    assert render("   ") == ""


def test_links_are_safe_and_shortened():
    html = render("see https://example.com/a?b=1&c=<2> now")
    assert html == (
        '<p>see <a href="https://example.com/a?b=1&amp;c=" target="_blank"'
        ' rel="nofollow noopener noreferrer" translate="no"><span class="invisible">https://'
        '</span><span class="">example.com/a?b=1&amp;c=</span><span class="invisible"></span>'
        "</a>&lt;2&gt; now</p>"
    )
    long = render("https://www.example.com/" + "x" * 40)
    assert '<span class="invisible">https://www.</span>' in long
    assert '<span class="ellipsis">example.com/' + "x" * 18 + "</span>" in long
    assert '<span class="invisible">' + "x" * 22 + "</span>" in long


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("end https://example.com/page.", "https://example.com/page"),
        ("(https://example.com/page)", "https://example.com/page"),
        ("https://en.wikipedia.org/wiki/Foo_(bar)!", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ('"http://example.com/x?"', "http://example.com/x"),
    ],
)
def test_link_ends_before_trailing_punctuation(text: str, href: str):
    assert f'<a href="{href}"' in render(text)


def test_not_links():
    assert "<a" not in render("https:// nothing, ftp://example.com, javascript:alert(1)")
    assert "<a" not in render("xhttps://example.com")


def test_known_mentions_become_h_cards_and_unknown_stay_text():
    html = render("hi @alice, @Alice and @bob@remote.example; not @carol or @bob@else.example")
    # Shown with the account's own spelling, whatever case was typed.
    assert html.count(ALICE) == 2
    assert (
        '<a href="https://remote.example/@bob" class="u-url mention">@<span>bob</span></a>'
    ) in html
    assert "not @carol or @bob@else.example</p>" in html


def test_mentions_need_a_boundary():
    assert render("mail me at someone@alice.example") == "<p>mail me at someone@alice.example</p>"
    assert "mention" not in render("https://example.com/@alice")


def test_hashtags_including_unicode():
    html = render("#Kith and #café, #हिन्दी #日本語 but not #123, a#b or https://x.example/#frag")
    assert (
        '<a href="https://kith.test/tags/kith" class="mention hashtag" rel="tag">'
        "#<span>Kith</span></a>"
    ) in html
    assert 'href="https://kith.test/tags/caf%C3%A9"' in html
    assert "#<span>café</span></a>," in html
    assert "#<span>हिन्दी</span>" in html
    assert "#<span>日本語</span>" in html
    assert "#123" in html and "a#b" in html and "/#frag" in html
    assert html.count('rel="tag"') == 4


def test_extraction_deduplicates_case_insensitively():
    text = "@alice @ALICE @bob@Remote.Example @bob@remote.example. #Tag #tag #other"
    assert mentions_in(text) == [("alice", None), ("bob", "Remote.Example")]
    assert hashtags_in(text) == ["Tag", "other"]


def test_countable_length_counts_links_as_23_and_remote_mentions_by_username():
    assert countable_length("hello") == 5
    assert countable_length("https://example.com/" + "x" * 200) == 23
    assert countable_length("@bob@remote.example") == len("@bob")
    assert countable_length("@alice") == len("@alice")
