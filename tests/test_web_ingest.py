"""The ingest API (web/ingest.py): off without a token, 401 and 413 before anything is read, per-article results for a
batch, every acknowledged write in the journal before its 202, searchable once committed, and `python -m web`
starting and stopping its committer; every response checked against /api/openapi.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from bench.server import serving
from conftest import ROOT
from search.commit import read_commit
from search.journal import Add, Delete, Journal, JournalLock, WriterLock
from search.layout import current_build
from test_web_api import checked
from web import create_app, schemas
from web.ingest import url_id

TOKEN = "test-ingest-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NDJSON = "application/x-ndjson"
HARBOUR = {"id": "harbour-1", "title": "Harbour strike ends", "date": "2024-05-04", "source": "Wire",
           "text": "Dock workers ended the harbour strike on Monday after the union accepted a pay rise."}


@pytest.fixture(scope="module")
def index(seeds_index: Path, tmp_path_factory) -> Path:
    """This module's own copy of the seeds index: its journal and commits change here only."""
    target = tmp_path_factory.mktemp("ingest") / "index"
    shutil.copytree(seeds_index, target, ignore=shutil.ignore_patterns("journal", ".rebuild.lock"))
    return target


@pytest.fixture(scope="module")
def app(index: Path, embedder):
    app = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "RELOAD_INTERVAL": 0,
                      "INGEST_TOKEN": TOKEN, "INGEST_MAX_BYTES": 64 * 1024})
    yield app
    app.extensions["newsclip"].close()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def openapi(client) -> dict[str, Any]:
    return client.get("/api/openapi.json").get_json()


def journaled(index_dir: Path) -> dict[int, Any]:
    """seq -> record of every write the journal holds after the current commit, read as a writer reads it."""
    with WriterLock(index_dir, timeout=10):
        committed = read_commit(current_build(index_dir), 0).journal_seq
        with Journal(index_dir, committed_seq=committed) as journal:
            return dict(journal.replay(committed))


def ndjson(*lines: Any) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)


def test_every_write_is_documented_with_its_token(openapi) -> None:
    from openapi_spec_validator import validate as validate_document

    validate_document(openapi)
    assert openapi["components"]["securitySchemes"]["bearer"] == {**openapi["components"]["securitySchemes"]["bearer"],
                                                                 "type": "http", "scheme": "bearer"}
    operations = [openapi["paths"]["/api/articles"]["post"], openapi["paths"]["/api/articles/{article_id}"]["put"],
                  openapi["paths"]["/api/articles/{article_id}"]["delete"]]
    for operation in operations:
        assert operation["security"] == [{"bearer": []}]
        assert {"202", "400", "401", "404", "413", "503"} <= set(operation["responses"])
        assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert "security" not in openapi["paths"]["/api/articles/{article_id}"]["get"]  # reading needs no token
    content = operations[0]["requestBody"]["content"]
    assert set(content) == {"application/json", NDJSON}


def test_off_without_a_token_is_a_json_404(index: Path, embedder, openapi) -> None:
    app = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "RELOAD_INTERVAL": 0})
    try:
        client = app.test_client()
        for response in (client.post("/api/articles", json=HARBOUR, headers=AUTH),
                         client.put("/api/articles/x", json=HARBOUR), client.delete("/api/articles/x")):
            assert response.status_code == 404
            error = checked(response, openapi)["error"]
            assert error["code"] == "ingest_disabled" and "not enabled" in error["message"]
        assert client.get("/api/articles/no-such-id").get_json()["error"]["code"] == "not_found"  # reading is on
    finally:
        app.extensions["newsclip"].close()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}x"}])
def test_a_missing_or_wrong_token_is_a_401(client, openapi, index: Path, headers: dict) -> None:
    before = journaled(index)
    for response in (client.post("/api/articles", json=HARBOUR, headers=headers),
                     client.put("/api/articles/harbour-1", json=HARBOUR, headers=headers),
                     client.delete("/api/articles/harbour-1", headers=headers)):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="newsclip"')
        assert checked(response, openapi)["error"]["code"] == "unauthorized"
    assert journaled(index) == before  # nothing written


def test_the_token_comes_from_the_environment_or_a_file(index: Path, embedder, tmp_path: Path,
                                                         monkeypatch) -> None:
    from web.ingest import IngestConfigError, read_settings

    monkeypatch.setenv("NEWSCLIP_INGEST_TOKEN", "0123456789012345")  # digits: taken as written, not as a number
    app = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "RELOAD_INTERVAL": 0})
    try:
        assert app.extensions["newsclip_ingest"].token == b"0123456789012345"
        response = app.test_client().delete("/api/articles/none-such",
                                            headers={"Authorization": "Bearer 0123456789012345"})
        assert response.status_code == 202
    finally:
        app.extensions["newsclip"].close()
    monkeypatch.delenv("NEWSCLIP_INGEST_TOKEN")
    (tmp_path / "token").write_text("from-a-file-0123456789\nignored\n")
    assert read_settings({"INDEX": index, "INGEST_TOKEN_FILE": str(tmp_path / "token"),
                          "INGEST_MAX_BYTES": 1}).token == b"from-a-file-0123456789"
    (tmp_path / "empty").write_text("\n")
    for bad in ({"INGEST_TOKEN_FILE": str(tmp_path / "empty")}, {"INGEST_TOKEN_FILE": str(tmp_path / "none")},
                {"INGEST_TOKEN": "a", "INGEST_TOKEN_FILE": str(tmp_path / "token")}, {"INGEST_TOKEN": "with space"}):
        with pytest.raises(IngestConfigError):
            read_settings({"INDEX": index, "INGEST_MAX_BYTES": 1, **bad})


def test_a_body_over_the_limit_is_a_413_and_search_keeps_its_16_kb(client, openapi, index: Path) -> None:
    before = journaled(index)
    big = {**HARBOUR, "text": "word " * 20_000}  # 100 KB, over this app's 64 KB
    response = client.post("/api/articles", json=big, headers=AUTH)
    assert response.status_code == 413 and checked(response, openapi)["error"]["code"] == "payload_too_large"

    environ = EnvironBuilder("/api/articles", method="POST", data=json.dumps(big),
                             headers={**AUTH, "Content-Type": "application/json"}).get_environ()
    del environ["CONTENT_LENGTH"]  # a chunked request, as a server passes it on: the limit holds while reading
    environ["wsgi.input_terminated"] = True
    body, status, _ = run_wsgi_app(client.application, environ, buffered=True)
    assert status.startswith("413") and json.loads(b"".join(body))["error"]["code"] == "payload_too_large"
    assert client.post("/api/articles", json=big).status_code == 401  # the token is checked first
    assert journaled(index) == before
    response = client.post("/api/search", json={"q": "x" * 20_000})
    assert response.status_code == 400 and checked(response, openapi)["error"]["param"] == "body"


def test_a_batch_answers_per_article(client, openapi, index: Path) -> None:
    body = ndjson({"id": "batch-1", "title": "First", "text": "The first story of the batch."},
                  b'{"id": "batch-2", "title": "Broken", "text": ',  # not JSON
                  b"",  # blank lines are skipped
                  {"_id": "batch-3", "headline": "Third", "body": "The third story, under the JSONL names."})
    response = client.post("/api/articles", data=body, headers={**AUTH, "Content-Type": NDJSON})
    assert response.status_code == 202
    result = checked(response, openapi)
    assert result["errors"] is True
    first, broken, third = result["items"]
    assert (first["line"], first["id"], first["status"], first["error"]) == (1, "batch-1", 202, None)
    assert (broken["line"], broken["id"], broken["status"], broken["seq"]) == (2, None, 400, None)
    assert broken["error"]["code"] == "bad_request" and broken["error"]["param"] == "body"
    assert (third["line"], third["id"], third["status"]) == (4, "batch-3", 202) and third["seq"] == first["seq"] + 1
    records = journaled(index)  # in the journal before the 202
    assert records[first["seq"]].article == {"id": "batch-1", "raw": {
        "id": "batch-1", "title": "First", "text": "The first story of the batch."}}
    assert records[third["seq"]].article["raw"] == {"id": "batch-3", "title": "Third",
                                                    "text": "The third story, under the JSONL names."}


@pytest.mark.parametrize("article, param", [
    ({"title": "No id", "text": "Body."}, "id"),
    ({"id": "blank", "title": " ", "text": " \n "}, "text"),
    ({"id": "reuter", "text": "\nReuter\n"}, "text"),  # the committer drops a wire's sign-off: nothing would stay
    ({"id": "", "text": "Body."}, "id"),
    ({"id": " padded", "text": "Body."}, "id"),
    ({"id": True, "text": "Body."}, "id"),
    ({"id": 1.5, "text": "Body."}, "id"),
    ({"id": "x" * 513, "text": "Body."}, "id"),
    ({"id": "d", "text": "Body.", "date": "04/05/2024"}, "date"),
    ({"id": "d", "text": "Body.", "date": "2024-02-30"}, "date"),
    ({"id": "u", "text": "Body.", "url": "ftp://example.com/a"}, "url"),
    ({"id": "u", "text": "Body.", "url": "https://exa mple.com/"}, "url"),
    ({"id": "a", "text": "Body.", "agencies": ["AFP", 3]}, "agencies[1]"),
    ({"id": "t", "text": 12}, "text"),
])
def test_an_invalid_article_is_a_400_naming_its_field(client, openapi, article: dict, param: str) -> None:
    response = client.post("/api/articles", json=article, headers=AUTH)
    assert response.status_code == 400, response.get_json()
    assert checked(response, openapi)["error"]["param"] == param
    line = client.post("/api/articles", data=ndjson(article), headers={**AUTH, "Content-Type": NDJSON})
    item = checked(line, openapi)["items"][0]
    assert line.status_code == 202 and item["status"] == 400 and item["error"]["param"] == param


def test_what_is_accepted_is_kept_as_the_committer_reads_it(client, openapi, index: Path) -> None:
    from indexer.living import record_article

    sent = {"url": "https://www.reuters.com/world/harbour-strike", "title": "Harbour",
            "text": "Dock workers walked out.", "date": "2024-05-04T09:30:00+02:00", "agencies": ["AFP"],
            "dateline": "HAMBURG, May 4", "cms_revision": 7, "published": "1999-01-01", "source": None}
    response = client.post("/api/articles", json=sent, headers=AUTH)
    item = checked(response, openapi)["items"][0]
    assert item["id"] == url_id(sent["url"])
    record = journaled(index)[item["seq"]].article
    assert "cms_revision" not in record["raw"] and "published" not in record["raw"]  # unknown fields are not kept
    article = record_article(record)
    assert (article.id, article.title, article.date, article.source, article.agencies, article.dateline) == (
        item["id"], "Harbour", "2024-05-04T09:30:00+02:00", "Reuters", ("AFP",), "Hamburg")
    from indexer.sources.base import url_id as indexer_url_id

    assert url_id(sent["url"]) == indexer_url_id(sent["url"])  # the id `indexer add` gives the same line


@settings(max_examples=200, deadline=None)
@given(st.from_regex(schemas.DATE_PATTERN, fullmatch=True))
def test_every_date_the_schema_accepts_is_the_day_the_committer_reads(value: str) -> None:
    from pydantic import ValidationError

    from indexer.sources.base import parse_date

    try:
        schemas.ArticleIn.model_validate({"id": "d", "text": "x", "date": value}, strict=True)
    except ValidationError:
        return  # matches the pattern but is no real date (month 13)
    assert parse_date(value) is not None and parse_date(value)[:10] == value[:10]


def test_put_takes_its_id_from_the_path(client, openapi, index: Path) -> None:
    response = client.put("/api/articles/put-1", json={"title": "Put", "text": "Sent with PUT."}, headers=AUTH)
    assert response.status_code == 202
    body = checked(response, openapi)
    assert body["id"] == "put-1" and journaled(index)[body["seq"]].article["raw"]["id"] == "put-1"
    same = client.put("/api/articles/42", json={"id": 42, "text": "An integer id."}, headers=AUTH)
    assert same.status_code == 202 and checked(same, openapi)["id"] == "42"
    other = client.put("/api/articles/put-1", json={"id": "put-2", "text": "Wrong id."}, headers=AUTH)
    assert other.status_code == 400 and checked(other, openapi)["error"]["param"] == "id"
    nested = client.put("/api/articles/a/b%20c", json={"text": "An id with a slash."}, headers=AUTH)
    assert checked(nested, openapi)["id"] == "a/b c"
    ndjson_put = client.put("/api/articles/put-1", data=ndjson({"text": "x"}), headers={**AUTH, "Content-Type": NDJSON})
    assert ndjson_put.status_code == 415 and checked(ndjson_put, openapi)["error"]["code"] == "unsupported_media_type"
    padded = client.put("/api/articles/%20x", json={"text": "x"}, headers=AUTH)
    assert padded.status_code == 400 and checked(padded, openapi)["error"]["param"] == "article_id"


def test_delete_is_journaled(client, openapi, index: Path) -> None:
    response = client.delete("/api/articles/harbour-1", headers=AUTH)
    assert response.status_code == 202
    body = checked(response, openapi)
    record = journaled(index)[body["seq"]]
    assert isinstance(record, Delete) and record.article_id == "harbour-1"
    assert client.delete("/api/articles/x?refresh=true", headers=AUTH).status_code == 400


def test_requests_it_cannot_read_are_refused_whole(client, openapi, index: Path) -> None:
    before = journaled(index)
    cases = [
        (dict(data=b"[1]", content_type="application/json"), 400),
        (dict(data=b"\xff\xfe", content_type="application/json"), 400),
        (dict(data=b'{"id": "a", "id": "b", "text": "x"}', content_type="application/json"), 400),
        (dict(data=b"\n\n", content_type=NDJSON), 400),
        (dict(data=b"id=1", content_type="application/x-www-form-urlencoded"), 415),
        (dict(data=json.dumps(HARBOUR), content_type="application/json; charset=latin-1"), 415),
        (dict(data=b"\x1f\x8b", content_type="application/json", headers={"Content-Encoding": "gzip"}), 415),
    ]
    for kwargs, status in cases:
        response = client.post("/api/articles", **{**kwargs, "headers": {**AUTH, **kwargs.get("headers", {})}})
        assert response.status_code == status, (kwargs, response.get_json())
        checked(response, openapi)
    assert journaled(index) == before
    wrong = client.patch("/api/articles/x", json={}, headers=AUTH)
    assert wrong.status_code == 405 and checked(wrong, openapi)["error"]["code"] == "method_not_allowed"


def test_a_busy_writer_is_a_503_with_retry_after(index: Path, embedder, openapi) -> None:
    app = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "RELOAD_INTERVAL": 0,
                      "INGEST_TOKEN": TOKEN, "INGEST_LOCK_TIMEOUT": 0.2})
    try:
        with WriterLock(index, timeout=5):  # a commit (embedding) holds the index: ingest does not wait for it
            other = {"id": "while-committing", "title": "Tide tables", "text": "High water at noon."}
            response = app.test_client().post("/api/articles", json=other, headers=AUTH)
        assert response.status_code == 202
        with JournalLock(index, timeout=5):  # a committer reading or purging the journal, stuck past the timeout
            response = app.test_client().post("/api/articles", json=HARBOUR, headers=AUTH)
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert checked(response, openapi)["error"]["code"] == "writer_busy"
    finally:
        app.extensions["newsclip"].close()


def test_committed_writes_are_searched_and_deletes_gone(app, client, openapi, index: Path, embedder) -> None:
    from indexer.living import apply_journaled

    def titles(q: str) -> list[str]:
        return [h["title"] for h in checked(client.get("/api/search", query_string={"q": q}), openapi)["hits"]]

    story = {**HARBOUR, "id": "committed-1", "text": HARBOUR["text"] + " Cranes at the container terminal "
                                                                       "moved again by noon."}
    assert checked(client.post("/api/articles", json=story, headers=AUTH), openapi)["errors"] is False
    assert "Harbour strike ends" not in titles("harbour strike")  # journaled, not yet committed
    report = apply_journaled(index, embedder=embedder)  # what `indexer follow` does
    assert "committed-1" in report.added and not report.problems
    assert app.extensions["newsclip"].refresh()
    assert titles("harbour strike dock workers")[0] == "Harbour strike ends"
    article = checked(client.get("/api/articles/committed-1"), openapi)
    assert article["source"] == "Wire" and article["date"] == "2024-05-04"
    assert journaled(index) == {}  # the commit holds them: purged from the journal
    assert client.delete("/api/articles/committed-1", headers=AUTH).status_code == 202
    apply_journaled(index, embedder=embedder)
    assert app.extensions["newsclip"].refresh()
    assert checked(client.get("/api/articles/committed-1"), openapi)["error"]["code"] == "not_found"
    assert "Harbour strike ends" not in titles("harbour strike dock workers")


# -- the production server: durability under kill -9, and its committer --------------------------------------

POSTER = """
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
n = 0
while True:
    n += 1
    body = json.dumps({"id": f"kill-{n}", "title": f"Story {n}", "text": f"Story number {n} of the drill."}).encode()
    request = urllib.request.Request(base + "/api/articles", body, method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            item = json.loads(response.read())["items"][0]
    except OSError:
        continue  # refused or cut: not acknowledged
    print(item["seq"], item["id"], flush=True)
"""


def test_no_acknowledged_write_is_lost_to_kill_9(index: Path, tmp_path: Path) -> None:
    """A client posts in a loop; the server is killed with SIGKILL mid-stream, then the client: every write the
    client saw acknowledged is in the journal when it is opened again."""
    own = tmp_path / "index"
    shutil.copytree(index, own, ignore=shutil.ignore_patterns(".rebuild.lock"))
    env = {"NEWSCLIP_INGEST_TOKEN": TOKEN}
    with serving(own, tmp_path / "server.log", "--no-follow", env=env) as (base, server):
        latencies = []
        for n in range(20):  # the figure: one article, POST until 202, on loopback
            request = urllib.request.Request(f"{base}/api/articles", json.dumps({**HARBOUR, "id": f"t-{n}"}).encode(),
                                             method="POST", headers={**AUTH, "Content-Type": "application/json"})
            began = time.perf_counter()
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 202
            latencies.append((time.perf_counter() - began) * 1000)
        print(f"POST of one article until 202: median {statistics.median(latencies):.1f} ms, "
              f"max {max(latencies):.1f} ms (20, loopback)")
        out = (tmp_path / "poster.out").open("w")
        poster = subprocess.Popen([sys.executable, "-c", POSTER, base, TOKEN], stdout=out, cwd=ROOT)
        try:
            deadline = time.monotonic() + 20
            while (tmp_path / "poster.out").read_text().count("\n") < 30:
                assert time.monotonic() < deadline and poster.poll() is None, "the poster got no acknowledgments"
                time.sleep(0.02)
            os.kill(server.pid, signal.SIGKILL)  # mid-stream, by its PID
            server.wait()
            time.sleep(0.2)
        finally:
            os.kill(poster.pid, signal.SIGKILL)
            poster.wait()
            out.close()
    assert "started indexer follow" not in (tmp_path / "server.log").read_text()  # --no-follow: no committer
    acknowledged = [line.split() for line in (tmp_path / "poster.out").read_text().splitlines() if line.strip()]
    records = journaled(own)
    assert len(acknowledged) >= 30
    for seq, article_id in acknowledged:
        assert isinstance(records.get(int(seq)), Add) and records[int(seq)].article["id"] == article_id, seq


def test_the_server_starts_its_committer_and_stops_it(index: Path, tmp_path: Path) -> None:
    """`python -m web` with a token starts `indexer follow` beside it (a posted article becomes searchable in the
    running server), and stops it by its PID when it exits; --no-follow starts none."""
    own = tmp_path / "index"
    shutil.copytree(index, own, ignore=shutil.ignore_patterns(".rebuild.lock"))
    log = tmp_path / "server.log"
    with serving(own, log, env={"NEWSCLIP_INGEST_TOKEN": TOKEN}) as (base, server):
        found = re.search(r"indexer follow.*pid (\d+)", log.read_text())
        assert found, log.read_text()
        follower = int(found[1])
        cmdline = Path(f"/proc/{follower}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:5] == [b"-m", b"indexer", b"follow", b"--index"] and Path(cmdline[5].decode()) == own
        story = {**HARBOUR, "id": "followed-1"}
        request = urllib.request.Request(f"{base}/api/articles", json.dumps(story).encode(), method="POST",
                                         headers={**AUTH, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        acknowledged = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/articles/followed-1", timeout=10) as response:
                    break
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
            assert time.monotonic() - acknowledged < 30, log.read_text()
            time.sleep(0.05)
        print(f"searchable in the running server {time.monotonic() - acknowledged:.2f} s after its 202 "
              "(the committer's first commit loads the model)")
        server.terminate()  # SIGTERM, as a service manager stops it
        assert server.wait(timeout=60) == 0
    text = log.read_text()
    assert f"stopped indexer follow (pid {follower}, exit 0)" in text, text
    with pytest.raises(ProcessLookupError):
        os.kill(follower, 0)



def test_a_server_killed_with_sigkill_leaves_no_committer(index: Path, tmp_path: Path) -> None:
    own = tmp_path / "index"
    shutil.copytree(index, own, ignore=shutil.ignore_patterns(".rebuild.lock"))
    log = tmp_path / "server.log"
    with serving(own, log, env={"NEWSCLIP_INGEST_TOKEN": TOKEN}) as (_, server):
        follower = int(re.search(r"indexer follow.*pid (\d+)", log.read_text())[1])
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    deadline = time.monotonic() + 20
    while Path(f"/proc/{follower}").exists() and b"follow" in Path(f"/proc/{follower}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the committer outlived its server"
        time.sleep(0.05)
