"""Fake research answers for the OpenAI stand-in.

The stand-in must return text that looks like a deep-research answer (markdown with a heading,
paragraphs, a bulleted list, numbered sources and ``url_citation`` annotations) so the Slack
rendering, chunking and citation code is exercised on realistic shapes. Everything is derived
from a hash of the question, so the same question always yields the same answer: stream events
can be replayed byte-for-byte and tests can assert on stable output.

The length is exact: ``research_answer(q, chars=20_000)`` returns exactly 20,000 characters,
which lets tests probe Slack's message-size limits precisely.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

DEFAULT_CHARS = 2400
_SOURCE_COUNT = 5

_TITLE_WORDS = ("Survey", "Field study", "Review", "Working paper", "Briefing", "Dataset notes")
_PUBLISHERS = (
    "Institute for Applied Studies",
    "Open Research Collective",
    "Policy Lab",
    "Data Desk",
)
_CLAIMS = (
    "Recent work on {t} converges on a small number of explanatory factors.",
    "Most published estimates for {t} fall within a fairly narrow band.",
    "Practitioners describe {t} as sensitive to implementation details more than to design.",
    "Longitudinal data on {t} show gradual rather than abrupt change.",
    "Comparative studies of {t} highlight strong regional variation.",
    "The evidence base for {t} is broad but uneven in quality.",
    "Several independent teams report consistent results for {t}.",
    "Cost and adoption barriers remain the main open questions around {t}.",
)
_LINKS = (
    "Measurement choices explain much of the disagreement between sources.",
    "Sample sizes in the earlier studies were modest, so later replications carry more weight.",
    "Where results diverge, the newer datasets tend to be more granular.",
    "The trend holds after controlling for the obvious confounders.",
    "Experts caution against extrapolating beyond the observed range.",
    "Follow-up analyses largely confirm the original direction of the effect.",
    "A minority view argues that the effect is overstated in secondary reporting.",
    "Open datasets make it possible to check most of these claims directly.",
)


@dataclass(frozen=True)
class Citation:
    """A ``url_citation`` span: ``text[start_index:end_index]`` is the markdown link."""

    url: str
    title: str
    start_index: int
    end_index: int

    def to_annotation(self) -> dict[str, object]:
        """Render in the exact shape of the API's ``UrlCitationBody``."""
        return {
            "type": "url_citation",
            "url": self.url,
            "title": self.title,
            "start_index": self.start_index,
            "end_index": self.end_index,
        }


@dataclass(frozen=True)
class ResearchText:
    """Answer text plus the citations that point into it."""

    text: str
    citations: tuple[Citation, ...] = ()

    def truncated(self, length: int) -> ResearchText:
        """Cut to ``length`` characters, keeping only citations that still fit entirely."""
        kept = tuple(c for c in self.citations if c.end_index <= length)
        return ResearchText(self.text[:length], kept)

    def annotations(self) -> list[dict[str, object]]:
        """All citations as API annotation dicts."""
        return [c.to_annotation() for c in self.citations]


@dataclass(frozen=True)
class _Source:
    title: str
    url: str


@dataclass
class _Builder:
    """Appends markdown while tracking character offsets for citations."""

    parts: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    length: int = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def cite(self, source: _Source) -> None:
        link = f"[{source.title}]({source.url})"
        self.add("(")
        start = self.length
        self.add(link)
        self.citations.append(Citation(source.url, source.title, start, self.length))
        self.add(")")

    def result(self) -> ResearchText:
        return ResearchText("".join(self.parts), tuple(self.citations))


_LEAD_IN = re.compile(
    r"^(?:(?:please|can you|could you|research|investigate|explain|summari[sz]e|tell me about"
    r"|write a report on|what (?:is|are|was|were)|how (?:do|does|did|is|are)"
    r"|why (?:do|does|is|are))"
    r"\s+)+(?:the\s+)?(?:(?:current\s+)?(?:state|status|impact|role|history|future|evidence)"
    r"\s+(?:of|on|for)\s+)?",
    re.IGNORECASE,
)


def _clip(text: str, limit: int) -> str:
    """Cut at a word boundary so titles and headings never end mid-word."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


def topic_of(question: str) -> str:
    """Shorten a question to a topic phrase for headings and sentences."""
    line = next((ln.strip() for ln in question.splitlines() if ln.strip()), "")
    line = re.sub(r"\s+", " ", line).strip(" ?.!:")
    line = _LEAD_IN.sub("", line).strip(" ?.!:")
    return _clip(line, 80) or "the requested topic"


def _slug(topic: str) -> str:
    words = re.findall(r"[a-z0-9]+", topic.lower())[:6]
    return "-".join(words) or "topic"


def _sources(rng: random.Random, topic: str) -> list[_Source]:
    slug = _slug(topic)
    out = []
    for n in range(1, _SOURCE_COUNT + 1):
        kind = rng.choice(_TITLE_WORDS)
        publisher = rng.choice(_PUBLISHERS)
        title = f"{kind}: {_clip(topic, 40)} ({publisher})"
        out.append(_Source(title, f"https://example.org/research/{slug}/{n}-{rng.randrange(1000)}"))
    return out


def _sentence(rng: random.Random, topic: str) -> str:
    return f"{rng.choice(_CLAIMS).format(t=topic)} {rng.choice(_LINKS)}"


def _head(b: _Builder, rng: random.Random, topic: str, sources: list[_Source]) -> None:
    b.add(f"# Research brief: {topic}\n\n")
    b.add(f"**Summary.** {_sentence(rng, topic)} ")
    b.cite(sources[0])
    b.add("\n\n## Key findings\n\n")
    for source in sources[1:4]:
        b.add(f"- {rng.choice(_CLAIMS).format(t=topic)} ")
        b.cite(source)
        b.add("\n")
    b.add("\n## Analysis\n\n")


def _tail(sources: list[_Source]) -> str:
    lines = [f"{n}. [{s.title}]({s.url})" for n, s in enumerate(sources, 1)]
    return "## Sources\n\n" + "\n".join(lines) + "\n"


def _paragraph(rng: random.Random, topic: str, source: _Source) -> _Builder:
    b = _Builder()
    b.add(f"{_sentence(rng, topic)} {_sentence(rng, topic)} ")
    b.cite(source)
    b.add("\n\n")
    return b


def _filler(rng: random.Random, topic: str, size: int) -> str:
    """Plain text of exactly ``size`` characters, ending in a paragraph break when it fits."""
    if size <= 2:
        return "\n" * size
    text = ""
    while len(text) < size - 2:
        text += _sentence(rng, topic) + " "
    cut = text[: size - 3]
    if cut.endswith(" "):
        cut = " " + cut[:-1]  # a leading space is invisible in markdown; "word ." is not
    return cut + ".\n\n"


def research_answer(question: str, chars: int | None = None, variant: str = "") -> ResearchText:
    """Build a deterministic markdown research answer of exactly ``chars`` characters; each
    ``variant`` of a question words it differently."""
    target = DEFAULT_CHARS if chars is None else max(1, chars)
    seed = hashlib.sha256((question + variant).encode()).digest()
    rng = random.Random(seed)
    topic = topic_of(question)
    sources = _sources(rng, topic)
    b = _Builder()
    _head(b, rng, topic, sources)
    tail = _tail(sources)
    n = 0
    while True:
        para = _paragraph(rng, topic, sources[n % len(sources)])
        if b.length + para.length + len(tail) > target:
            break
        offset = b.length
        b.parts.extend(para.parts)
        b.length += para.length
        b.citations.extend(
            Citation(c.url, c.title, c.start_index + offset, c.end_index + offset)
            for c in para.citations
        )
        n += 1
    gap = target - b.length - len(tail)
    if gap >= 0:
        b.add(_filler(rng, topic, gap))
        b.add(tail)
    return b.result().truncated(target)
