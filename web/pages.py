"""HTML pages rendered on the server (they work with JavaScript off): the search page and the article view."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from search.errors import BadQuery
from search.highlight import lexical_spans
from search.models import MAX_DEPTH, MODES, SORTS, TYPES, Hit, Passage, Quotation, QuoteHit, SearchResult
from search.query import parse_question

from . import render
from .api import drop_empty, engine, parse_search, run_search

bp = Blueprint("pages", __name__)

PAGE_SIZES = (10, 20, 50)
PAGE_LINKS = 9  # page numbers shown around the current one


@dataclass
class HitView:
    """What the template needs for one hit; all markup already made (and escaped) by render."""

    rank: int
    title: str
    href: str
    external: bool
    archive_href: str
    source: str | None
    date: str | None
    date_text: str
    heading: str | None
    snippet: Markup
    more: list[tuple[str | None, Markup, str]] = field(default_factory=list)
    quotations: list[QuotationView] = field(default_factory=list)


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
class QuoteHitView:
    """One quotation hit: its words and attribution, and the article it comes from."""

    rank: int
    quotation: QuotationView
    title: str
    source: str | None
    date: str | None
    date_text: str
    named: bool


def query_terms(q: str) -> tuple[set[str], tuple[str, ...]]:
    """The analyzer terms and phrases of a question, as the engine marks them."""
    parsed = parse_question(q)
    return set(parsed.marked_terms), parsed.phrases


def article_href(article_id: str, ordinal: int | None = None, q: str | None = None, at: int | None = None) -> str:
    """The archive's own view of an article, marking one passage (or the one holding offset `at`) and the terms."""
    args: dict[str, Any] = {}
    if ordinal is not None:
        args["p"] = ordinal
    if at is not None:
        args["at"] = at
    if q:
        args["q"] = q
    anchor = f"#passage-{ordinal}" if ordinal is not None else ("#chosen" if at is not None else "")
    return url_for("pages.article", article_id=article_id, **args) + anchor


def speaker_href(speaker: str, q: str) -> str:
    """The same question, as quotations of this speaker only."""
    return url_for("pages.search", q=q, type="quotes", speaker=speaker)


def quotation_view(quotation: Quotation, q: str, terms: set[str], phrases: tuple[str, ...]) -> QuotationView:
    """Words with the question's terms marked; the speaker a filter link unless nobody is named."""
    return QuotationView(
        words=render.mark(quotation.text, lexical_spans(quotation.text, 0, terms, phrases)),
        speaker=quotation.speaker,
        speaker_href=speaker_href(quotation.speaker, q) if quotation.speaker else None,
        role=quotation.role,
        href=article_href(quotation.article_id, q=q, at=quotation.start),
        partial=quotation.kind == "partial" and not quotation.text[:1].isupper(),
    )


def quote_hit_view(hit: QuoteHit, q: str) -> QuoteHitView:
    terms, phrases = query_terms(q)
    return QuoteHitView(
        rank=hit.rank, quotation=quotation_view(hit.quotation, q, terms, phrases), title=hit.title or hit.quotation.article_id,
        source=hit.source, date=hit.date, date_text=render.human_date(hit.date), named=hit.speaker_named,
    )


def _more(passage: Passage, hit: Hit, q: str, terms: set[str], phrases: tuple[str, ...]) -> tuple[str | None, Markup, str]:
    spans = lexical_spans(passage.text, passage.start, terms, phrases)
    first = next((s for s in spans if s.kind == "lexical"), None)
    focus = (first.start, first.end) if first else None
    return (passage.heading, render.snippet(passage.text, spans, passage.start, focus, context_words=25),
            article_href(hit.article_id, passage.ordinal, q))


def hit_view(hit: Hit, q: str) -> HitView:
    """One hit for the page: title linked out only to http(s), the quote in context, other passages folded."""
    terms, phrases = query_terms(q)
    url = render.safe_url(hit.url)
    archive = article_href(hit.article_id, hit.passage.ordinal, q)
    focus = (hit.quote.start, hit.quote.end) if hit.quote else None
    return HitView(
        rank=hit.rank,
        title=hit.title or hit.article_id,
        href=url or archive,
        external=url is not None,
        archive_href=archive,
        source=hit.source,
        date=hit.date,
        date_text=render.human_date(hit.date),
        heading=hit.passage.heading,
        snippet=render.snippet(hit.passage.text, hit.highlights, hit.passage.start, focus),
        more=[_more(p, hit, q, terms, phrases) for p in hit.more_passages],
        quotations=[quotation_view(x, q, terms, phrases) for x in hit.quotations],
    )


def page_href(args: Any, page: int) -> str:
    """The same search on another page."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k != "page" and v != ""]
    return url_for("pages.search") + "?" + urlencode([*pairs, ("page", page)])


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


@bp.get("/")
def search() -> ResponseReturnValue:
    """The search page: just the box for an empty question, hits, no hits, or a readable error (400)."""
    args = request.args
    q = args.get("q", "")
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
        "sources": engine().sources(), "result": None, "hits": [], "error": None, "pages": None, "facet": [],
        "filtered": bool(form["date_from"] or form["date_to"] or form["sources"] or form["sort"] != "relevance"),
        "unfilter_speaker": None,
    }
    if form["speaker"]:
        context["unfilter_speaker"] = url_for("pages.search") + "?" + urlencode(
            [(k, v) for k, v in args.items(multi=True) if k not in ("speaker", "page")])
    if not q.strip():
        return render_template("search.html", **context)
    try:
        result = run_search(parse_search(drop_empty(args)))
    except BadQuery as exc:
        context["error"] = {"message": str(exc), "param": exc.param}
        return render_template("search.html", **context), 400
    hits = [quote_hit_view(h, q) if isinstance(h, QuoteHit) else hit_view(h, q) for h in result.hits]
    facet = [(name, count, speaker_href(name, q), name == form["speaker"]) for name, count in result.speakers]
    context.update(result=result, hits=hits, pages=pagination(result, args), facet=facet)
    return render_template("search.html", **context)


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """The cleaned article: headings as headings, ?p= marks a passage (anchor #passage-N), &q= marks the terms."""
    found = engine().article(article_id)
    if found is None:
        abort(404, description=f"There is no article with the id {article_id!r} in this index.")
    passages = engine().article_passages(article_id)
    p_arg, at_arg = request.args.get("p", ""), request.args.get("at", "")
    chosen = next((p for p in passages if p_arg.isdigit() and p.ordinal == int(p_arg)), None)
    if chosen is None and at_arg.isdigit() and len(at_arg) < 10:
        chosen = next((p for p in passages if p.start <= int(at_arg) < p.end), None)
    quotes = [x for x in engine().article_quotations(article_id) if x.kind != "term"]
    q = request.args.get("q", "")
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
        quotations=[quotation_view(x, q, terms, phrases) for x in quotes],
        url=render.safe_url(found.url), date_text=render.human_date(found.date),
    )
