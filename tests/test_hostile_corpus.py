"""A hostile corpus: symlinks out of the folder, multi-GB files, gzip bombs and a FIFO.

The rebuild must index the good articles, report every bad input with its file and reason, never read a byte
outside the source folder, and keep its memory near that of a build of the good files alone. The big files cost
no disk: the GB-sized ones are sparse, the bombs are 1 KB gzip members (1 MiB of "a" each) repeated.
"""

from __future__ import annotations

import gzip
import inspect
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from conftest import ROOT
from indexer import cli as cli_module
from indexer.build import MODELS, BuildConfig
from indexer.cli import main as cli
from indexer.sources import MAX_ARTICLE_BYTES, Problem, iter_files, read_file
from indexer.sources import decode as decode_module
from indexer.sources.jsonl import bounded_lines
from search.errors import BuildError
from search.layout import CACHE, current_build, read_manifest
from search.models import Article

MiB = 1024 * 1024
GiB = 1024 * MiB
# The build hashes every input whole (sha256, about 200 MB/s here): 10 s for the 2 GiB line, 5 s for the page
SPARSE_LINE_BYTES = 2 * GiB
SPARSE_PAGE_BYTES = 1 * GiB
JSONL_BOMB_MIB = 256  # the rest of an over-limit line is inflated to find the next line: about 4 s per GiB here
PAGE_BOMB_MIB = 4096  # a page is cut at the limit: its size costs nothing
OVER_1MB = "article over the 1 MB limit, skipped"

# What the child process runs: an audit hook records every file or folder it opens (the real path, so a symlink
# opened inside the corpus shows where it leads), and at exit its own peak resident set size.
CHILD = r"""
import atexit, json, os, runpy, sys
report, watched = sys.argv[1], [os.path.realpath(p) for p in sys.argv[2].split(os.pathsep)]
opened, busy = set(), [False]

def hook(event, args):
    if busy[0] or event not in ("open", "os.scandir", "os.listdir") or not args:
        return
    if not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    busy[0] = True
    try:
        real = os.path.realpath(os.fsdecode(args[0]))
        if any(real == w or real.startswith(w + os.sep) for w in watched):
            opened.add(real)
    finally:
        busy[0] = False

def done():
    # VmHWM is this process's own peak: ru_maxrss would include the pytest parent's RSS at fork (Linux keeps the
    # old high-water mark across exec), and pytest holds the model
    try:
        with open("/proc/self/status") as status:
            peak = next(int(row.split()[1]) for row in status if row.startswith("VmHWM:"))
    except OSError:  # not Linux: the rusage figure, an upper bound
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    with open(report, "w") as out:
        json.dump({"peak_kib": peak, "opened": sorted(opened)}, out)

atexit.register(done)
sys.addaudithook(hook)
sys.argv = ["indexer", *sys.argv[3:]]
runpy.run_module("indexer", run_name="__main__", alter_sys=True)
"""


def split(items) -> tuple[list[Article], list[Problem]]:
    items = list(items)
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Problem)]


def record(i: int, topic: str, words: int = 0) -> dict:
    """A small good JSONL article; `words` pads its text with more sentences."""
    text = (f"The council of {topic} met on Tuesday to discuss the harbour. Members agreed on a new budget. "
            + f"The {topic} plan was approved after a long debate about the old bridge. " * max(1, words // 14))
    return {"id": f"{topic}-{i}", "title": f"{topic.title()} council approves plan {i}", "date": f"2020-05-{i + 1:02d}",
            "source": "Example", "text": text}


def line(obj: dict) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def page(title: str, body: str) -> str:
    return f"{title}\n\n{body}\n"


def bomb_members(path: Path, head: bytes, mib: int, tail: bytes) -> Path:
    """A gzip file that inflates to `mib` MiB of "a" between head and tail, written as ~1 KB members (gzip reads
    concatenated members as one stream), so a GiB-sized bomb takes milliseconds to make."""
    member = gzip.compress(b"a" * MiB, 9)
    with path.open("wb") as out:
        out.write(gzip.compress(head))
        for _ in range(mib):
            out.write(member)
        out.write(gzip.compress(tail))
    return path


def sparse(path: Path, head: bytes, size: int, tail: bytes = b"") -> Path:
    """head, then NUL bytes up to `size` (a hole: no disk), then tail."""
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)
        out.seek(size)
        out.write(tail)
    return path


def good_files(folder: Path) -> None:
    """(a) a normal page and a normal JSONL of three small articles."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.txt").write_text(page("Storm closes the harbour", "A storm closed the harbour on Monday. "
                                          "Fishermen stayed at home and the ferries did not sail."))
    (folder / "good.jsonl").write_bytes(b"".join(line(record(i, "river")) for i in range(3)))


def hostile_corpus(tmp: Path) -> tuple[Path, Path]:
    """The corpus folder and the outside folder its symlinks lead to."""
    outside = tmp / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text(page("Secret outside", "Nobody may read this xylophonic secret."))
    (outside / "dir" / "more.jsonl").write_bytes(line(record(0, "secret")))
    corpus = tmp / "corpus"
    good_files(corpus)
    # (b) symlinks: file and folder outside, a ../ trick, a loop; one inside (to a hidden file) is followed
    (corpus / "leak.txt").symlink_to(outside / "secret.txt")
    (corpus / "leakdir").symlink_to(outside, target_is_directory=True)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "trick.txt").symlink_to(Path("..") / ".." / "outside" / "secret.txt")
    (corpus / "loop.txt").symlink_to("loop.txt")
    (corpus / ".store").mkdir()
    (corpus / ".store" / "real.txt").write_text(page("Linked page inside", "The mayor opened the new library. "
                                                      "Children read books in the garden."))
    (corpus / "linked.txt").symlink_to(Path(".store") / "real.txt")
    # (c) GB-sized sparse files: a JSONL whose second line is 2 GiB of NULs, a 1 GiB page
    first = line(record(0, "mountain", words=1700))  # over the 8 KB a reader sniffs for binary content
    assert len(first) > 8192
    sparse(corpus / "huge.jsonl", first, SPARSE_LINE_BYTES, b"\n" + line(record(2, "mountain")))
    sparse(corpus / "huge.txt", b"Huge page\n\nIt goes on and on.\n", SPARSE_PAGE_BYTES)
    # (d) gzip bombs: a JSONL line and a page that inflate to GiBs
    bomb_members(corpus / "bomb.jsonl.gz", line(record(0, "valley")) + b'{"id": "bomb", "text": "',
                 JSONL_BOMB_MIB, b'"}\n' + line(record(2, "valley")))
    bomb_members(corpus / "bomb.txt.gz", b"Bomb page\n\n", PAGE_BOMB_MIB, b"\n")
    # (e) a FIFO: opening it would block the build for ever
    os.mkfifo(corpus / "pipe.jsonl")
    return corpus, outside


# --- the bounded line reader ----------------------------------------------------------------------------------


class Spy(io.BytesIO):
    """A stream that remembers the longest piece it returned."""

    longest = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        got = super().readline(size)
        self.longest = max(self.longest, len(got))
        return got


def test_lines_at_the_limit_are_kept_and_longer_ones_cut() -> None:
    limit = 10
    data = (b"0123456789\n"          # exactly the limit: kept
            b"0123456789\r\n"        # the limit with CRLF: kept (the line end is not the article)
            b"0123456789A\n"         # one over: skipped
            b"0123456789A\r\n"       # one over with CRLF
            b"\n"                    # blank
            + b"x" * 5000 + b"\n"    # far over: cut, its rest skipped
            + b"after\n"             # reading goes on
            + b"0123456789")         # the last line without its newline, at the limit
    spy = Spy(data)
    got = list(bounded_lines(spy, limit))
    assert got == [b"0123456789\n", b"0123456789\r\n", None, None, b"\n", None, b"after\n", b"0123456789"]
    assert list(bounded_lines(io.BytesIO(b"ok\n0123456789A"), limit)) == [b"ok\n", None]  # last line, over
    assert list(bounded_lines(io.BytesIO(b"0123456789A\r"), limit)) == [None]
    assert list(bounded_lines(io.BytesIO(b""), limit)) == []


def test_a_long_line_is_never_held_whole() -> None:
    limit = 64 * 1024
    spy = Spy(b'{"id": "a", "text": "' + b"z" * (20 * MiB) + b'"}\n' + line({"id": "b", "text": "Small."}))
    got = list(bounded_lines(spy, limit))
    assert got[0] is None and json.loads(got[1])["id"] == "b"
    assert spy.longest <= 1 * MiB  # the skip pieces; the kept part of a line is at most limit + 2 bytes


def test_jsonl_line_over_the_limit_is_a_problem_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    big = {"id": "big", "text": "word " * (MiB // 5)}
    crlf, no_newline = line(record(1, "a")).replace(b"\n", b"\r\n"), line(record(2, "a"))[:-1]
    path.write_bytes(line(record(0, "a")) + line(big) + crlf + no_newline)
    articles, problems = split(read_file(path, "jsonl", max_bytes=MiB))
    assert [a.id for a in articles] == ["a-0", "a-1", "a-2"]
    assert problems == [Problem(f"{path}:2", OVER_1MB, True)]
    articles, problems = split(read_file(path, "jsonl"))  # the default limit, 5 MB, keeps it
    assert len(articles) == 4 and not problems and MAX_ARTICLE_BYTES == 5 * MiB


def test_limit_counts_the_bytes_of_the_article(tmp_path: Path) -> None:
    limit = 2000
    record_bytes = json.dumps({"id": "x", "text": "Fine words here. " * 200})[:limit - 2] + '"}'
    assert len(record_bytes.encode()) == limit
    path = tmp_path / "edge.jsonl"
    path.write_bytes(record_bytes.encode() + b"\r\n" + record_bytes.replace('"x"', '"yy"').encode() + b"\n")
    articles, problems = split(read_file(path, "jsonl", max_bytes=limit))
    assert [a.id for a in articles] == ["x"]
    assert problems == [Problem(f"{path}:2", "article over the 0.00190735 MB limit, skipped", True)]
    text = page("Edge page", "Some body text. " * 200).encode()
    exact, over = tmp_path / "exact.txt", tmp_path / "over.txt"
    exact.write_bytes(text)
    over.write_bytes(text + b" ")
    assert len(split(read_file(exact, "pagetext", max_bytes=len(text)))[0]) == 1
    assert list(read_file(over, "pagetext", max_bytes=len(text))) == [
        Problem(str(over), f"article over the {len(text) / MiB:g} MB limit, skipped", True)]


def test_gzip_limits_count_decompressed_bytes_and_bombs_are_cut(tmp_path: Path, monkeypatch) -> None:
    read = []
    real_open = decode_module.open_binary

    def counting(path: Path):
        handle = real_open(path)
        original = handle.read
        handle.read = lambda size=-1: read.append(len(data := original(size))) or data  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(decode_module, "open_binary", counting)
    bomb = bomb_members(tmp_path / "bomb.txt.gz", b"Bomb\n\n", 256, b"\n")
    assert bomb.stat().st_size < 400_000
    assert list(read_file(bomb, "pagetext", max_bytes=MiB)) == [Problem(str(bomb), OVER_1MB, True)]
    assert sum(read) == MiB + 1  # cut at the limit, the rest never inflated
    jsonl = bomb_members(tmp_path / "bomb.jsonl.gz", line(record(0, "g")) + b'{"id": "bomb", "text": "', 64,
                         b'"}\n' + line(record(1, "g")))
    articles, problems = split(read_file(jsonl, "jsonl", max_bytes=MiB))
    assert [a.id for a in articles] == ["g-0", "g-1"] and problems == [Problem(f"{jsonl}:2", OVER_1MB, True)]


def test_corrupt_and_truncated_gzip_are_problems(tmp_path: Path) -> None:
    whole = gzip.compress(line(record(0, "t")) + line(record(1, "t")) + os.urandom(30_000).hex().encode())
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(whole[: len(whole) - 200])
    articles, problems = split(read_file(truncated, "jsonl"))
    assert [a.id for a in articles] == ["t-0", "t-1"]  # what came before the cut is kept
    assert len(problems) == 1 and problems[0].reason.startswith("cannot read") and problems[0].skipped
    assert problems[0].origin == f"{truncated}:3"
    fake = tmp_path / "plain.txt.gz"
    fake.write_text(page("Not gzip", "Plain text under a .gz name."))
    (problem,) = read_file(fake, "pagetext")
    assert problem.origin == str(fake) and problem.reason.startswith("cannot read") and problem.skipped
    corrupt = tmp_path / "corrupt.txt.gz"
    data = bytearray(gzip.compress(page("Corrupt", "Body text here. " * 100).encode()))
    data[30:60] = b"\xff" * 30
    corrupt.write_bytes(bytes(data))
    (problem,) = read_file(corrupt, "pagetext")
    assert problem.reason.startswith("cannot read") and problem.skipped


# --- the folder walk: symlinks and special files ----------------------------------------------------------------


def test_walk_refuses_links_out_loops_and_special_files(tmp_path: Path) -> None:
    corpus, outside = hostile_corpus_light(tmp_path)
    got = list(iter_files([corpus]))
    assert got == [
        (corpus / "chain.txt", "pagetext"),  # chain.txt -> linked.txt -> .store/real.txt, all inside
        (corpus / "good.jsonl", "jsonl"),
        (corpus / "good.txt", "pagetext"),
        Problem(str(corpus / "leak.txt"), "symlink points outside the source folder", True),
        Problem(str(corpus / "leakchain.txt"), "symlink points outside the source folder", True),
        Problem(str(corpus / "leakdir"), "symlink to a folder, not followed", True),
        (corpus / "linked.txt", "pagetext"),
        Problem(str(corpus / "loop.txt"), "symlink loop", True),
        Problem(str(corpus / "pipe.jsonl"), "not a regular file (a FIFO)", True),
        Problem(str(corpus / "pipelink.jsonl"), "not a regular file (a FIFO)", True),
        Problem(str(corpus / "sub" / "inside.txt"), "symlink to a folder, not followed", True),
        Problem(str(corpus / "sub" / "trick.txt"), "symlink points outside the source folder", True),
        (corpus / "sub" / "up.txt", "pagetext"),  # ../good.txt stays inside
    ]
    # the given path is the user's choice: a symlink to the folder walks the folder, with the same checks
    link = tmp_path / "corpus-link"
    link.symlink_to(corpus, target_is_directory=True)
    via_link = list(iter_files([link]))
    assert via_link == [_moved(item, corpus, link) for item in got]
    # a given FIFO, a given loop, a given symlink to an outside file (followed: it was asked for)
    assert list(iter_files([corpus / "pipe.jsonl"])) == [
        Problem(str(corpus / "pipe.jsonl"), "not a regular file (a FIFO)", True)]
    assert list(iter_files([corpus / "loop.txt"])) == [Problem(str(corpus / "loop.txt"), "symlink loop", True)]
    assert list(iter_files([corpus / "leak.txt"])) == [(corpus / "leak.txt", "pagetext")]
    assert outside.is_dir()


def hostile_corpus_light(tmp: Path) -> tuple[Path, Path]:
    """The symlinks and FIFO of the hostile corpus, without its big files (for the walk alone)."""
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(page("Secret", "Outside."))
    corpus = tmp / "corpus"
    good_files(corpus)
    (corpus / "leak.txt").symlink_to(outside / "secret.txt")
    (corpus / "leakdir").symlink_to(outside, target_is_directory=True)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "trick.txt").symlink_to(Path("..") / ".." / "outside" / "secret.txt")
    (corpus / "sub" / "up.txt").symlink_to(Path("..") / "good.txt")
    (corpus / "sub" / "inside.txt").symlink_to(corpus / ".store", target_is_directory=True)
    (corpus / "loop.txt").symlink_to("loop.txt")
    (corpus / ".store").mkdir()
    (corpus / ".store" / "real.txt").write_text(page("Linked", "Inside."))
    (corpus / "linked.txt").symlink_to(Path(".store") / "real.txt")
    (corpus / "chain.txt").symlink_to("linked.txt")
    (corpus / "leakchain.txt").symlink_to("leak.txt")
    os.mkfifo(corpus / "pipe.jsonl")
    (corpus / "pipelink.jsonl").symlink_to("pipe.jsonl")
    return corpus, outside


def _moved(item, old: Path, new: Path):
    if isinstance(item, Problem):
        return Problem(item.origin.replace(str(old), str(new), 1), item.reason, item.skipped)
    return (new / item[0].relative_to(old), item[1])


def test_deep_nesting_does_not_exhaust_the_recursion_limit(tmp_path: Path) -> None:
    folder = tmp_path / "deep"
    bottom = folder.joinpath(*["d"] * 300, "bottom.txt")
    bottom.parent.mkdir(parents=True)
    bottom.write_text(page("Bottom", "Deep down."))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 100)  # a walk that recursed per folder would need 300 more
    try:
        got = list(iter_files([folder]))
    finally:
        sys.setrecursionlimit(limit)
    assert got == [(bottom, "pagetext")]


# --- the setting ------------------------------------------------------------------------------------------------


def test_max_article_mb_option_reaches_the_build_config(monkeypatch) -> None:
    seen: list[BuildConfig] = []

    def fake_build(config: BuildConfig):
        seen.append(config)
        raise BuildError("stopped by the test")

    monkeypatch.setattr(cli_module, "build_index", fake_build)
    runner = CliRunner()
    assert runner.invoke(cli, ["rebuild", "--source", "x", "--quiet", "--max-article-mb", "0.5"]).exit_code == 1
    assert runner.invoke(cli, ["rebuild", "--source", "x", "--quiet", "--max-article-mb", "2"]).exit_code == 1
    assert runner.invoke(cli, ["rebuild", "--source", "x", "--quiet"]).exit_code == 1
    assert [c.max_article_bytes for c in seen] == [MiB // 2, 2 * MiB, 5 * MiB]
    assert BuildConfig().max_article_bytes == 5 * MiB
    assert runner.invoke(cli, ["rebuild", "--max-article-mb", "0"]).exit_code == 2
    assert "--max-article-mb" in runner.invoke(cli, ["rebuild", "--help"]).output


# --- a real rebuild of the hostile corpus, in its own process ---------------------------------------------------


def start_child(tmp: Path, name: str, source: Path, index: Path, watched: list[Path], model_cache: Path):
    """`python -m indexer rebuild` of `source` with a 1 MB limit, started; finish_child() waits for it."""
    shutil.copytree(model_cache / CACHE / MODELS, index / CACHE / MODELS, copy_function=os.link)
    report = tmp / f"{name}.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    args = ["rebuild", "--source", str(source), "--index", str(index), "--max-article-mb", "1", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(report), os.pathsep.join(map(str, watched)), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, report


def finish_child(started, timeout: float = 300) -> tuple[int, str, str, int, list[str]]:
    """(exit code, stdout, stderr, peak KiB, watched paths opened) of a started child."""
    proc, report = started
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the rebuild hung (a FIFO opened?):\n{err[-3000:]}")
    got = json.loads(report.read_text())
    return proc.returncode, out, err, got["peak_kib"], got["opened"]


def stats(index: Path) -> dict:
    result = CliRunner().invoke(cli, ["stats", "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_rebuild_of_a_hostile_corpus(tmp_path: Path, embedder, model_cache: Path) -> None:
    corpus, outside = hostile_corpus(tmp_path)
    link = tmp_path / "corpus-link"  # given as a symlink to the folder: followed, it is the user's choice
    link.symlink_to(corpus, target_is_directory=True)
    index = tmp_path / "index"
    hostile = start_child(tmp_path, "hostile", link, index, [corpus, outside], model_cache)
    try:
        # the yardstick, alongside: the good files alone, the same process shape, the same model
        good = tmp_path / "good"
        good_files(good)
        code, _, err, baseline_kib, _ = finish_child(start_child(tmp_path, "baseline", good, tmp_path / "good-index",
                                                                 [good], model_cache))
        assert code == 0, err[-3000:]
        assert stats(tmp_path / "good-index")["articles"] == 4
        code, out, err, peak_kib, opened = finish_child(hostile)
    finally:
        if hostile[0].poll() is None:
            hostile[0].kill()
            hostile[0].communicate()
    assert code == 0, err[-3000:]

    info = stats(index)
    # good.txt, good.jsonl (3), linked.txt, huge.jsonl lines 1 and 3, bomb.jsonl.gz lines 1 and 3
    assert info["articles"] == 9
    manifest = read_manifest(current_build(index))
    problems = {p["origin"]: p["reason"] for p in manifest["problems"]}
    expected = {
        f"{link}/bomb.jsonl.gz:2": OVER_1MB,
        f"{link}/bomb.txt.gz": OVER_1MB,
        f"{link}/huge.jsonl:2": OVER_1MB,
        f"{link}/huge.txt": OVER_1MB,
        f"{link}/leak.txt": "symlink points outside the source folder",
        f"{link}/leakdir": "symlink to a folder, not followed",
        f"{link}/loop.txt": "symlink loop",
        f"{link}/pipe.jsonl": "not a regular file (a FIFO)",
        f"{link}/sub/trick.txt": "symlink points outside the source folder",
    }
    assert problems == expected and len(manifest["problems"]) == len(expected)
    assert all(p["skipped"] for p in manifest["problems"]) and info["skipped"] == len(expected)
    for origin, reason in expected.items():
        assert f"skipped: {origin}: {reason}" in out
    # nothing outside was opened; the corpus was (the hook works), the FIFO never
    assert not [p for p in opened if Path(p).is_relative_to(outside.resolve())], opened
    assert str((corpus / "good.txt").resolve()) in opened and str((corpus / ".store" / "real.txt").resolve()) in opened
    assert str((corpus / "pipe.jsonl").resolve()) not in opened
    assert not [s for s in manifest["sources"] if Path(s["path"]).resolve().is_relative_to(outside.resolve())]
    # memory: the 2 GiB line, the 1 GiB page and the bombs (256 MiB and 4 GiB inflated) are read at most 1 MiB + 2
    # bytes at a time. Measured here: 178 MiB for the good files alone (the ONNX model, tokenizer, FAISS, numpy),
    # 183 MiB for the hostile corpus. Reading the smallest of them whole (the 256 MiB line, then its text) would
    # add over 256 MiB, so a margin of 128 MiB over the yardstick tells the two apart with room for noise.
    peak_mib, baseline_mib = peak_kib / 1024, baseline_kib / 1024
    print(f"peak RSS: good files {baseline_mib:.0f} MiB, hostile corpus {peak_mib:.0f} MiB")
    assert peak_mib < baseline_mib + 128, (peak_mib, baseline_mib)
    assert peak_mib < 1024


def test_a_file_name_that_is_not_utf8_is_indexed_and_reported_printably(tmp_path: Path, embedder) -> None:
    """Python keeps undecodable bytes of a name as lone surrogates, which SQLite, JSON and terminals refuse."""
    import os

    from indexer.build import BuildConfig, build_index
    from search.engine import SearchEngine

    folder = tmp_path / "corpus"
    folder.mkdir()
    name = os.fsdecode(b"\xff-page.txt")
    (folder / name).write_text("Harbour strike ends\n\nDock workers ended the harbour strike on Monday.\n")
    (folder / os.fsdecode(b"bad-\xfe.bin")).write_bytes(b"x")
    report = build_index(BuildConfig(sources=(folder,), index_dir=tmp_path / "index", progress=False),
                         embedder=embedder)
    assert report.articles == 1
    assert [p.origin for p in report.problems] == [str(folder / "bad-\\xfe.bin")]
    engine = SearchEngine.open(tmp_path / "index", embedder=embedder)
    [article] = engine.store.articles()
    assert article.origin == str(folder / "\\xff-page.txt") and "\udcff" not in article.id
    engine.close()
