"""Word lists the quotation rules share: verbs of saying, titles, organisation words, name particles."""

from __future__ import annotations

# Verbs (every inflection listed: the pipeline runs without a lemmatizer) that attribute words to someone.
SAYING = (
    "say says said saying tell tells told add adds added stress stresses stressed warn warns warned "
    "noted stated declare declares declared explain explains explained insist insists insisted "
    "reply replies replied respond responds responded argue argues argued claimed "
    "commented continued announce announces announced acknowledge acknowledges acknowledged "
    "admit admits admitted ask asks asked write writes wrote quoted accuse accuses accused "
    "charged called describe describes described deny denies denied predict predicts predicted "
    "urge urges urged suggest suggests suggested maintain maintains maintained concede concedes conceded "
    "recalled reported repeated reiterate reiterates reiterated assert "
    "asserts asserted emphasize emphasizes emphasized emphasise emphasises emphasised promised "
    "pledged vowed denounce denounces denounced criticize criticizes criticized criticise "
    "criticised complain complains complained pointed estimated "
    "blamed express expresses expressed voiced state states note notes"
).split()
SAYING_SET = frozenset(SAYING)
# Verbs of saying whose object is the quoted phrase itself (`expressed "grave concern"`): a partial quotation.
EXPRESSING = frozenset("express expresses expressed voiced".split())
# Verbs whose object is a listener or a target, never an inverted subject: in `"...," told Reuters` nobody speaks.
TRANSITIVE = frozenset(
    "tell tells told ask asks asked quoted accuse accuses accused urge urges urged warn warns warned called "
    "describe describes described blamed criticize criticizes criticized criticise criticised denounce denounces "
    "denounced charged".split())

TITLES = frozenset((
    "president vice prime minister secretary chairman chairwoman chair director chief executive officer ceo "
    "spokesman spokeswoman spokesperson governor senator sen. sens. rep. representative deputy ambassador "
    "general gen. king queen prince leader head mr mr. mrs mrs. ms ms. dr dr. sir lord commissioner analyst "
    "economist official treasurer counsellor envoy adviser advisor assistant former acting foreign finance "
    "trade energy oil defence defense interior economy agriculture state party ruling chancellor mayor judge "
    "professor manager managing partner founder owner speaker premier undersecretary minister-president "
    "administrator attorney counsel inspector superintendent supervisor gov. sheikh emir staff exchequer investor "
    "house senate white u.s. opec ec un u.n. eu uk"
).split())
PERSONAL_TITLES = frozenset((
    "president chairman chairwoman minister secretary governor senator sen. sens. rep. representative deputy "
    "ambassador general gen. king queen prince leader mr mr. mrs mrs. ms ms. dr dr. sir lord commissioner "
    "spokesman spokeswoman director chief premier chancellor mayor judge gov. sheikh emir"
).split())
ORG_WORDS = frozenset((
    "corp corporation co inc ltd plc company association bank department institute institution institutions "
    "committee subcommittee commission exchange party board organization organisation ministry agency embassy "
    "government union council group federation league service office administration fund university court "
    "house senate congress times news press post journal radio television agreement act bill report market "
    "conventions charter nations states kingdom community republic america europe international national "
    "federal reserve treasury street airlines motors foods energy oil industries holdings system "
    "express mail herald tribune gazette telegraph chronicle daily weekly"
).split())
CONNECTORS = frozenset("of the for and de al bin van von der du la le st st. da di el".split())
LOWER_NAME_PARTS = frozenset("al de van von der du la le bin da di el ibn".split())
NOT_NAMES = frozenset((
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday in on at for but and the a an as if it he she we they this that "
    "these those when while after before since asked last next new u.s. u.k. although though because however "
    "meanwhile also despite with without under by from to of or nor yet so thus then there here what which who "
    "whom whose where why how all any both each other some such no not only than too very just now"
).split())
ABBREVIATIONS = frozenset(
    "mr. mrs. ms. dr. sen. sens. rep. gen. gov. jr. sr. st. u.s. u.n. u.k. co. corp. inc. ltd.".split())
