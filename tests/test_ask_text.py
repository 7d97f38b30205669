"""Property tests: an answer streamed a piece at a time shows exactly what the whole answer
would, never rewrites what it sent, and pings nobody, however the provider splits it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.blocks.streaming import settled, whole
from tests.test_blocks_kit import pings

PIECES = [
    "@", "@c", "@ch", "@chan", "@channel", "@channels", "@CHANNEL", "@here", "@her", "@heres",
    "@everyone", "@every", "@EveryOne!", "channel", "here", "everyone", "e", "s", "_", "1",
    "<!channel>", "<!here>", "<!everyone>", "<!subteam^S1|@team>", "<@U123>", "<", ">", "&",
    "&amp;", "\r", "\n", "\r\n", " ", "\x00", "\x1b", "\ud800", "é", "😀", "\u200b", "word ",
]  # fmt: skip

texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=30).map("".join)


def streamed(text: str, cuts: list[int]) -> list[str]:
    """What a stream appends when the text so far arrives cut at `cuts`, then ends."""
    sent, appended = "", []
    for end in [*sorted(set(cuts)), len(text)]:
        shown = settled(text[:end])
        assert shown.startswith(sent), "text already sent would need rewriting"
        appended.append(shown[len(sent) :])
        sent = shown
    appended.append(whole(text)[len(sent) :])
    return appended


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(texts, st.data())
def test_streamed_pieces_add_up_to_the_whole_answer_and_ping_nobody(
    text: str, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(text)), max_size=12))
    appended = streamed(text, cuts)
    assert "".join(appended) == whole(text)
    assert not pings("".join(appended))
    assert all(not pings(piece) for piece in appended)


def test_a_ping_word_split_across_pieces_is_held_until_it_is_known() -> None:
    assert streamed("say @chan" + "nel now", [9]) == ["say ", "@\u200bchannel now", ""]
    assert streamed("mail @here" + "s", [10]) == ["mail ", "@heres", ""]
    assert streamed("line\r" + "\nnext", [5]) == ["line", "\nnext", ""]
