"""Every request and response of the JSON API, defined once: these pydantic models validate what comes in,
serialize what goes out and are the JSON Schemas of the OpenAPI document (web/openapi.py only assembles them).

Why plain pydantic v2 and not spectree or flask-pydantic-spec: pydantic's JSON Schema is draft 2020-12, the
dialect of OpenAPI 3.1, so the document is one call (`models_json_schema`) plus about fifty lines of paths in
openapi.py. Both libraries answer a failed validation with their own 422 and a list of pydantic errors, and the
API keeps its one error shape and status 400 naming the parameter; its strict rules (a parameter given twice or
empty, an unknown one answered with the accepted names, `limit`/`k` and `page`/`offset` exclusive) come before
any model sees the request anyway. So the libraries would add a dependency, documentation routes and hooks to
undo their error answers, and save nothing.

Query strings are validated in pydantic's lax mode (their values are strings: "10" is a number there); JSON
bodies in strict mode ("10" is not a number there). Same model, same constraints, same messages.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from search.models import (
    FUSIONS, GROUPS, MAX_DEPTH, MAX_K, MAX_QUERY_CHARS, MAX_SOURCES, MAX_SPEAKER_CHARS, MODES, QUOTE_KINDS,
    SORTS, SPEAKER_KINDS, TOTAL_RELATIONS, TYPES, SearchRequest,
)

_DEFAULT = SearchRequest(q="")  # the engine's defaults are the API's
# the end of the input in ECMA (the OpenAPI document's) and Python regexes alike: Python's `$` also matches before
# a final newline, so test generators (Hypothesis, schemathesis) made values like "id\n" that fullmatch refuses
END = r"(?![\s\S])"
_DAY = re.compile(rf"^\d{{4}}-\d{{2}}-\d{{2}}{END}")
MAX_SPEAKERS = 100  # /api/speakers?limit=


def _no_default(schema: dict[str, Any]) -> None:
    """An optional field left out has no value: the schema shows no `default: null`."""
    schema.pop("default", None)


def _iso_day(value: Any) -> Any:
    """Only YYYY-MM-DD: pydantic alone would also read "0" or "86400" as days of 1970."""
    if not isinstance(value, str):
        return value  # a JSON number or the like: pydantic refuses it as not a date
    try:
        if not _DAY.fullmatch(value.strip()):
            raise ValueError(value)
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"must be a date written YYYY-MM-DD; got {value!r}") from None


Day = Annotated[dt.date, BeforeValidator(_iso_day), Field(json_schema_extra={"pattern": _DAY.pattern})]


class Request(BaseModel):
    """A request: nothing undocumented, no NaN or infinity, strings stripped before their limits apply."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, frozen=True)


class SearchParams(Request):
    """The fields of a search, as query parameters of GET /api/search or the JSON body of POST /api/search."""

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS,
                   description='The question; "quoted phrases" must match verbatim, -term excludes')
    mode: Literal[MODES] = Field(_DEFAULT.mode, description="Retrieval mode")  # type: ignore[valid-type]
    fusion: Literal[FUSIONS] = Field(_DEFAULT.fusion,  # type: ignore[valid-type]
                                     description="How hybrid mode fuses the two legs")
    alpha: float = Field(_DEFAULT.alpha, ge=0, le=1, description="Weight of the dense leg with fusion=linear")
    k: int = Field(_DEFAULT.k, ge=1, le=MAX_K, description="Hits per page")
    limit: Annotated[int, Field(ge=1, le=MAX_K)] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_no_default,
        description="Another name for k (Meilisearch's); giving both is a 400")
    page: int = Field(_DEFAULT.page, ge=1, description=f"Page number; page * k is at most {MAX_DEPTH}")
    offset: Annotated[int, Field(ge=0, le=MAX_DEPTH - 1)] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_no_default,
        description=f"Hits skipped before this page, instead of page (giving both is a 400); offset + k is at "
                    f"most {MAX_DEPTH}")
    date_from: Day | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default,
                                                  description="Earliest publication day, inclusive")
    date_to: Day | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default,
                                                description="Latest publication day, inclusive")
    source: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, max_length=MAX_SOURCES,
        description="Source names (repeat the query parameter for several); none: every source")
    sort: Literal[SORTS] = Field(_DEFAULT.sort,  # type: ignore[valid-type]
                                 description="relevance, or date (newest first)")
    group: Literal[GROUPS] = Field(_DEFAULT.group,  # type: ignore[valid-type]
                                   description="One hit per article, or per passage")
    type: Literal[TYPES] = Field(_DEFAULT.type,  # type: ignore[valid-type]
                                 description="articles: articles with their best passage; quotes: quotations ranked "
                                             "by the same hybrid search over quote texts, a speaker the question "
                                             "names first, no article more than twice before the others")
    speaker: Annotated[str, Field(min_length=1, max_length=MAX_SPEAKER_CHARS)] | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_no_default,
        description='Only quotations (or, with type=articles, articles quoting) this speaker: the full name or its '
                    'last words ("Putin")')


class SpeakersParams(Request):
    """The query parameters of GET /api/speakers."""

    q: str = Field("", max_length=MAX_SPEAKER_CHARS,
                   description="Prefix of the name or of one of its words (case-insensitive); empty lists the most "
                               "quoted")
    limit: int = Field(20, ge=1, le=MAX_SPEAKERS, description="At most this many")


# -- responses -----------------------------------------------------------------------------------------------


class Response(BaseModel):
    """A response object: closed (nothing undocumented), every field always present, null when it has no value."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


Offset = Annotated[int, Field(ge=0)]


class ErrorDetail(Response):
    code: str = Field(examples=["bad_request", "not_found", "method_not_allowed", "unsupported_media_type",
                                "timeout", "internal_error", "unauthorized", "ingest_disabled", "payload_too_large",
                                "writer_busy", "journal_unavailable"])
    message: str
    param: str | None = Field(description="The parameter at fault (`body` for the request body), or null")


class Error(Response):
    """The one error shape, for every status."""

    error: ErrorDetail


class Span(Response):
    """Marked characters: `lexical` a matched word or phrase, `semantic` the quote."""

    start: Offset
    end: Offset
    kind: Literal["lexical", "semantic"]


class Scores(Response):
    """Why a hit ranks where it does: its best passage's score and rank in each leg, and the fused score."""

    bm25: float | None
    bm25_rank: Annotated[int, Field(ge=1)] | None
    dense: float | None
    dense_rank: Annotated[int, Field(ge=1)] | None
    fused: float


class Quote(Response):
    """The sentence (or the quotation inside it) that best answers the question."""

    text: str
    start: Offset = Field(description="Into the hit's passage.text")
    end: Offset = Field(description="Into the hit's passage.text")


class Passage(Response):
    """A run of whole sentences of the article."""

    ordinal: Offset = Field(description="The passage's number in its article (/articles/<id>?p=<ordinal>)")
    text: str
    start: Offset = Field(description="Where it begins in the article's text")
    end: Offset = Field(description="Where it ends in the article's text")
    heading: str | None = Field(description="The subheading the passage sits under")


class MorePassage(Passage):
    """Another matching passage of the article, with its own matched words."""

    highlights: list[Span] = Field(description="Into this passage's text")


class Quotation(Response):
    """Words the article quotes and who said them; offsets in the article's text."""

    text: str = Field(description="The spoken words: the parts joined (\" … \" where the attribution stood between "
                                  "them), white space folded, the comma handing over to the attribution dropped")
    start: Offset = Field(description="Where the first part begins in the article's text")
    end: Offset = Field(description="Where the last part ends (marks excluded)")
    parts: list[Annotated[list[Offset], Field(min_length=2, max_length=2)]] = Field(
        min_length=1, description="[start, end) of each quoted run in the article's text, marks excluded; a "
                                  "quotation split around its attribution has two")
    speaker: str | None = Field(description="Fullest name the article gives, or a description (\"a ministry "
                                            "spokesman\"); null when unattributed")
    role: str | None = Field(description="Title kept out of the name (\"President\")")
    kind: Literal[QUOTE_KINDS] = Field(  # type: ignore[valid-type]
        description="full: direct speech; partial: a phrase quoted inside the reporter's sentence; term: scare "
                    "quotes, nobody's words (never a search hit)")
    speaker_kind: Literal[SPEAKER_KINDS] | None = Field(  # type: ignore[valid-type]
        description="person or organization (a named speaker: counted in facets and /api/speakers), description "
                    "(an unnamed source); null when unattributed")


DAY_DESCRIPTION = "The calendar day of publication (YYYY-MM-DD), as the source gave it; null when it gave none"
DATETIME_DESCRIPTION = ("The time of publication (RFC 3339) when the source gave a time of day, else null; a time "
                        "given without a zone is read as UTC (as Elasticsearch does) and written with Z")


class HitBase(Response):
    """What both kinds of hit carry: rank, the article's metadata, the scores, a ready snippet."""

    rank: Annotated[int, Field(ge=1)]
    article_id: str
    title: str = Field(description="The article's title, or its opening words when it has none")
    source: str | None
    url: str | None
    date: dt.date | None = Field(description=DAY_DESCRIPTION)
    datetime: dt.datetime | None = Field(description=DATETIME_DESCRIPTION)
    dateline: str | None = Field(description="The wire's place line (\"SALVADOR\")")
    score: float
    scores: Scores
    snippet: str = Field(description="Ready HTML: the text escaped, matched words in <mark class=\"lexical\">, the "
                                     "quote in <mark class=\"semantic\">, … where cut")


class Hit(HitBase):
    """An article (or with group=passage, a passage) and its best passage."""

    passage: Passage
    quote: Quote | None
    highlights: list[Span] = Field(description="Into passage.text")
    more_passages: list[MorePassage] = Field(description="Other matching passages of the article, best first")
    quotations: list[Quotation] = Field(max_length=3,
                                        description="The article's quotations that match the question, best first")


class QuoteHit(HitBase):
    """A quotation (type=quotes) with its article's metadata."""

    quotation: Quotation
    speaker_named: bool = Field(description="The question named this speaker, which ranks their quotations first")
    highlights: list[Span] = Field(description="Into quotation.text")


class Count(Response):
    """A value and how many matches have it."""

    name: str
    count: Offset


class Facets(Response):
    """Counts over every match of the question, not only this page: what a click on the value would return."""

    sources: list[Count]
    speakers: list[Count] = Field(description="Named people and organisations, most quoted first")
    unnamed: Offset = Field(description="Matches quoting only unnamed sources (\"a ministry spokesman\")")


class Total(Response):
    """How many articles (group=passage: passages; type=quotes: quotations) match, as Elasticsearch says it."""

    value: Offset
    relation: Literal[TOTAL_RELATIONS] = Field(  # type: ignore[valid-type]
        description="eq: exactly value; gte: at least value")


class Notice(Response):
    """Something to know about the answer: `code` for programs, `message` for people."""

    code: str = Field(examples=["not_english", "no_match", "weak_only"])
    message: str


class SearchResult(Response):
    """A page of hits, with the counts over every match."""

    query: str
    mode: Literal[MODES]  # type: ignore[valid-type]
    type: Literal[TYPES]  # type: ignore[valid-type]
    took_ms: Annotated[float, Field(ge=0)]
    total: Total
    page: Annotated[int, Field(ge=1)]
    k: Annotated[int, Field(ge=1, le=MAX_K)]
    offset: Offset = Field(description="Hits of the ranking before this page")
    hits: list[Hit | QuoteHit] = Field(description="Hit objects with type=articles, QuoteHit objects with "
                                                   "type=quotes")
    near_misses: list[Hit | QuoteHit] = Field(description="Weak matches, shown apart, when nothing matched well")
    facets: Facets
    notices: list[Notice]


class Heading(Response):
    start: Offset
    end: Offset
    text: str


class Article(Response):
    """One cleaned article; every offset is into its `text`."""

    id: str
    title: str = Field(description="The article's title, or its opening words when it has none")
    date: dt.date | None = Field(description=DAY_DESCRIPTION)
    datetime: dt.datetime | None = Field(description=DATETIME_DESCRIPTION)
    dateline: str | None = Field(description="The wire's place line (\"SALVADOR\")")
    source: str | None
    url: str | None
    text: str
    agencies: list[str]
    headings: list[Heading]
    passages: list[Passage]
    quotes: list[Quotation] = Field(description="Every quotation, in reading order")


class SpeakerList(Response):
    """Speakers matching a prefix, most quotations first."""

    query: str
    speakers: list[Count] = Field(description="Full and partial quotations by each speaker")


class SegmentSummary(Response):
    """One segment of the live commit."""

    segment: str
    articles: Offset
    passages: Offset
    deleted_articles: Offset
    deleted_passages: Offset


class IndexSummary(Response):
    """The build being served: the fields of `indexer stats --json` but its server path."""

    build_id: str
    format_version: int
    built_at: str
    articles: Offset
    passages: Offset
    skipped: Offset | None
    quotes: Offset | None
    speakers: Offset | None
    model: str = Field(description="The model's name (a local model folder's own name, never its path)")
    dimension: Offset
    dense_index: str | None
    sources: Offset
    bytes: Offset
    segments: Offset = Field(description="Segments of the live commit (the build is the first)")
    deleted_articles: Offset
    deleted_passages: Offset
    generation: Offset = Field(description="The live commit's number; 0: the build as published")
    committed_at: str | None
    journal_seq: Offset
    journal_pending: Offset = Field(description="Acknowledged writes no commit holds yet")
    segment_list: list[SegmentSummary]


class Health(Response):
    status: Literal["ok"]
    build_id: str




# -- the ingest API ------------------------------------------------------------------------------------------

MAX_ID_CHARS = 512
MAX_INT_ID = 2**63 - 1
MAX_URL_CHARS = 4096
MAX_NAME_CHARS = 200  # source, each agency, dateline
MAX_AGENCIES = 50
_NOT_IN_ID = r"\x00-\x1f\x7f-\x9f\ud800-\udfff"  # control characters and lone surrogates
# no white space at either end (a path cannot carry it unambiguously), no control character anywhere
ID_PATTERN = rf"^[^\s{_NOT_IN_ID}](?:[^{_NOT_IN_ID}]*[^\s{_NOT_IN_ID}])?{END}"
_NOT_IN_URL = r"\s\x00-\x1f\x7f-\x9f\ufeff\ud800-\udfff"  # what the JSONL reader would change in a url
URL_PATTERN = rf"^https?://[^{_NOT_IN_URL}/?#]+(?:[/?#][^{_NOT_IN_URL}]*)?{END}"
DATE_PATTERN = (r"^[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
                r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?" + END)
_WORD = r"[^\s\x00-\x1f\x7f-\x9f\ufeff\ud800-\udfff]"  # a character the committer keeps, not white space
# the names the JSONL reader (`indexer add`) also reads a field under, used when the field itself is absent
ALIASES: dict[str, tuple[str, ...]] = {"id": ("_id",), "title": ("headline",), "text": ("body", "content"),
                                       "date": ("published", "published_at"), "url": ("link",)}


def _usable(name: str, value: Any) -> bool:
    """What the JSONL reader takes from a field: a non-blank string (or, for an id, an integer)."""
    if name == "id" and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and bool(value.strip())


def _matching(pattern: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, str) and not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value
    return check


def _iso_time(value: Any) -> Any:
    """An ISO 8601 day or time that exists (not 2024-02-30): the committer reads it as this day."""
    if isinstance(value, str):
        if not re.fullmatch(DATE_PATTERN, value):
            raise ValueError("must be an ISO 8601 date (YYYY-MM-DD, a year from 1000) or time "
                             "(YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|±HH:MM])")
        try:
            dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"is not a real date or time: {value!r}") from None
    return value


ArticleId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, json_schema_extra={"pattern": ID_PATTERN}),
                      AfterValidator(_matching(ID_PATTERN, "an id without control characters or white space at "
                                                           "either end"))]
IsoTime = Annotated[str, Field(max_length=35, json_schema_extra={"pattern": DATE_PATTERN}), AfterValidator(_iso_time)]
HttpUrlText = Annotated[str, Field(max_length=MAX_URL_CHARS, json_schema_extra={"pattern": URL_PATTERN}),
                        AfterValidator(_matching(URL_PATTERN, "an http(s) URL without white space"))]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]


class ArticleIn(BaseModel):
    """One article to add or replace: the fields of `indexer add`'s JSONL format, checked.

    `id` (or, without one, `url`: the id is then derived from it as `indexer add` derives it) names the article;
    a write with a live id replaces that article when its content changed. `text` is required unless `title` is
    given (a headline-only brief). Absent, null and blank optional fields are the same. Also read under the JSONL
    names when the field itself is absent: `_id`, `headline`, `body` or `content`, `published` or
    `published_at`, `link`. Any other field is ignored (a CMS sends its own), and not stored."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True, json_schema_extra={
        "additionalProperties": True,
        # the rule across fields, for readers and generators (the aliases above also satisfy it); POST adds
        # IDENTIFIED (PUT's path names the article)
        "anyOf": [{"required": [name], "properties": {name: {"type": "string", "pattern": _WORD}}}
                  for name in ("text", "title")]})

    id: ArticleId | Annotated[int, Field(ge=0, le=MAX_INT_ID)] | None = Field(
        None, description="The article's id: a string (no control characters, no white space at either end) or a "
                          "non-negative integer (stored as its decimal string); required unless url is given")
    title: str | None = Field(None, description="The headline")
    text: str | None = Field(None, description="The body; paragraphs separated by blank lines. Required (not "
                                               "blank) unless title is given")
    date: IsoTime | None = Field(None, description="Publication day (YYYY-MM-DD) or time (ISO 8601; without a zone "
                                                   "read as UTC)")
    url: HttpUrlText | None = Field(None, description="The article's http(s) address; names the source when "
                                                      "source is not given")
    source: Name | None = Field(None, description="The outlet (\"Reuters\"); default: from the url's domain")
    agencies: Annotated[list[Name], Field(max_length=MAX_AGENCIES)] | None = Field(
        None, description="Wire agencies credited (\"AFP\", \"dpa\")")
    dateline: Name | None = Field(None, description="The wire's dateline (\"SALVADOR, Feb 26\"): its place is "
                                                    "kept, and its date is read when date is not given")

    @model_validator(mode="before")
    @classmethod
    def _jsonl_names(cls, data: Any) -> Any:
        """A field absent (or null or blank) is read under its JSONL name, as `indexer add` reads it."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, others in ALIASES.items():
            if _usable(name, out.get(name)):
                continue
            found = next((out[o] for o in others if _usable(name, out.get(o))), None)
            if found is not None:
                out[name] = found
        return out


IDENTIFIED: dict[str, Any] = {  # a POSTed article names itself: an id, or a url to derive it from
    "anyOf": [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in ("id", "url")]}


class WriteAccepted(Response):
    """A write journaled: durable before this answer, searchable once `indexer follow` commits it (about a second)."""

    id: str = Field(description="The article's id")
    seq: Annotated[int, Field(ge=1)] = Field(description="The write's journal sequence number: `indexer stats` "
                                                         "shows how far commits have come")
    took_ms: Annotated[float, Field(ge=0)]


class BulkItem(Response):
    """What became of one line of a batch: accepted (202, with its seq) or refused (400, with the error)."""

    line: Annotated[int, Field(ge=1)] = Field(description="The line of the body (1 for a JSON body)")
    id: str | None = Field(description="The article's id, null when the line gives none that is usable")
    status: Literal[202, 400]
    seq: Annotated[int, Field(ge=1)] | None = Field(description="The journal sequence number when accepted")
    error: ErrorDetail | None = Field(description="Why the article was refused, its field named in param")


class BulkResult(Response):
    """Per article, in the order sent, like Elasticsearch's bulk API: one bad article does not sink the others."""

    took_ms: Annotated[float, Field(ge=0)]
    errors: bool = Field(description="true when any item was refused")
    items: list[BulkItem]


RESPONSES: tuple[type[Response], ...] = (Error, SearchResult, Article, SpeakerList, IndexSummary, Health,
                                         WriteAccepted, BulkResult)
