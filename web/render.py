"""The only place that turns text + spans into markup: everything is escaped first, then marked."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from markupsafe import Markup, escape

# Outer to inner: a passage holds quotations and the quote (semantic), which hold matched terms (lexical).
KINDS: tuple[str, ...] = ("passage", "quotation", "semantic", "lexical")
ELLIPSIS = "…"
_WORD = re.compile(r"\S+")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclass(frozen=True, slots=True)
class Mark:
    """A span relative to the text being rendered (article spans minus the passage start)."""

    start: int
    end: int
    kind: str


def _is_high(ch: str) -> bool:
    return "\ud800" <= ch <= "\udbff"


def _is_low(ch: str) -> bool:
    return "\udc00" <= ch <= "\udfff"


def _snap(text: str, at: int, outward_left: bool) -> int:
    """Never cut between the halves of a surrogate pair (text decoded with surrogatepass keeps both)."""
    if 0 < at < len(text) and _is_high(text[at - 1]) and _is_low(text[at]):
        return at - 1 if outward_left else at + 1
    return at


def clip(text: str, spans: Iterable[object], shift: int = 0) -> list[Mark]:
    """Spans (anything with start, end, kind) moved by -shift, clipped to the text, unknown kinds and empties dropped."""
    out = []
    for span in spans:
        kind = getattr(span, "kind", None)
        if kind not in KINDS:
            continue
        start = max(0, int(span.start) - shift)  # type: ignore[attr-defined]
        end = min(len(text), int(span.end) - shift)  # type: ignore[attr-defined]
        start, end = _snap(text, start, True), _snap(text, end, False)
        if start < end:
            out.append(Mark(start, end, kind))
    return out


def mark(text: str, spans: Iterable[object] = (), shift: int = 0) -> Markup:
    """Escaped text with <mark class="kind"> around spans; overlaps merge, inner kinds nest inside outer ones."""
    marks = clip(text, spans, shift)
    cuts = sorted({0, len(text), *(m.start for m in marks), *(m.end for m in marks)})
    # Each elementary segment between two cuts gets the set of kinds covering it, counted in one sweep over the
    # cuts (marks opening minus marks closing at each cut), not by testing every mark against every segment.
    at = {cut: i for i, cut in enumerate(cuts)}
    delta = [dict.fromkeys(KINDS, 0) for _ in cuts]
    for m in marks:
        delta[at[m.start]][m.kind] += 1
        delta[at[m.end]][m.kind] -= 1
    open_ = dict.fromkeys(KINDS, 0)
    segments = []
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        for kind, change in delta[i].items():
            open_[kind] += change
        segments.append((a, b, frozenset(kind for kind, n in open_.items() if n > 0)))
    return Markup("".join(_emit(text, segments, 0)))


def _emit(text: str, segments: Sequence[tuple[int, int, frozenset[str]]], level: int) -> list[str]:
    """Wrap runs of segments that share KINDS[level] in one <mark>, then recurse inward for the next kind."""
    if level == len(KINDS):
        return [str(escape(text[a:b])) for a, b, _ in segments]
    kind = KINDS[level]
    out: list[str] = []
    run: list[tuple[int, int, frozenset[str]]] = []
    inside = False
    for seg in [*segments, None]:
        now = seg is not None and kind in seg[2]
        if seg is None or now != inside:
            if run:
                body = _emit(text, run, level + 1)
                out.extend([f'<mark class="{kind}">', *body, "</mark>"] if inside else body)
            run, inside = [], now
        if seg is not None:
            run.append(seg)
    return out


def snippet(text: str, spans: Iterable[object], shift: int, focus: tuple[int, int] | None,
            context_words: int = 12, lead_words: int = 45) -> Markup:
    """The focus (the quote) with a few words either side, or the opening words; marked, with … where cut."""
    marks = clip(text, spans, shift)
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not words:
        return Markup("")
    if focus is not None:
        lo, hi = max(0, focus[0] - shift), min(len(text), focus[1] - shift)
        before = [w for w in words if w[1] <= lo][-context_words:]
        after = [w for w in words if w[0] >= hi][:context_words]
        start = before[0][0] if before else lo
        end = after[-1][1] if after else hi
    else:
        start, end = words[0][0], words[min(len(words), lead_words) - 1][1]
    start, end = _snap(text, start, True), _snap(text, end, False)
    body = mark(text[start:end], [Mark(m.start - start, m.end - start, m.kind) for m in marks])
    lead = ELLIPSIS if text[:start].strip() else ""
    tail = ELLIPSIS if text[end:].strip() else ""
    return Markup(lead) + body + Markup(tail)


def safe_url(url: str | None) -> str | None:
    """Only absolute http(s) URLs become links: javascript:, data: and the like stay text."""
    if not url:
        return None
    url = url.strip()
    if any(ord(ch) < 32 or ch == "\x7f" for ch in url):  # control characters, DEL among them, never make a link
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def human_date(value: str | None) -> str:
    """"2015-06-29" as people write it, "29 June 2015"; with the time when the source gave one
    ("1987-03-03T13:16:23" -> "3 March 1987, 13:16", "… 18:14 UTC" when an offset is given); else as given."""
    if not value:
        return ""
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return value
    text = f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    if len(value) <= 10:
        return text
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return text  # a day we can read followed by something we cannot: the day is still right
    offset = moment.utcoffset()
    zone = ""
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        zone = " UTC" if minutes == 0 else f" UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{text}, {moment.hour:02d}:{moment.minute:02d}{zone}"


def blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph ranges of an article (split at blank lines), so the article view keeps its paragraphs."""
    out = []
    at = 0
    for m in re.finditer(r"\n\s*\n", text):
        if text[at:m.start()].strip():
            out.append((at, m.start()))
        at = m.end()
    if text[at:].strip():
        out.append((at, len(text)))
    return out
