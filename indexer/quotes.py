"""Direct quotations in news text and who said them: pure functions over an article's text, no model.

A quotation is the text between quotation marks (straight or curly double quotes), possibly in several parts:
split around its attribution (`"We are convinced," Putin said, "that ..."`) or running over paragraphs (an
opening mark repeated at the start of the next paragraph, the previous one left open). Each gets a kind:
`full` (direct speech: at the start of a sentence, after a colon, or introduced by a verb of saying),
`partial` (a phrase quoted inside the reporter's sentence) or `term` (scare quotes: a single word, a title,
or a short phrase with nobody saying it), and a speaker found from the verb of saying next to it, with
pronouns and short names resolved to the fullest name the article gives, and titles split off as the role.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass

OPENING = "\u201c"
CLOSING = "\u201d"
STRAIGHT = '"'

# Verbs (any inflection listed) that attribute words to someone.
SAYING = (
 "say says said saying tell tells told add adds added stress stresses stressed warn warns warned "
 "noted stated declare declares declared explain explains explained insist insists insisted "
 "reply replies replied respond responds responded argue argues argued claimed "
 "commented continued announce announces announced acknowledge acknowledges acknowledged "
 "admit admits admitted ask asks asked write writes wrote quoted accuse accuses accused "
 " charged called describe describes described deny denies denied predict predicts predicted "
 "urge urges urged suggest suggests suggested maintain maintains maintained concede concedes conceded "
 " recalled reported repeated reiterate reiterates reiterated assert "
 "asserts asserted emphasize emphasizes emphasized emphasise emphasises emphasised promised "
 " pledged vowed denounce denounces denounced criticize criticizes criticized criticise "
 "criticised complain complains complained pointed estimated "
 "blamed"
).split()
SAYING_SET = frozenset(SAYING)

TITLES = frozenset((
    "president vice prime minister secretary chairman chairwoman chair director chief executive officer ceo "
    "spokesman spokeswoman spokesperson governor senator sen. sens. rep. representative deputy ambassador "
    "general gen. king queen prince leader head mr mr. mrs mrs. ms ms. dr dr. sir lord commissioner analyst "
    "economist official treasurer counsellor envoy adviser advisor assistant former acting foreign finance "
    "trade energy oil defence defense interior economy agriculture state party ruling chancellor mayor judge "
    "professor manager managing partner founder owner speaker premier undersecretary minister-president "
    "administrator attorney counsel inspector superintendent supervisor envoy "
    "house senate white u.s. opec ec un u.n. eu uk"
).split())
CONNECTORS = frozenset("of the for and de al bin van von der du la le st st. da di el".split())
LOWER_NAME_PARTS = frozenset("al de van von der du la le bin da di el ibn".split())
NAME_WORD = r"(?:[A-Z][\w'\u2019.-]*|(?:al|de|van|von|der|du|la|le|bin|da|di|el|ibn)-?[A-Z]?[\w'\u2019.-]*)"
# Characters of the reporter's sentence read either side of a quotation or before a verb of saying: the work per
# quotation stays bounded, so a 1 MB paragraph full of quotations takes seconds, not hours. No news sentence is
# longer: the quotations of Reuters-21578 and of the ir-classic corpora are the same with or without the bound.
_CONTEXT = 1000
_SENTENCE_END = re.compile(r"[.?!][\"\u201d]?\s+(?=[\"\u201c]?[A-Z])")


@dataclass(frozen=True, slots=True)
class Found:
    """A quotation as extracted: parts are (start, end) of the quoted text without its marks."""

    start: int
    end: int
    parts: tuple[tuple[int, int], ...]
    kind: str  # full | partial | term
    speaker: str | None
    role: str | None


# -- marks ---------------------------------------------------------------------------------------------------


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of paragraphs (text between blank lines, or lines when there are no blank lines)."""
    spans, start = [], 0
    for match in re.finditer(r"\n\s*\n|\n", text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _is_opening(text: str, i: int, lo: int) -> bool:
    """Whether a straight double quote at i opens: at the paragraph start, or after a space or bracket and before
    a non-space."""
    before = text[i - 1] if i > lo else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    if after.isspace():
        return False
    return before.isspace() or before in "([{\u2014-:/" or i == lo


def _raw_quotes(text: str) -> list[list[tuple[int, int]]]:
    """Quotations as lists of parts (inner spans), pairing marks paragraph by paragraph."""
    out: list[list[tuple[int, int]]] = []
    paragraphs = _paragraphs(text)
    open_parts: list[tuple[int, int]] | None = None  # a quotation left open at a paragraph's end
    for p, (lo, hi) in enumerate(paragraphs):
        start: int | None = None
        i = lo
        if open_parts is not None:  # continues only if this paragraph opens with a quotation mark
            if text[lo] in (STRAIGHT, OPENING):
                start, i = lo + 1, lo + 1
            else:
                out.append(open_parts)
                open_parts = None
        while i < hi:
            ch = text[i]
            if ch in (STRAIGHT, OPENING, CLOSING):
                if start is None:
                    if ch == OPENING or (ch == STRAIGHT and _is_opening(text, i, lo)):
                        start = i + 1
                else:
                    if ch == CLOSING or ch == STRAIGHT:
                        if i > start:
                            parts = (open_parts or []) + [(start, i)]
                            out.append(parts)
                        open_parts = None
                        start = None
            i += 1
        if start is not None:  # left open: closes at the paragraph end unless the next paragraph reopens
            end = hi
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                open_parts = (open_parts or []) + [(start, end)]
            if p == len(paragraphs) - 1:
                out.append(open_parts or [])
                open_parts = None
        elif open_parts is not None:
            out.append(open_parts)
            open_parts = None
    if open_parts:
        out.append(open_parts)
    return [q for q in out if q]


# -- sentences and attribution -----------------------------------------------------------------------------


def _sentence_bounds(text: str, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """The reporter's sentence around [start, end) within a paragraph [lo, hi): ends at . ? ! outside quotes;
    at most _CONTEXT characters either side of the quotation."""
    lo, hi = max(lo, start - _CONTEXT), min(hi, end + _CONTEXT)
    left = lo
    for m in _SENTENCE_END.finditer(text, lo, min(hi, start + 1)):
        # the word before the mark (an abbreviation is at most a few characters: 64 are plenty to tell)
        word = re.search(r"\S*$", text[max(lo, m.start() - 63) : m.start() + 1]).group(0).lower()
        if word in ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+", word):
            continue  # `U.N. Charter`, `Sen. Alan Cranston`: not a sentence end
        left = m.end()
    right = hi
    m = re.search(r"[.?!](?=\s+[\"\u201c]?[A-Z]|\s*$)", text[end + 1 : hi])
    if m:
        right = end + 1 + m.end()
    return left, right


def _words(fragment: str) -> list[str]:
    return re.findall(r"[\w'\u2019.-]+", fragment)


def _may_say(fragment: str) -> bool:
    """False only when no run of letters is a verb of saying: spares the word-by-word look at long text."""
    return not SAYING_SET.isdisjoint(re.findall(r"[a-z]+", fragment.lower()))


def _has_saying(fragment: str) -> bool:
    return _may_say(fragment) and any(w.lower().strip(".") in SAYING_SET for w in _words(fragment))


PERSON_NOUNS = ("spokesman|spokeswoman|spokesperson|official|officials|aide|lobbyist|analyst|analysts|diplomat|"
                "diplomats|dealer|dealers|trader|traders|banker|bankers|economist|economists|source|sources|"
                "executive|executives|director|minister|chairman|president|representative|delegate|negotiator")
THING_NOUNS = ("statement|report|editorial|newspaper|agency|ministry|embassy|government|commission|committee|"
               "company|board|bank|union|association|department|council|daily|paper|survey|study|letter|"
               "communique|document|magazine|weekly|radio|television")
DESCRIPTION = re.compile(
    rf"\b(?:an?|one|the|another|two|three|several|its|his|her)\s+(?:(?!(?:said|says|told|added)\b)[\w'\u2019.&-]+\s+){{0,5}}"
    rf"(?:{PERSON_NOUNS}|{THING_NOUNS})\b"
    rf"(?:\s+(?:at|of|for|to|in|with)\s+(?:[\w'\u2019.&-]+\s+){{0,5}}[\w'\u2019.&-]*[\w'\u2019])?",
    re.IGNORECASE,
)
_PERSON_HEAD = re.compile(rf"(?:{PERSON_NOUNS})$", re.IGNORECASE)


def _is_person_description(phrase: str) -> bool:
    """`the chief executive` and `an aide to Lyng` are people; `the EC's Executive Commission` is not."""
    head = re.split(r"\s+(?:at|of|for|to|in|with)\s+", phrase, maxsplit=1)[0]
    return _PERSON_HEAD.search(head) is not None
ORG_WORDS = frozenset((
    "corp corporation co inc ltd plc company association bank department institute institution institutions "
    "committee subcommittee commission exchange party board organization organisation ministry agency embassy "
    "government union council group federation league service office administration fund university court "
    "house senate congress times news press post journal radio television agreement act bill report market "
    "conventions charter nations states kingdom community republic america europe international national "
    "federal reserve treasury street airlines motors foods energy oil industries holdings system"
).split())
NOT_NAMES = frozenset((
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday in on at for but and the a an as if it he she we they this that "
    "these those when while after before since asked last next new u.s. u.k."
).split())
PERSONAL_TITLES = frozenset((
    "president chairman chairwoman minister secretary governor senator sen. sens. rep. representative deputy "
    "ambassador general gen. king queen prince leader mr mr. mrs mrs. ms ms. dr dr. sir lord commissioner "
    "spokesman spokeswoman director chief premier chancellor mayor judge"
).split())
ABBREVIATIONS = frozenset("mr. mrs. ms. dr. sen. sens. rep. gen. gov. jr. sr. st. u.s. u.n. u.k. co. corp. inc. ltd.".split())


def _name_runs(fragment: str) -> list[tuple[int, int, str]]:
    """Maximal runs of capitalized words (with particles like `al`, `de`), never across a sentence end or comma."""
    runs: list[tuple[int, int, str]] = []
    cur: list[re.Match] = []

    def flush() -> None:
        while cur and (cur[-1].group(0).lower() in LOWER_NAME_PARTS or cur[-1].group(0).lower() in CONNECTORS):
            cur.pop()
        while cur and cur[0].group(0).lower() in CONNECTORS:
            cur.pop(0)
        if cur:
            runs.append((cur[0].start(), cur[-1].end(), fragment[cur[0].start() : cur[-1].end()].rstrip(".")))
        cur.clear()

    for m in re.finditer(r"[\w'\u2019.&-]+|[,;:()\"\u201c\u201d]", fragment):
        word = m.group(0)
        gap = fragment[cur[-1].end() : m.start()] if cur else ""
        if cur and gap.strip():
            flush()
        capital = (word[:1].isupper() and word.lower() not in NOT_NAMES) or bool(
            re.match(r"(?:al|el|bin|ibn|de|da|di|van|von|le|la|du)-[A-Z]", word))  # `al-Moallem`
        particle = word.lower() in LOWER_NAME_PARTS
        if capital or (particle and cur):
            if cur and cur[-1].group(0).endswith(".") and cur[-1].group(0).lower() not in ABBREVIATIONS \
                    and not re.fullmatch(r"(?:[A-Z]\.)+", cur[-1].group(0)):
                flush()  # `Institutions. Mulford`: a sentence ended inside the run
            cur.append(m)
        else:
            flush()
    flush()
    return runs


def _is_person_name(name: str) -> bool:
    """Up to five name words, none an organisation or title word; `Reagan` alone is allowed by the caller."""
    parts = name.split()
    return 1 <= len(parts) <= 5 and not any(p.lower().strip(".,") in ORG_WORDS | TITLES for p in parts) \
        and not all(p.isupper() and len(p) <= 5 for p in parts)


def _split_title(phrase: str) -> tuple[str, str | None]:
    """`President Vladimir Putin` -> (`Vladimir Putin`, `President`); `Radical Party Deputy Raul Baglini` ->
    (`Raul Baglini`, `Radical Party Deputy`): the name starts after the last title or organisation word."""
    words = phrase.replace(",", " ").split()
    k = 0
    for i, w in enumerate(words[:-1]):
        low = w.lower().strip(",")
        if low.endswith(("'s", "\u2019s")):  # `Russia's Vladimir Putin`, `Syria's Foreign Minister ...`
            k = i + 1
            continue
        if low in TITLES or low in ORG_WORDS or low in CONNECTORS or (w.isupper() and len(w) <= 5 and "." not in w):
            k = i + 1
    return " ".join(words[k:]), (" ".join(words[:k]) or None)


class _Names(dict):
    """Name word -> (fullest name, role), looked up without case: `Al-Moallem` finds `Walid al-Moallem`."""

    def get(self, key, default=None):  # type: ignore[override]
        return super().get(str(key).casefold(), default)

    def __setitem__(self, key, value) -> None:
        super().__setitem__(str(key).casefold(), value)

    def __contains__(self, key) -> bool:
        return super().__contains__(str(key).casefold())


class _People:
    """Who is named where, so that `Cranston` becomes `Alan Cranston` and `he` the person last named."""

    def __init__(self, text: str, quoted: list[tuple[int, int]] = ()) -> None:
        self.full = _Names()  # any name word -> (fullest name, its role)
        self.sayers: list[tuple[int, str, bool]] = []  # (position, speaker, is a person) of every `X said`
        self.mentions: list[tuple[int, str]] = []  # (position, fullest name or person description)
        self.things: list[tuple[int, str]] = []  # (position, organisation or document that says things)
        found: list[tuple[int, str, str | None]] = []
        for a, b, run in _name_runs(text):
            name, role = _split_title(run)
            personal = role and any(w.lower().strip(",") in PERSONAL_TITLES for w in role.split())
            if name and _is_person_name(name) and (len(name.split()) >= 2 or personal):
                found.append((a + run.find(name), name, role))
        for _, name, role in found:
            for word in name.split():
                if word.lower() in LOWER_NAME_PARTS:
                    continue
                known = self.full.get(word)
                if known is None or len(name) > len(known[0]):
                    self.full[word] = (name, role or (known[1] if known else None))
        for pos, name, _ in found:
            self.mentions.append((pos, self.full.get(name.split()[-1], (name,))[0]))
        for a, b, run in _name_runs(text):  # single surnames later in the text: `Douglas said`
            full = self.full.get(run)
            if full and " " not in run:
                self.mentions.append((a, full[0]))
        for m in DESCRIPTION.finditer(text):
            (self.mentions if _is_person_description(m.group(0)) else self.things).append((m.start(), m.group(0)))

        inside = _inside(quoted)
        self.mentions = sorted(x for x in self.mentions if not inside(x[0]))  # words inside quotes name nobody
        self.things = sorted(x for x in self.things if not inside(x[0]))
        self._said: dict[bool, tuple[list[int], list[str]]] = {True: ([], []), False: ([], [])}

    def said(self, pos: int, speaker: str, is_person: bool) -> None:
        """An `X said` of the reporter's text; they come in reading order."""
        self.sayers.append((pos, speaker, is_person))
        positions, names = self._said[is_person]
        positions.append(pos)
        names.append(speaker)

    def _last_before(self, pos: int, person: bool) -> str | None:
        """Who last said something before pos, else who was last named (people, or organisations and documents)."""
        positions, names = self._said[person]
        k = bisect_left(positions, pos)
        if k:
            return names[k - 1]
        named = self.mentions if person else self.things
        k = bisect_left(named, (pos,))
        return named[k - 1][1] if k else None

    def person_before(self, pos: int) -> str | None:
        """The antecedent of `he` or `she` at pos."""
        return self._last_before(pos, person=True)

    def thing_before(self, pos: int) -> str | None:
        """The antecedent of `it` at pos."""
        return self._last_before(pos, person=False)

    def resolve(self, phrase: str | None, pos: int) -> tuple[str | None, str | None]:
        """A pronoun, short name, titled name or description (said at pos) -> (speaker, role)."""
        if not phrase:
            return None, None
        low = phrase.lower()
        if low in ("he", "she", "i"):
            who = self.person_before(pos)
            return who, (self.full.get(who.split()[-1], (None, None))[1] if who else None)
        if low == "it":
            return self.thing_before(pos), None
        if low in ("they", "we"):
            return None, None
        if DESCRIPTION.fullmatch(phrase):
            return phrase, None
        name, role = _split_title(phrase)
        if not name:
            return phrase, None
        words = [w for w in name.split() if w.lower() not in LOWER_NAME_PARTS]
        known = self.full.get(words[-1]) if words else None
        if known is None and words:
            known = self.full.get(words[0])
        if known and (len(name.split()) == 1 or known[0].endswith(words[-1])):
            return known[0], role or known[1]
        return name, role

    def note(self, pos: int, speaker: str | None) -> None:
        """A resolved speaker counts as the latest mention of that person."""
        if speaker and not DESCRIPTION.fullmatch(speaker) and _is_person_name(speaker):
            insort(self.mentions, (pos, speaker))
        elif speaker and DESCRIPTION.fullmatch(speaker):
            insort(self.mentions if _is_person_description(speaker) else self.things, (pos, speaker))


_PRONOUN = re.compile(r"\b(he|she|it|they|we|I)\b", re.IGNORECASE)


def _person_run(segment: str, people: _People | None, at_end: bool) -> str | None:
    """A run of name words in the segment that names a person (known to the article, or two words or more)."""
    runs = _name_runs(segment)
    if at_end:
        runs = runs[::-1]
    for a, b, run in runs:
        name, _ = _split_title(run)
        if not name or not _is_person_name(name):
            continue
        words = name.split()
        if len(words) >= 2 or (people is not None and words[-1] in people.full):
            return run
    return None


def _subject(fragment: str, where: str, people: _People | None = None) -> str | None:
    """The speaker phrase in a clause next to a verb of saying.

    where = "before": the clause ends at the verb (`..., Michael Cartland said`);
    "after": it starts after the verb (`said the Illinois Democrat, ...`);
    "between": it is what sits between a closing mark and the verb (`," Frederick Wolf of the GAO said`).
    """
    fragment = re.sub(r"(\s+\w+ly)+\s*$", "", fragment.strip(" ,:;\n"))  # `Reagan angrily denounced`
    if not fragment:
        return None
    if where == "before":
        m = re.search(r"\b(he|she|it|they|we|I)$", fragment, re.IGNORECASE)
        if m:  # `..., he said`
            return m.group(1)
        segments = [x.strip() for x in re.split(r",\s*", fragment) if x.strip()]
        segments = [x for x in segments if not re.match(r"(who|which|that|and|but)\b", x, re.IGNORECASE)] or segments
        if segments:  # the name right before the verb: `..., Michael Cartland said`
            runs = _name_runs(segments[-1])
            if runs and runs[-1][1] >= len(segments[-1].rstrip(".")) - 1:
                run = _person_run(runs[-1][2], people, at_end=True)
                if run:
                    return run
        m = re.match(r"(he|she|it|they|we|I)\b", fragment, re.IGNORECASE)
        if m:  # `He rejected suggestions ..., and denied`
            return m.group(1)
        for segment in reversed(segments):  # `Tom Cook, director of ... Association said`
            run = _person_run(segment, people, at_end=True)
            if run:
                return run
        for segment in reversed(segments):  # `The spokesman, reacting to press reports, said`
            d = [x for x in DESCRIPTION.finditer(segment)]
            if d:
                return d[-1].group(0)
        return None
    m = re.match(r"(he|she|it|they|we|I)\b", fragment, re.IGNORECASE)
    if m:
        return m.group(1)
    segments = [x.strip() for x in re.split(r",\s*", fragment) if x.strip()]
    first = segments[0] if segments else fragment
    d = DESCRIPTION.match(first)
    if d:
        return d.group(0)
    run = _person_run(first, people, at_end=False)
    if run:
        return run
    runs = _name_runs(first)
    if runs and runs[0][0] <= 4:  # `the Illinois Democrat`, `Izvestia`
        return runs[0][2]
    return None


def _after_attribution(tail: str, people: _People | None = None) -> str | None:
    """`," Putin said` / `," said the minister` / `," PAP quoted Baka as saying` right after a closing mark."""
    m = re.match(r"[\s,]*(.{0,160}?)(?:[.;]\s|[.;]$|,\s*[\"\u201c]|$)", tail, re.DOTALL)
    clause = m.group(1) if m else ""
    quoted = re.match(r"(.*?)\bquoted\s+(.+?)\s+as\s+saying", clause)
    if quoted:
        return _subject(quoted.group(2), "between", people)
    words = clause.split()
    for k, w in enumerate(words[:16]):
        if w.lower().strip(",.") in SAYING_SET:
            before, after = " ".join(words[:k]), " ".join(words[k + 1 :])
            return _subject(before, "between", people) if before else _subject(after, "after", people)
    return None


def _before_attribution(head: str, people: _People | None = None) -> str | None:
    """`Deng said: "` / `Cartland said the bill is "` / `according to X, "` before an opening mark."""
    m = re.search(r"according to\s+(.+?)[,:]?\s*$", head)
    if m:
        return _subject(m.group(1), "after", people)
    q = re.search(r"quoted\s+(.+?)\s+as\s+saying", head)
    if q:
        return _subject(q.group(1), "after", people)
    if not _may_say(head):
        return None
    words = list(re.finditer(r"\S+", head))
    for k in range(len(words) - 1, -1, -1):
        if words[k].group(0).lower().strip(",.:;") in SAYING_SET:
            before = head[: words[k].start()]
            who = _subject(before, "before", people) if before.strip() else None
            if who:
                return who
            return _subject(head[words[k].end() :], "after", people)
    return None


# -- the whole article -------------------------------------------------------------------------------------


def _kind(text: str, parts: list[tuple[int, int]], sentence_start: int, sentence: str, head: str,
          has_speaker: bool) -> str:
    """full, partial or term, from where the quotation sits in its sentence and what it holds."""
    inner = " ".join(text[a:b] for a, b in parts)
    words = _words(inner)
    head_stripped = head.rstrip()
    last_word = head_stripped.split()[-1].lower().strip(",:") if head_stripped.split() else ""
    initial = not head_stripped or head_stripped.endswith((".", "?", "!", ":"))
    direct = last_word in SAYING_SET or initial
    if len(words) <= 1 and not direct:
        return "term"
    before = head_stripped.split()[-1] if head_stripped.split() else ""
    if len(words) <= 3 and before[:1].isupper() and before.endswith(("'s", "\u2019s")):
        return "term"  # `Russia's "special operation"`: someone's label for a thing, not a speaker's words
    titled = len(words) <= 6 and all(w[:1].isupper() or w.lower() in CONNECTORS for w in words) and not initial
    if titled and not (last_word in SAYING_SET):
        return "term"
    if direct:
        return "full"
    if inner[:1].isupper() and _has_saying(head):
        return "full"
    if not has_speaker and not _has_saying(sentence):
        return "term"
    return "partial"


_VERB = re.compile(r"\b(" + "|".join(SAYING) + r")\b")


def _inside(spans: list[tuple[int, int]]) -> Callable[[int], bool]:
    """A test of whether a position lies in one of the spans, by bisection."""
    spans = sorted(spans)
    starts = [a for a, _ in spans]
    reach: list[int] = []  # the furthest end of the spans up to each one
    for _, b in spans:
        reach.append(max(b, reach[-1]) if reach else b)

    def inside(pos: int) -> bool:
        k = bisect_right(starts, pos)
        return k > 0 and pos < reach[k - 1]

    return inside


def _note_sayers(text: str, quoted: list[tuple[int, int]], people: _People) -> None:
    """Every `X said` of the reporter's text, in order, so that `he` and `it` find who spoke last."""
    inside = _inside(quoted)
    for lo, hi in _paragraphs(text):
        for sentence in re.finditer(r"[^.?!]+(?:[.?!]+|$)", text[lo:hi]):
            s_lo = lo + sentence.start()
            for m in _VERB.finditer(sentence.group(0)):
                pos = s_lo + m.start()
                if inside(pos):
                    continue
                clause = sentence.group(0)[max(0, m.start() - _CONTEXT) : m.start()]
                clause = re.split(r"[\"\u201c\u201d]", clause)[-1]
                who = _subject(clause, "before", people) if clause.strip() else None
                if who is None:
                    continue
                speaker, _ = people.resolve(who, pos)
                if speaker:
                    is_person = _is_person_description(speaker) if DESCRIPTION.fullmatch(speaker) \
                        else _is_person_name(speaker)
                    people.said(pos, speaker, is_person)


def extract_quotations(text: str) -> list[Found]:
    """Every quotation of the text, in order, with its kind, speaker and role (None when nothing attributes it)."""
    paragraphs = _paragraphs(text)
    merged: list[list[tuple[int, int]]] = []
    for parts in _raw_quotes(text):  # `"We are convinced," Putin said, "that ..."` is one quotation
        if merged:
            prev = merged[-1]
            gap = text[prev[-1][1] : parts[0][0]]
            if (text[prev[-1][0] : prev[-1][1]].rstrip().endswith(",") and len(gap) <= 90 and "\n" not in gap
                    and _has_saying(gap) and re.search(r",\s*[\"\u201c]$", gap)):
                merged[-1] = prev + parts
                continue
        merged.append(list(parts))
    quoted = [(p[0][0], p[-1][1]) for p in merged]
    people = _People(text, quoted)
    _note_sayers(text, quoted, people)
    found: list[Found] = []
    last: tuple[str | None, str | None, int] = (None, None, -10)
    starts = [lo for lo, _ in paragraphs]

    def paragraph_of(pos: int, default: int) -> int:
        k = bisect_right(starts, pos) - 1
        return k if k >= 0 and pos <= paragraphs[k][1] else default

    for parts in merged:
        start, end = parts[0][0], parts[-1][1]
        p_first = paragraph_of(start, 0)
        p_last = paragraph_of(end, p_first)
        s_lo, s_hi = _sentence_bounds(text, start, end, paragraphs[p_first][0], paragraphs[p_last][1])
        head = text[s_lo : max(s_lo, start - 1)]
        close = end + 1 if end < len(text) and text[end] in (STRAIGHT, CLOSING) else end
        who = _after_attribution(text[close : min(paragraphs[p_last][1], close + _CONTEXT)], people)
        if who is None and len(parts) > 1:  # split quotation: the attribution sits between the parts
            who = _after_attribution(text[parts[0][1] + 1 : parts[1][0]], people)
        if who is None:
            who = _before_attribution(head, people)
        if who is None and _has_saying(text[close:s_hi]):  # `... "minor deviations" by one, Lukman said`
            rest = text[close:s_hi]
            m = re.search(r"\b(" + "|".join(SAYING) + r")\b", rest)
            if m:
                who = _subject(rest[: m.start()], "before", people) or _subject(rest[m.end() :], "after", people)
        speaker, role = people.resolve(who, start) if who else (None, None)
        kind = _kind(text, parts, s_lo, text[s_lo:s_hi], head, speaker is not None)
        if kind != "term" and speaker is None and last[0] and p_first - last[2] <= 1 and not head.strip():
            speaker, role = last[0], last[1]  # an unattributed quotation right after an attributed one continues it
        if kind == "term":
            speaker = role = None
        elif speaker:
            last = (speaker, role, p_last)
            people.note(start, speaker)
        found.append(Found(start, end, tuple(parts), kind, speaker, role))
    return found
