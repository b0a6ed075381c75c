"""HTML pages rendered on the server (they work with JavaScript off): the search page, the article view, the archive."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from search.errors import BadQuery
from search.highlight import lexical_spans
from search.models import (MAX_DEPTH, MAX_K, MAX_QUERY_CHARS, MAX_SOURCES, MAX_SPEAKER_CHARS, MODES, SORTS, TYPES,
                           Hit, Passage, Quotation, QuoteHit, SearchResult, first_sentence)
from search.query import parse_question

from . import render
from .api import drop_empty, engine, parse_search, run_search

bp = Blueprint("pages", __name__)

PAGE_SIZES = (10, 20, 50)
PAGE_LINKS = 9  # page numbers shown around the current one
# The parameters that make a search: carried to the article view and back, and kept by every link that changes one.
SEARCH_PARAMS = ("q", "type", "speaker", "mode", "fusion", "alpha", "sort", "group", "k", "date_from", "date_to",
                 "source", "page")
_URL_SAFE = "!$'()*,/:;?@"  # what url_for leaves unescaped in a query string, so every link is written alike
UNTITLED = "Untitled article"
MODE_LABELS = {"hybrid": "Words and meaning", "bm25": "Exact words only", "dense": "Meaning only"}
SORT_LABELS = {"relevance": "Best match", "date": "Newest first"}
TYPE_LABELS = {"articles": "Articles", "quotes": "Quotations"}
# The form field each parameter is set with: (the id to point at, the label the reader sees).
FIELDS: dict[str, tuple[str, str]] = {
    "q": ("q", "Ask a question"),
    "type": ("type-articles", "Show"),
    "mode": ("mode", "Match"),
    "sort": ("sort", "Sort by"),
    "k": ("k", "Results per page"),
    "date_from": ("date_from", "From (date)"),
    "date_to": ("date_to", "To (date)"),
    "source": ("sources", "Sources"),
}

Pairs = list[tuple[str, str]]


def search_pairs(args: Any, drop: Iterable[str] = ()) -> Pairs:
    """The search parameters of a request, in order, empty ones and those in `drop` left out."""
    dropped = set(drop)
    return [(k, v) for k, v in args.items(multi=True) if k in SEARCH_PARAMS and k not in dropped and v.strip()]


def search_href(pairs: Sequence[tuple[str, Any]]) -> str:
    """The search page for these parameters (the bare page when there are none)."""
    base = url_for("pages.search")
    return base + "?" + urlencode(pairs, safe=_URL_SAFE) if pairs else base


def number(n: int) -> str:
    """Counts with thousands separators, as a reader writes them: 1,200."""
    return f"{n:,}"


bp.add_app_template_filter(number, "number")


@dataclass
class QuotationView:
    """A quotation as the page shows it: the words marked, then "— speaker, role · source · date"."""

    words: Markup
    speaker: str | None
    speaker_href: str | None
    role: str | None
    href: str  # the article in the archive, at the quotation
    partial: bool  # a phrase from inside a sentence: shown with a leading ellipsis


@dataclass
class HitView:
    """What the template needs for one hit; all markup already made (and escaped) by render."""

    rank: int
    title: str
    href: str
    external: bool
    archive_href: str
    source: str | None
    dateline: str | None
    date: str | None
    date_text: str
    heading: str | None
    snippet: Markup
    more: list[tuple[str | None, Markup, str]] = field(default_factory=list)
    quotations: list[QuotationView] = field(default_factory=list)


@dataclass
class QuoteHitView:
    """One quotation hit: its words and attribution, and the article it comes from."""

    rank: int
    quotation: QuotationView
    title: str
    source: str | None
    dateline: str | None
    date: str | None
    date_text: str
    named: bool


def query_terms(q: str) -> tuple[set[str], tuple[str, ...]]:
    """The analyzer terms and phrases of a question, as the engine marks them."""
    parsed = parse_question(q)
    return set(parsed.marked_terms), parsed.phrases


def article_href(article_id: str, search: Pairs, ordinal: int | None = None, at: int | None = None) -> str:
    """The archive's own view of an article, marking one passage (or the one holding offset `at`), carrying the
    search it was found by, so its way back returns to that search with every filter."""
    args: Pairs = []
    if ordinal is not None:
        args.append(("p", str(ordinal)))
    if at is not None:
        args.append(("at", str(at)))
    args.extend(search)
    anchor = f"#passage-{ordinal}" if ordinal is not None else ("#chosen" if at is not None else "")
    base = url_for("pages.article", article_id=article_id)
    return (base + "?" + urlencode(args, safe=_URL_SAFE) if args else base) + anchor


def speaker_href(speaker: str, search: Pairs, type_: str | None = None) -> str:
    """The same search (every filter kept) narrowed to one speaker, from its first page; `type_` switches what a hit is."""
    kept = [(k, v) for k, v in search if k not in ("speaker", "page") and (type_ is None or k != "type")]
    return search_href([*kept, *([("type", type_)] if type_ else []), ("speaker", speaker)])


def source_href(source: str, search: Pairs) -> str:
    """The same search narrowed to one source, from its first page."""
    return search_href([*[(k, v) for k, v in search if k not in ("source", "page")], ("source", source)])


def hit_title(title: str | None, passage: Passage | None = None) -> str:
    """A title for a hit: its own, or the article's first sentence when the hit's passage opens it; never an id."""
    if title and title.strip():
        return title.strip()
    if passage is not None and passage.ordinal == 0 and passage.text.strip():
        return first_sentence(passage.text)
    return UNTITLED


def quotation_view(quotation: Quotation, q: str, search: Pairs, terms: set[str],
                   phrases: tuple[str, ...]) -> QuotationView:
    """Words with the question's terms marked; the speaker a link to their quotations unless nobody is named."""
    return QuotationView(
        words=render.mark(quotation.text, lexical_spans(quotation.text, 0, terms, phrases)),
        speaker=quotation.speaker,
        speaker_href=speaker_href(quotation.speaker, search, "quotes") if quotation.speaker else None,
        role=quotation.role,
        href=article_href(quotation.article_id, search, at=quotation.start),
        partial=quotation.kind == "partial" and not quotation.text[:1].isupper(),
    )


def quote_hit_view(hit: QuoteHit, q: str, search: Pairs) -> QuoteHitView:
    """A quotation card: the words, who said them, and the article they come from."""
    terms, phrases = query_terms(q)
    return QuoteHitView(
        rank=hit.rank, quotation=quotation_view(hit.quotation, q, search, terms, phrases), title=hit_title(hit.title),
        source=hit.source, dateline=hit.dateline, date=hit.date, date_text=render.human_date(hit.date),
        named=hit.speaker_named,
    )


def _more(passage: Passage, hit: Hit, search: Pairs, terms: set[str],
          phrases: tuple[str, ...]) -> tuple[str | None, Markup, str]:
    spans = lexical_spans(passage.text, passage.start, terms, phrases)
    first = next((s for s in spans if s.kind == "lexical"), None)
    focus = (first.start, first.end) if first else None
    return (passage.heading, render.snippet(passage.text, spans, passage.start, focus, context_words=25),
            article_href(hit.article_id, search, passage.ordinal))


def hit_view(hit: Hit, q: str, search: Pairs) -> HitView:
    """One hit for the page: title linked out only to http(s), the quote in context, other passages folded."""
    terms, phrases = query_terms(q)
    url = render.safe_url(hit.url)
    archive = article_href(hit.article_id, search, hit.passage.ordinal)
    focus = (hit.quote.start, hit.quote.end) if hit.quote else None
    return HitView(
        rank=hit.rank,
        title=hit_title(hit.title, hit.passage),
        href=url or archive,
        external=url is not None,
        archive_href=archive,
        source=hit.source,
        dateline=hit.dateline,
        date=hit.date,
        date_text=render.human_date(hit.date),
        heading=hit.passage.heading,
        snippet=render.snippet(hit.passage.text, hit.highlights, hit.passage.start, focus),
        more=[_more(p, hit, search, terms, phrases) for p in hit.more_passages],
        quotations=[quotation_view(x, q, search, terms, phrases) for x in hit.quotations],
    )


def any_hit_view(hit: Hit | QuoteHit, q: str, search: Pairs) -> HitView | QuoteHitView:
    return quote_hit_view(hit, q, search) if isinstance(hit, QuoteHit) else hit_view(hit, q, search)


def page_href(args: Any, page: int) -> str:
    """The same search on another page."""
    return search_href([*search_pairs(args, drop=("page",)), ("page", page)])


def pagination(result: SearchResult, args: Any) -> dict[str, Any]:
    """prev/next and a window of page numbers; never past what the engine will serve (page * k <= MAX_DEPTH)."""
    last = max(1, min(math.ceil(result.total / result.k), MAX_DEPTH // result.k))
    lo = max(1, min(result.page - PAGE_LINKS // 2, last - PAGE_LINKS + 1))
    numbers = list(range(lo, min(last, lo + PAGE_LINKS - 1) + 1))
    return {
        "current": result.page,
        "last": last,
        "prev": page_href(args, result.page - 1) if result.page > 1 else None,
        "next": page_href(args, result.page + 1) if result.page < last else None,
        "pages": [(n, page_href(args, n)) for n in numbers],
    }


def _is_date(value: str) -> bool:
    """A day written as the date field sends it: YYYY-MM-DD, and real."""
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and dt.date.fromisoformat(value) is not None
    except ValueError:
        return False


def error_view(exc: BadQuery, args: Any) -> dict[str, Any]:
    """A refused search said in the reader's words, pointing at the form field to change (never a parameter name)."""
    param = exc.param or ""
    value = args.get(param, "").strip()
    message = "That search could not run as asked."
    if param == "q":
        q = args.get("q", "")
        if len(q) > MAX_QUERY_CHARS:
            message = (f"The question is {number(len(q))} characters long; it can be at most "
                       f"{number(MAX_QUERY_CHARS)}. Shorten it and search again.")
        elif q.strip():
            message = ("The question only leaves words out (a word after a minus sign, -like this). "
                       "Add at least one word to search for.")
        else:
            message = "Type a question to search for."
    elif param in ("date_from", "date_to"):
        low, high = args.get("date_from", "").strip(), args.get("date_to", "").strip()
        if value and not _is_date(value):
            which = "start" if param == "date_from" else "end"
            message = f"The {which} date “{value}” is not a day of the calendar. Pick a day, such as 2015-06-29."
        elif low and high and _is_date(low) and _is_date(high):
            message = (f"The start date, {render.human_date(low)}, is after the end date, {render.human_date(high)}. "
                       "Swap them, or change one.")
    elif param == "k":
        message = f"A page can show from 1 to {MAX_K} results. Choose how many in “Results per page”."
    elif param == "page":
        message = (f"That page is too far down the results: the archive shows the first {number(MAX_DEPTH)} results "
                   "of a search. Go back to the first page, or add words or filters to narrow the search.")
    elif param == "mode":
        message = f"“{value}” is not a way of matching. Choose one from the “Match” menu."
    elif param == "sort":
        message = f"“{value}” is not an order the results can be sorted in. Choose one from the “Sort by” menu."
    elif param == "type":
        message = "Choose whether to show articles or quotations."
    elif param == "source":
        message = f"At most {MAX_SOURCES} sources can be chosen at once. Untick some of them."
    elif param == "speaker":
        message = f"A speaker's name can be at most {MAX_SPEAKER_CHARS} characters long."
    elif param == "alpha":
        message = "The balance of words and meaning must be a number from 0 to 1."
    elif param in ("fusion", "group"):
        message = "The link that led here asks for an option this archive does not have. Search again from the form."
    target = FIELDS.get(param)
    return {"message": message, "param": param or None,
            "field_id": target[0] if target else None, "field_label": target[1] if target else None,
            "first_page": search_href(search_pairs(args, drop=("page",))) if param == "page" else None}


def facets_view(result: SearchResult, form: dict[str, Any], search: Pairs) -> dict[str, Any]:
    """The facets as links that narrow the search, each with its count; the chosen value marked."""
    speakers = [(name, count, speaker_href(name, search), name == form["speaker"])
                for name, count in result.facets.speakers]
    sources = [(name, count, source_href(name, search), form["sources"] == {name})
               for name, count in result.facets.sources]
    return {"speakers": speakers, "unnamed": result.facets.unnamed, "sources": sources,
            "all_sources": search_href(search_pairs(request.args, drop=("source", "page"))) if form["sources"] else None}


def offered_sources(known: list[tuple[str, int]], chosen: list[str]) -> list[tuple[str, int]]:
    """The archive's sources, and any chosen one it does not hold (ticked, 0 articles), so the form shows every
    filter that is narrowing the search and each can be unticked."""
    names = {name for name, _ in known}
    return [*known, *((name, 0) for name in dict.fromkeys(c.strip() for c in chosen) if name and name not in names)]


@bp.get("/")
def search() -> ResponseReturnValue:
    """The search page: just the box for an empty question, hits, no hits, or a readable error (400).

    The form sends every field, filled or not; a URL with empty fields is answered with a redirect to the same
    search without them, so the address bar, history and shared links hold only what the reader chose."""
    args = request.args
    given = list(args.items(multi=True))
    kept = [(k, v) for k, v in given if v.strip()]
    if len(kept) != len(given):
        return redirect(search_href(kept), 303)
    q = args.get("q", "")
    search_args = search_pairs(args)
    form = {
        "q": q,
        "mode": args.get("mode", "hybrid"),
        "sort": args.get("sort", "relevance"),
        "k": args.get("k", "10"),
        "date_from": args.get("date_from", ""),
        "date_to": args.get("date_to", ""),
        "sources": set(args.getlist("source")),
        "type": args.get("type", "articles"),
        "speaker": args.get("speaker", "").strip(),
    }
    context: dict[str, Any] = {
        "form": form, "modes": MODES, "sorts": SORTS, "types": TYPES, "page_sizes": PAGE_SIZES,
        "mode_labels": MODE_LABELS, "sort_labels": SORT_LABELS, "type_labels": TYPE_LABELS,
        "sources": offered_sources(engine().sources(), args.getlist("source")), "result": None, "hits": [], "near": [], "error": None, "pages": None,
        "facets": None, "archive": None,
        "filtered": bool(form["date_from"] or form["date_to"] or form["sources"] or form["sort"] != "relevance"
                         or form["mode"] != "hybrid"),
        "unfilter_speaker": search_href(search_pairs(args, drop=("speaker", "page"))) if form["speaker"] else None,
    }
    if not q.strip():
        context["archive"] = archive_view()
        return render_template("search.html", **context)
    try:
        result = run_search(parse_search(drop_empty(args)))
    except BadQuery as exc:
        context["error"] = error_view(exc, args)
        return render_template("search.html", **context), 400
    context.update(
        result=result,
        hits=[any_hit_view(h, q, search_args) for h in result.hits],
        near=[any_hit_view(h, q, search_args) for h in result.near_misses],
        pages=pagination(result, args),
        facets=facets_view(result, form, search_args),
    )
    return render_template("search.html", **context)


def archive_view() -> dict[str, Any]:
    """What the archive holds, written for people: counts, the days it covers, when it was last updated."""
    held = engine().archive()
    return {
        **held,
        "first_text": render.human_date(held.get("first_date")),
        "last_text": render.human_date(held.get("last_date")),
        "updated_text": render.human_date(held.get("updated_at")),
    }


@bp.get("/about")
def about() -> ResponseReturnValue:
    """The archive itself: its figures and its sources with their article counts (/api/index is the same as JSON)."""
    return render_template("about.html", archive=archive_view(), sources=engine().sources())


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """The cleaned article: headings as headings, ?p= marks a passage (anchor #passage-N), &q= marks the terms;
    the search it came from rides along in the other parameters, for the way back."""
    found = engine().article(article_id)
    if found is None:
        abort(404, description=f"There is no article with the id {article_id!r} in this archive.")
    passages = engine().article_passages(article_id)
    p_arg, at_arg = request.args.get("p", ""), request.args.get("at", "")
    chosen = next((p for p in passages if p_arg.isdigit() and p.ordinal == int(p_arg)), None)
    if chosen is None and at_arg.isdigit() and len(at_arg) < 10:
        chosen = next((p for p in passages if p.start <= int(at_arg) < p.end), None)
    quotes = [x for x in engine().article_quotations(article_id) if x.kind != "term"]
    q = request.args.get("q", "")
    search = search_pairs(request.args)
    spans: list[Any] = []
    terms, phrases = query_terms(q)  # once for the article and its quotations
    if q.strip():
        spans.extend(lexical_spans(found.text, 0, terms, phrases))
    if chosen is not None:
        spans.append(render.Mark(chosen.start, chosen.end, "passage"))
    spans.extend(render.Mark(a, b, "quotation") for x in quotes for a, b in x.parts)
    headings = {h.start: h for h in found.headings}
    blocks = []
    for start, end in render.blocks(found.text):
        lead = start + len(found.text[start:end]) - len(found.text[start:end].lstrip())
        is_heading = lead in headings
        # The anchor goes on the block where the chosen passage begins.
        anchor = chosen is not None and end > chosen.start and not any(b["anchor"] for b in blocks)
        spans_here = [render.Mark(s.start - start, s.end - start, s.kind) for s in spans if s.start < end and s.end > start]
        blocks.append({"heading": is_heading, "anchor": anchor,
                       "html": render.mark(found.text[start:end], spans_here)})
    return render_template(
        "article.html", article=found, blocks=blocks, chosen=chosen, q=q,
        headline=found.headline.strip() or UNTITLED,
        back=search_href(search) if any(k == "q" for k, _ in search) else None,
        quotations=[quotation_view(x, q, search, terms, phrases) for x in quotes],
        url=render.safe_url(found.url), date_text=render.human_date(found.date),
    )
