"""The write-ahead journal: round trips, numbering, torn tails, damage, purge (takedown) and crashes at any instant."""

from __future__ import annotations

import logging
import os
import signal
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import search.journal as jmod
from search.journal import (
    MAGIC,
    Add,
    Delete,
    Journal,
    JournalCorrupt,
    JournalError,
    WriterBusy,
    WriterLock,
)
from search.errors import NewsclipError

ROOT = Path(__file__).resolve().parents[1]


def article(n: int, text: str = "") -> Add:
    return Add({"id": f"a{n}", "title": f"Story {n}", "text": text or f"Body of story {n}.", "date": "2024-05-01"})


def the_file(index: Path) -> Path:
    files = sorted((index / "journal").iterdir())
    assert len(files) == 1, files
    return files[0]


def every_byte(index: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(index.rglob("*")) if p.is_file())


def test_round_trip(tmp_path: Path) -> None:
    records = [
        article(1),
        Add({"id": "é", "text": "Zürich, Киев, 北京 \ud800 lone surrogate", "n": [1, 2.5, None, True],
             "m": {"k": "v"}}),
        Delete("a1"),
    ]
    with Journal(tmp_path) as journal:
        assert journal.append(records[:2]) == [1, 2]
        assert journal.append(records[2:]) == [3]
        assert journal.append([]) == []
        assert (journal.last_seq, journal.pending()) == (3, 3)
        assert list(journal.replay()) == list(zip([1, 2, 3], records, strict=True))
        assert list(journal.replay(2)) == [(3, Delete("a1"))]
        assert list(journal.replay(3)) == []
    with Journal(tmp_path) as journal:
        assert list(journal.replay(0)) == list(zip([1, 2, 3], records, strict=True))
    assert [p.name for p in (tmp_path / "journal").iterdir()] == ["journal-00000000000000000001.log"]


def test_bad_records_write_nothing(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([article(1)])
        size = journal.path.stat().st_size
        for bad in ([article(2), Add({"title": "no id"})], [Add({"id": 7})], [Delete("")],
                    [Add({"id": "x", "tags": {"set"}})], [Add({"id": "x", "score": float("nan")})], ["add"]):
            with pytest.raises((ValueError, TypeError)):
                journal.append(bad)
        assert journal.path.stat().st_size == size
        assert journal.append([article(2)]) == [2]
    assert issubclass(JournalCorrupt, NewsclipError) and issubclass(WriterBusy, NewsclipError)


def test_numbers_continue_after_reopen_purge_and_loss(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([article(n) for n in range(1, 4)])
    with Journal(tmp_path) as journal:
        assert journal.last_seq == 3
        assert journal.append([article(4)]) == [4]
        journal.purge(4)  # everything committed: the journal is empty but remembers the number
        assert journal.pending() == 0
    with Journal(tmp_path) as journal:
        assert (journal.last_seq, journal.pending()) == (4, 0)
        assert journal.append([Delete("a1")]) == [5]
        with pytest.raises(JournalError, match="purged"):
            list(journal.replay(2))  # a position older than the purge: replaying from it would lose records
    for p in (tmp_path / "journal").iterdir():
        p.unlink()
    (tmp_path / "journal").rmdir()
    with Journal(tmp_path, committed_seq=5) as journal:  # journal lost: numbering still goes on above the commit
        assert journal.append([article(9)]) == [6]


def test_opening_with_the_commit_position_purges_up_to_it(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([article(1, "Sentence only record one has."), article(2)])
    with Journal(tmp_path, committed_seq=1) as journal:
        assert list(journal.replay(1)) == [(2, article(2))]
        assert journal.pending() == 1
    assert b"record one has" not in every_byte(tmp_path)
    with Journal(tmp_path, committed_seq=7) as journal:  # a commit ahead of the journal: numbering follows it
        assert (journal.last_seq, journal.pending()) == (7, 0)
        assert any("commit at 7" in r for r in journal.repairs)


def _five_records(index: Path, batches: list[int]) -> tuple[bytes, list[int]]:
    """Journal bytes of five records appended in batches of the given sizes, and each record's end offset."""
    with Journal(index) as journal:
        n = 1
        for size in batches:
            journal.append([article(k, "x" * (7 * k)) for k in range(n, n + size)])
            n += size
        data = journal.path.read_bytes()
        ends = list(journal._offsets[1:]) + [len(data)]
    return data, ends


def test_torn_tails_of_every_length_are_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, ends = _five_records(tmp_path / "src", [1, 1, 1, 1, 1])
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # hundreds of opens: durability is not what is tested here
    monkeypatch.setattr(jmod, "_datasync", lambda fd: None)
    index = tmp_path / "idx"
    (index / "journal").mkdir(parents=True)
    path = index / "journal" / "journal-00000000000000000001.log"
    start = ends[2]  # cut anywhere in the last two records
    caplog.set_level(logging.WARNING, logger="search.journal")
    for length in range(start, len(data) + 1):
        path.write_bytes(data[:length])
        caplog.clear()
        with Journal(index) as journal:
            whole = sum(end <= length for end in ends)
            assert [seq for seq, _ in journal.replay()] == list(range(1, whole + 1))
            assert path.stat().st_size == ends[whole - 1]
            torn = length != ends[whole - 1]
            assert bool(journal.repairs) == torn
            if torn:
                assert f"{path} at byte {ends[whole - 1]}" in caplog.text
            assert journal.append([Delete("next")]) == [whole + 1]  # and appending goes on after the cut


@pytest.mark.parametrize("tail", [b"\0" * 4096, b"\0" * 5, MAGIC + b"\xff" * 40, os.urandom(300)])
def test_garbage_after_the_last_record_is_cut(tmp_path: Path, tail: bytes) -> None:
    with Journal(tmp_path) as journal:
        journal.append([article(1), article(2)])
    with open(the_file(tmp_path), "ab") as f:
        f.write(tail)
    with Journal(tmp_path) as journal:
        assert [seq for seq, _ in journal.replay()] == [1, 2]
        assert len(journal.repairs) == 1


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20
    path.write_bytes(bytes(data))


def test_checksum_mismatch_in_the_last_record_is_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _, ends = _five_records(tmp_path, [1, 1, 1, 1, 1])
    path = the_file(tmp_path)
    _flip(path, ends[4] - 3)
    with caplog.at_level(logging.WARNING, logger="search.journal"), Journal(tmp_path) as journal:
        assert [seq for seq, _ in journal.replay()] == [1, 2, 3, 4]
        assert "checksum mismatch" in caplog.text and f"{path} at byte {ends[3]}" in caplog.text
    assert path.stat().st_size == ends[3]


def test_damage_before_an_acknowledged_record_raises(tmp_path: Path) -> None:
    _, ends = _five_records(tmp_path, [1, 1, 1, 1, 1])
    path = the_file(tmp_path)
    _flip(path, ends[1] - 3)  # record 2's payload; records 3-5 were written after it was acknowledged
    before = path.read_bytes()
    with pytest.raises(JournalCorrupt) as caught:
        Journal(tmp_path)
    assert caught.value.offset == ends[0] and caught.value.path == path
    assert path.read_bytes() == before  # nothing changed: an operator decides


def test_damage_inside_the_last_batch_is_a_torn_write(tmp_path: Path) -> None:
    # Written in one append, records 2-5 may reach the disk in any order before the sync: a crash can leave
    # record 2 unwritten and 3-5 written; nothing after them says the batch was acknowledged, so it is cut.
    _, ends = _five_records(tmp_path, [1, 4])
    path = the_file(tmp_path)
    _flip(path, ends[1] - 3)
    with Journal(tmp_path) as journal:
        assert [seq for seq, _ in journal.replay()] == [1]


def test_a_checksummed_record_that_is_no_record_raises(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([article(1)])
    frame = jmod._encode(2, 1, Delete("x")).replace(b'"op":"delete"', b'"op":"erase!"')
    payload = frame[12:]
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<I", len(payload))))
    with open(the_file(tmp_path), "ab") as f:
        f.write(struct.pack("<4sII", MAGIC, len(payload), crc) + payload)
    with pytest.raises(JournalCorrupt, match="not a record"):
        Journal(tmp_path)


def test_purge_keeps_exactly_the_later_records_and_no_trace_of_the_rest(tmp_path: Path) -> None:
    secret = "The minister's unlisted number is 555-0199-TAKEDOWN."
    with Journal(tmp_path) as journal:
        journal.append([article(1), article(2, secret), article(3)])
        journal.append([Delete("a2"), article(4), article(5)])  # the takedown: a2 deleted at seq 4
        assert secret.encode() in every_byte(tmp_path)
        assert journal.purge(4) == 4  # a commit now holds records 1-4 (a2 gone from its segments)
        assert list(journal.replay(4)) == [(5, article(4)), (6, article(5))]
        assert journal.pending() == 2 and journal.last_seq == 6
        assert secret.encode() not in every_byte(tmp_path)
        assert journal.append([article(7)]) == [7]
        assert journal.purge(2) == 0  # already gone
        with pytest.raises(ValueError):
            journal.purge(8)
    assert [p.name for p in (tmp_path / "journal").iterdir()] == ["journal-00000000000000000005.log"]
    with Journal(tmp_path) as journal:
        assert [seq for seq, _ in journal.replay(4)] == [5, 6, 7]
    assert secret.encode() not in every_byte(tmp_path)


SECRET = "Purged sentence 8f3e1 that must vanish."


def _journal_for_purge(index: Path) -> list[tuple[int, object]]:
    with Journal(index) as journal:
        journal.append([article(1), article(2, SECRET)])
        journal.append([article(3), Delete("a2")])
        journal.append([article(5), article(6)])
    return [(5, article(5)), (6, article(6))]  # what a purge up to 4 must keep


def _check_recovered(index: Path, needed: list[tuple[int, object]]) -> None:
    with Journal(index) as journal:
        assert list(journal.replay(4)) == needed  # each needed record, once, in order
        assert journal.append([article(99)]) == [needed[-1][0] + 1]
    with Journal(index, committed_seq=4) as journal:  # the next start finishes the purge
        assert [seq for seq, _ in journal.replay(4)] == [seq for seq, _ in needed] + [needed[-1][0] + 1]
    assert SECRET.encode() not in every_byte(index)


@pytest.mark.parametrize("step", ["pwrite", "fsync", "replace", "open", "unlink", "close"])
def test_a_purge_failing_at_any_step_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    real = getattr(os, step)
    for nth in range(1, 20):
        index = tmp_path / f"{step}-{nth}"
        needed = _journal_for_purge(index)
        journal = Journal(index)
        calls = 0

        def failing(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            if calls == nth:
                raise OSError(5, f"simulated crash at {step} #{nth}")
            return real(*args, **kwargs)

        monkeypatch.setattr(os, step, failing)
        try:
            journal.purge(4)
            finished = True
        except OSError:
            finished = False
        finally:
            monkeypatch.setattr(os, step, real)
        try:  # a live writer goes on if it can: what it appends now must survive too
            needed = needed + [(7, article(7))] if journal.append([article(7)]) == [7] else needed
        except JournalError:
            pass
        journal.close()
        _check_recovered(index, needed)
        if finished:
            assert nth > 1
            return
    raise AssertionError(f"{step} was called 19 times or more by one purge")


def test_a_crash_at_any_instant_of_a_purge_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Photograph the directory before and after every system call of a purge; each photo is what a kill -9 at
    that instant leaves. Each must open, replay the needed records once, and lose the secret at the next start."""
    index = tmp_path / "live"
    needed = _journal_for_purge(index)
    photos: list[dict[str, bytes]] = []

    def photo() -> None:
        photos.append({p.name: p.read_bytes() for p in (index / "journal").iterdir()})

    for name in ("pwrite", "fsync", "replace", "unlink", "open", "close", "ftruncate"):
        real = getattr(os, name)

        def traced(*args: object, _real=real, **kwargs: object) -> object:
            photo()
            try:
                return _real(*args, **kwargs)
            finally:
                photo()

        monkeypatch.setattr(os, name, traced)
    journal = Journal(index)
    journal.purge(4)
    monkeypatch.undo()
    journal.close()
    distinct = {tuple(sorted(p.items())) for p in photos}
    assert len(distinct) >= 4  # before, temporary written, renamed beside the old, old gone
    for k, state in enumerate(sorted(distinct)):
        crashed = tmp_path / f"crash-{k}"
        (crashed / "journal").mkdir(parents=True)
        for name, data in state:
            (crashed / "journal" / name).write_bytes(data)
        _check_recovered(crashed, needed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 4)),
    st.tuples(st.just("purge"), st.floats(0, 1)),
    st.tuples(st.just("reopen"), st.none()),
), max_size=12))
def test_any_sequence_of_appends_purges_and_reopens(tmp_path_factory: pytest.TempPathFactory, ops: list) -> None:
    index = tmp_path_factory.mktemp("prop")
    journal = Journal(index)
    model: list[tuple[int, object]] = []
    purged = 0
    n = 0
    for op, arg in ops:
        if op == "append":
            batch = [article(n + k) if (n + k) % 3 else Delete(f"a{n + k - 1}") for k in range(arg)]
            n += arg
            seqs = journal.append(batch)
            assert seqs == list(range(journal.last_seq - arg + 1, journal.last_seq + 1))
            model += list(zip(seqs, batch, strict=True))
        elif op == "purge":
            upto = purged + int(arg * (journal.last_seq - purged))
            journal.purge(upto)
            purged = max(purged, upto)
        else:
            journal.close()
            journal = Journal(index)
        assert list(journal.replay(purged)) == [r for r in model if r[0] > purged]
        assert journal.pending() == journal.last_seq - purged
    journal.close()


def test_a_batch_costs_one_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(jmod, "_datasync", calls.append)
    with Journal(tmp_path) as journal:
        journal.append([article(n) for n in range(50)])
        assert len(calls) == 1


def test_threads_share_syncs_and_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs = 0
    durable = 0  # the highest seq written before a completed sync began
    real = jmod._datasync

    def slow_sync(fd: int) -> None:
        nonlocal syncs, durable
        syncs += 1
        written = journal._last
        time.sleep(0.004)  # a disk's sync, so that threads pile up behind it
        real(fd)
        durable = max(durable, written)

    monkeypatch.setattr(jmod, "_datasync", slow_sync)
    journal = Journal(tmp_path)
    got: dict[int, object] = {}
    start = threading.Barrier(8)

    def writer(t: int) -> None:
        start.wait()
        for i in range(25):
            record = Add({"id": f"t{t}-{i}"})
            (seq,) = journal.append([record])
            got[seq] = record
            assert durable >= seq  # acknowledged only once a sync that began after the write has returned

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(1, 201))
    assert syncs < 200  # group commit: concurrent appends shared syncs (how many depends on the load)
    journal.close()
    with Journal(tmp_path) as journal:
        assert dict(journal.replay()) == got


def test_a_failed_sync_stops_the_journal_until_reopened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path)
    journal.append([article(1)])

    def broken(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(jmod, "_datasync", broken)
    with pytest.raises(JournalError, match="reopen"):
        journal.append([article(2)])
    monkeypatch.undo()
    with pytest.raises(JournalError):
        journal.append([article(3)])  # never retry a failed sync: what reached the disk is unknown
    journal.close()
    with Journal(tmp_path) as journal:
        assert [seq for seq, _ in journal.replay()][0] == 1  # record 2 was not acknowledged: either way is fine


def test_leftovers_of_an_interrupted_purge_are_removed(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([article(1), article(2)])
    folder = tmp_path / "journal"
    (folder / "journal-00000000000000000002.log.tmp").write_bytes(b"half a purge")
    with Journal(tmp_path) as journal:
        assert [seq for seq, _ in journal.replay()] == [1, 2]
    assert [p.name for p in folder.iterdir()] == ["journal-00000000000000000001.log"]
    # an older file beside the newest (the purge renamed its output, then died) is superseded, damage and all
    (folder / "journal-00000000000000000000.log").write_bytes(b"\xffold and damaged" * 10)
    with Journal(tmp_path) as journal:
        assert [seq for seq, _ in journal.replay()] == [1, 2]
        assert len(journal.repairs) == 1
    assert [p.name for p in folder.iterdir()] == ["journal-00000000000000000001.log"]


def test_writer_lock_is_exclusive(tmp_path: Path) -> None:
    with WriterLock(tmp_path) as held:
        assert held.held
        with pytest.raises(WriterBusy, match=str(os.getpid())):
            WriterLock(tmp_path).acquire()
        began = time.monotonic()
        with pytest.raises(WriterBusy):
            WriterLock(tmp_path, timeout=0.2).acquire()
        assert time.monotonic() - began >= 0.2
    with WriterLock(tmp_path, timeout=None) as again:
        assert again.held
    assert not again.held


CHILD = """
import sys
from search.journal import Add, Delete, Journal, WriterLock
index = sys.argv[1]
lock = WriterLock(index).acquire()
journal = Journal(index)
print("ready", flush=True)
n = journal.last_seq
while True:
    size = 1 + n % 7
    batch = [Add({"id": f"a{n + k + 1}", "text": str(n + k + 1) * (3000 * (1 + (n + k) % 5))}) for k in range(size)]
    if n % 11 == 0:
        batch[-1] = Delete(f"a{n}")
    seqs = journal.append(batch)
    n = seqs[-1]
    print(n, flush=True)
"""


def test_acknowledged_records_survive_kill_9(tmp_path: Path) -> None:
    acknowledged = 0
    for round_ in range(3):
        child = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "python"), "-c", CHILD, str(tmp_path)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            with pytest.raises(WriterBusy):
                WriterLock(tmp_path).acquire()
            time.sleep(0.2 + 0.1 * round_)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
            lines = child.stdout.read().split("\n")
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
        printed = [int(line) for line in lines[:-1]]  # the last piece may be a line cut by the kill
        assert printed, "the child acknowledged nothing"
        acknowledged = max(acknowledged, printed[-1])
        with WriterLock(tmp_path), Journal(tmp_path) as journal:  # the kernel freed the lock of the dead writer
            replayed = list(journal.replay())
            seqs = [seq for seq, _ in replayed]
            assert seqs == list(range(1, len(seqs) + 1))
            assert seqs[-1] >= acknowledged
            for seq, record in replayed:
                if isinstance(record, Add):
                    assert record.article["id"] == f"a{seq}" and record.article["text"].startswith(str(seq))
