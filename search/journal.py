"""Write-ahead journal: every acknowledged add or delete is on disk before it is acknowledged, until a commit holds it.

A writer appends records and acknowledges them once `append` returns (the batch is written and `fdatasync`ed); a commit
later folds them into segments and records its journal position (a sequence number); `purge(position)` then drops
them, so no file keeps their text (a takedown must leave no copy of the article). After a crash the writer opens the
journal, which repairs a torn tail, and replays the records after the commit's position.

Use, in the one writer process::

    with WriterLock(index_dir):                        # one writer at a time, across all processes
        journal = Journal(index_dir, committed_seq=pos)  # pos: the journal position of the current commit
        for seq, record in journal.replay(pos): ...     # redo what no commit holds yet (idempotently)
        seqs = journal.append([Add(article), Delete("id-1")])   # durable now: acknowledge
        ... commit the records up to seqs[-1] (its journal position), then:
        journal.purge(seqs[-1])

On disk, `<index_dir>/journal/journal-<first seq, 20 digits>.log` holds the records after the last purge, in order and
numbered without gaps from the seq in its name (an empty file only carries the next number). Each record is a frame:
a 12-byte header (magic b"NCJ1", payload length and CRC-32 of length and payload, little-endian) and a UTF-8 JSON
payload {"seq", "synced", "op": "add", "article"} or {"seq", "synced", "op": "delete", "id"}; "synced" is the highest
seq already durable when the frame was written, which tells a torn write from a damaged file (see `_scan`).

Guarantees and what a caller must know:
- Acknowledged records survive kill -9 and power loss; `replay` yields each record after a position once, in order.
  Records the crash caught unacknowledged may be lost, or replayed (a caller that got an error must treat the
  outcome as unknown), and their sequence numbers may be given again; acknowledged numbers never are.
- Opening repairs: a torn or damaged tail of the file (a partial header, a short payload, a CRC mismatch, zeros)
  is cut off, with a warning naming the file and offset (also in `Journal.repairs`). A damaged record followed by
  one written after it was acknowledged is damage, not a torn write: `JournalCorrupt`, nothing is changed. A bit
  flipped in the last acknowledged batch, with nothing written after it, cannot be told from a torn write: cut.
- Only `purge` creates a new file: it writes the records still needed to a temporary file, fsyncs it, renames it
  to its final name, fsyncs the directory, then unlinks the older files and fsyncs the directory again. A crash at
  any instant leaves either the old file (plus a temporary file, which opening deletes: the purge did not happen)
  or the new one with the old ones beside it, which opening deletes: the newest file always holds every record
  after the purge point, so no record is lost or replayed twice. Opening with `committed_seq` purges up to it, so
  an interrupted purge is finished at the next start. Older files are never read, so damage in one is no error.
- Takedown: an added article's text stays in the journal until a purge past its seq, so purge as soon as each
  commit is durable (never before: the purged records exist nowhere else). Text is removed at the file level:
  the filesystem's free blocks, snapshots and backups are not scrubbed.
- Threads may share a Journal: appends are serialized under a lock and concurrent appends share one fdatasync
  (group commit). Processes may not: open the journal only while holding `WriterLock(index_dir)` (opening and
  purging rewrite files), and do not use it in a forked child.
"""

from __future__ import annotations

import fcntl
import json
import logging
import mmap
import os
import re
import struct
import threading
import time
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NewsclipError
from .layout import fsync_dir

log = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
LOCK_FILE = ".rebuild.lock"  # the one writer lock: `indexer rebuild` takes it too (indexer/publish.py)
MAGIC = b"NCJ1"
MAX_PAYLOAD = 256 * 1024 * 1024  # a larger length in a header is damage, not a record
_HEADER = struct.Struct("<4sII")  # magic, payload length, crc32(length bytes + payload)
_LENGTH = struct.Struct("<I")
_NAME = re.compile(r"journal-(\d{20})\.log")
_COPY_CHUNK = 1 << 20
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class JournalError(NewsclipError):
    """The journal cannot do what was asked: it is closed, a write failed, or the records asked for were purged."""


class JournalCorrupt(JournalError):
    """A journal file is damaged where a crash cannot have damaged it; nothing was changed."""

    def __init__(self, message: str, path: Path, offset: int) -> None:
        super().__init__(f"{path} at byte {offset}: {message}")
        self.path = path
        self.offset = offset


class WriterBusy(NewsclipError):
    """Another process holds the index's writer lock."""


@dataclass(frozen=True, slots=True)
class Add:
    """Add or replace an article (an upsert by its id): a JSON-ready dict with a non-empty string "id"."""

    article: dict[str, Any]

    @property
    def article_id(self) -> str:
        return self.article["id"]


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete an article by id."""

    article_id: str


Record = Add | Delete


def _encode(seq: int, synced: int, record: Record) -> bytes:
    """One frame; raises ValueError (TypeError for a non-record) before anything is written."""
    if isinstance(record, Add):
        article = record.article
        if not isinstance(article, dict) or not isinstance(article.get("id"), str) or not article["id"]:
            raise ValueError("Add needs a dict with a non-empty string 'id'")
        body: dict[str, Any] = {"seq": seq, "synced": synced, "op": "add", "article": article}
    elif isinstance(record, Delete):
        if not isinstance(record.article_id, str) or not record.article_id:
            raise ValueError("Delete needs a non-empty string article id")
        body = {"seq": seq, "synced": synced, "op": "delete", "id": record.article_id}
    else:
        raise TypeError(f"not a journal record: {record!r}")
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"record {seq} is not JSON-ready: {exc}") from exc
    payload = text.encode("utf-8", "surrogatepass")  # lone surrogates (from "\ud800" escapes) round-trip
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"record {seq} is {len(payload)} bytes; the limit is {MAX_PAYLOAD}")
    crc = zlib.crc32(payload, zlib.crc32(_LENGTH.pack(len(payload))))
    return _HEADER.pack(MAGIC, len(payload), crc) + payload


@dataclass(frozen=True, slots=True)
class _Frame:
    """What lies at an offset: a record (kind "ok"), a torn or damaged frame ("torn", "bad"), or a frame whose
    checksum holds but whose content is not a record ("invalid": written so, hence never a crash's doing)."""

    kind: str
    reason: str = ""
    end: int = 0
    seq: int = 0
    synced: int = 0
    record: Record | None = None


def _frame_at(buf: Any, pos: int) -> _Frame:
    """Parse the frame at `pos` of a bytes-like object (bytes or mmap)."""
    if len(buf) - pos < _HEADER.size:
        return _Frame("torn", "partial header")
    magic, length, crc = _HEADER.unpack_from(buf, pos)
    if magic != MAGIC:
        return _Frame("bad", "no record header")
    if length > MAX_PAYLOAD:
        return _Frame("bad", f"implausible length {length}")
    end = pos + _HEADER.size + length
    if end > len(buf):
        return _Frame("torn", "short payload")
    payload = buf[pos + _HEADER.size : end]
    if zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) != crc:
        return _Frame("bad", "checksum mismatch")
    try:
        body = json.loads(bytes(payload).decode("utf-8", "surrogatepass"))
        seq, synced, op = body["seq"], body["synced"], body["op"]
        if type(seq) is not int or type(synced) is not int:
            raise ValueError("seq and synced must be integers")
        if op == "add" and isinstance(body["article"], dict) and isinstance(body["article"].get("id"), str):
            record: Record = Add(body["article"])
        elif op == "delete" and isinstance(body["id"], str):
            record = Delete(body["id"])
        else:
            raise ValueError(f"unknown operation {op!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return _Frame("invalid", f"checksum holds but the payload is not a record ({exc})")
    return _Frame("ok", end=end, seq=seq, synced=synced, record=record)


@dataclass(slots=True)
class _Scan:
    offsets: array  # offset of each record, the first numbered by the file name
    end: int  # where the records end: the file is cut here when a tail is torn
    torn: str  # why the tail was cut, or ""


def _scan(buf: Any, first_seq: int, path: Path) -> _Scan:
    """Check every record of a file; a damaged frame is a torn write (cut) unless a record written after it had
    been acknowledged lies beyond it: records are written in seq order and "synced" says what was durable."""
    offsets = array("q")
    pos, seq = 0, first_seq
    while pos < len(buf):
        frame = _frame_at(buf, pos)
        if frame.kind == "ok":
            if frame.seq != seq:
                raise JournalCorrupt(f"record numbered {frame.seq}, expected {seq}", path, pos)
            offsets.append(pos)
            pos, seq = frame.end, seq + 1
            continue
        if frame.kind == "invalid":
            raise JournalCorrupt(frame.reason, path, pos)
        later = buf.find(MAGIC, pos + 1)
        while later != -1:
            after = _frame_at(buf, later)
            if after.kind == "ok" and after.synced >= seq:
                raise JournalCorrupt(
                    f"{frame.reason} in record {seq}, acknowledged before record {after.seq} (byte {later})"
                    " was written", path, pos,
                )
            later = buf.find(MAGIC, later + 1)
        return _Scan(offsets, pos, frame.reason)
    return _Scan(offsets, pos, "")


def pending_records(index_dir: str | os.PathLike[str], after_seq: int) -> int:
    """How many whole records numbered above `after_seq` the journal holds, read without the writer lock and
    without repairing anything (for `indexer stats`); a torn tail is not counted."""
    folder = Path(index_dir) / JOURNAL_DIR
    files = sorted(folder.glob("journal-*.log")) if folder.is_dir() else []
    if not files:
        return 0
    newest = files[-1]
    try:
        first = int(newest.name[len("journal-"):-len(".log")])
        data = newest.read_bytes()
        scan = _scan(data, first, newest)
    except (OSError, ValueError, JournalCorrupt):
        return 0
    return sum(1 for i in range(len(scan.offsets)) if first + i > after_seq)


def _file_name(first_seq: int) -> str:
    return f"journal-{first_seq:020d}.log"


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Journal:
    """The journal under `<index_dir>/journal/`; opening recovers it (see the module's notes).

    `committed_seq` is the journal position of the current commit: the records up to it are purged on opening
    (finishing a purge a crash interrupted) and numbering continues above it even if the journal was lost.
    """

    def __init__(self, index_dir: str | os.PathLike[str], *, committed_seq: int = 0) -> None:
        self.dir = Path(index_dir) / JOURNAL_DIR
        self.repairs: list[str] = []  # what opening changed, also logged as warnings
        self._lock = threading.Lock()  # guards the file, offsets and numbers
        self._sync_lock = threading.Lock()  # one fdatasync at a time; taken before _lock, never after
        self._fd = -1
        self._failed: BaseException | None = None
        try:
            self._open(committed_seq)
        except BaseException:
            if self._fd >= 0:
                os.close(self._fd)
            raise

    # -- public ------------------------------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The highest acknowledged (durable) sequence number; 0 before the first record."""
        return self._synced

    @property
    def path(self) -> Path:
        """The file now being appended to."""
        return self._path

    def pending(self) -> int:
        """How many records the journal holds: those written after the last purge."""
        return self._last - self._first + 1

    def append(self, records: Iterable[Record]) -> list[int]:
        """Write a batch, fdatasync once, and return its sequence numbers: the records are durable, acknowledge them.

        Threads appending at once share a sync. A bad record raises ValueError/TypeError before anything is
        written; a failed write or sync raises JournalError (after a failed sync the journal must be reopened)."""
        batch = list(records)
        if not batch:
            return []
        with self._lock:
            self._usable()
            first = self._last + 1
            frames = [_encode(first + i, self._synced, record) for i, record in enumerate(batch)]
            start = self._end
            try:
                _write_all(self._fd, b"".join(frames), start)
            except BaseException as exc:
                try:
                    os.ftruncate(self._fd, start)
                except OSError:
                    self._failed = exc
                raise JournalError(f"could not write to {self._path}: {exc}") from exc
            for frame in frames:
                self._offsets.append(self._end)
                self._end += len(frame)
            self._last = first + len(batch) - 1
            mine = self._last
        self._sync_to(mine)
        return list(range(first, mine + 1))

    def replay(self, after_seq: int = 0) -> Iterator[tuple[int, Record]]:
        """The acknowledged records numbered above `after_seq`, in order, as of this call.

        Raises JournalError when records above `after_seq` were purged already (the position is older than the
        journal's: replaying would lose them)."""
        with self._lock:
            self._usable()
            if after_seq < self._first - 1:
                raise JournalError(
                    f"records {after_seq + 1}..{self._first - 1} were purged from the journal; "
                    f"replay from {self._first - 1} or later"
                )
            seq = max(after_seq + 1, self._first)
            last = min(self._synced, self._last)
            start = self._offsets[seq - self._first] if seq <= last else 0
            stop = self._offsets[last + 1 - self._first] if last < self._last else self._end
            path = self._path
            # a file object, so that an iterator dropped unstarted still closes it
            file = open(path, "rb", buffering=0) if seq <= last else None  # noqa: SIM115
        return self._records(file, path, seq, last, start, stop)

    def purge(self, upto_seq: int) -> int:
        """Drop the records numbered up to `upto_seq` (a commit holds them now) from every file; returns how many.

        Writes the records after it to a new file (fsync file and directory), then unlinks the old ones (fsync
        the directory). A crash at any instant leaves a journal that replays each record after it once."""
        with self._sync_lock, self._lock:
            self._usable()
            if upto_seq > self._last:
                raise ValueError(f"cannot purge up to {upto_seq}: the journal ends at {self._last}")
            return self._purge(upto_seq)

    rotate = purge

    def close(self) -> None:
        with self._sync_lock, self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._failed = self._failed or JournalError("the journal is closed")

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------------------------------

    def _usable(self) -> None:
        if self._failed is not None:
            if isinstance(self._failed, JournalError):
                raise self._failed
            raise JournalError(f"the journal failed ({self._failed}); reopen it") from self._failed

    def _warn(self, message: str) -> None:
        log.warning("journal: %s", message)
        self.repairs.append(message)

    def _open(self, committed_seq: int) -> None:
        fresh = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        if fresh:
            fsync_dir(self.dir.parent)
        logs: dict[int, Path] = {}
        changed = False
        for entry in os.scandir(self.dir):
            match = _NAME.fullmatch(entry.name)
            if match:
                logs[int(match[1])] = Path(entry.path)
            elif _NAME.fullmatch(entry.name.removesuffix(".tmp")):
                os.unlink(entry.path)
                self._warn(f"removed {entry.path}: the output of a purge a crash interrupted")
                changed = True
        if logs:
            first = max(logs)
            for number in sorted(logs)[:-1]:  # a purge wrote the newest, with every record after its point
                os.unlink(logs[number])
                self._warn(f"removed {logs[number]}: {logs[first].name} supersedes it (a purge was interrupted)")
                changed = True
            path = logs[first]
        else:
            first = committed_seq + 1
            path = self.dir / _file_name(first)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
            changed = True
        if changed:
            fsync_dir(self.dir)
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            if size:
                with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as buf:
                    scan = _scan(buf, first, path)
            else:
                scan = _Scan(array("q"), 0, "")
            if scan.torn:
                os.ftruncate(fd, scan.end)
                self._warn(f"cut {path} at byte {scan.end} ({size - scan.end} bytes: {scan.torn}): a torn write")
            os.fsync(fd)  # what a killed writer left in the page cache is durable before it is replayed
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._path, self._first, self._offsets, self._end = fd, path, first, scan.offsets, scan.end
        self._last = first + len(scan.offsets) - 1
        self._synced = self._last
        if committed_seq > self._last:
            self._warn(f"the journal ends at {self._last} but the commit at {committed_seq}: numbering goes on from it")
        if committed_seq >= self._first:
            self._purge(committed_seq)

    def _sync_to(self, seq: int) -> None:
        """Make the records up to `seq` durable, sharing one fdatasync with the threads that wrote meanwhile."""
        with self._sync_lock:
            if self._synced >= seq:
                return
            with self._lock:
                self._usable()
                fd, target = self._fd, self._last
            try:
                _datasync(fd)  # _sync_lock keeps purge and close from closing fd meanwhile
            except BaseException as exc:
                self._failed = exc  # what reached the disk is unknown now: never retry a failed sync
                raise JournalError(f"could not sync {self._path}: {exc}; reopen the journal") from exc
            self._synced = target

    def _purge(self, upto_seq: int) -> int:
        if upto_seq < self._first:
            return 0
        keep = upto_seq + 1 - self._first  # index of the first record kept
        start = self._offsets[keep] if keep < len(self._offsets) else self._end
        new_path = self.dir / _file_name(upto_seq + 1)
        temp = new_path.with_name(new_path.name + ".tmp")
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            pos = start
            while pos < self._end:
                chunk = os.pread(self._fd, min(_COPY_CHUNK, self._end - pos), pos)
                if not chunk:
                    raise JournalError(f"{self._path} ends before byte {self._end}")
                _write_all(out, chunk, pos - start)
                pos += len(chunk)
            os.fsync(out)
            os.close(out)
            out = -1
            os.replace(temp, new_path)
        except BaseException:
            if out >= 0:
                os.close(out)
            try:
                _remove(temp)
            except OSError:
                pass
            raise
        try:  # the new file is live now: failing before the switch would append to a file opening deletes
            fsync_dir(self.dir)
            fd = os.open(new_path, os.O_RDWR | os.O_CLOEXEC)
        except BaseException as exc:
            self._failed = exc
            raise
        old, dropped = self._fd, min(keep, len(self._offsets))
        self._fd, self._path = fd, new_path
        self._offsets = array("q", (offset - start for offset in self._offsets[keep:]))
        self._first, self._end = upto_seq + 1, self._end - start
        self._last = max(self._last, upto_seq)
        self._synced = self._last  # the new file was fsynced with every record written
        os.close(old)
        for entry in os.scandir(self.dir):  # the old file, and any a failed purge left
            match = _NAME.fullmatch(entry.name.removesuffix(".tmp"))
            if match and entry.path != str(new_path) and (entry.name.endswith(".tmp") or int(match[1]) <= upto_seq):
                _remove(Path(entry.path))
        fsync_dir(self.dir)
        return dropped

    @staticmethod
    def _records(file: Any, path: Path, seq: int, last: int, start: int, stop: int) -> Iterator[tuple[int, Record]]:
        if file is None:
            return
        fd = file.fileno()
        try:
            pos = start
            while seq <= last:
                header = os.pread(fd, _HEADER.size, pos)
                length = _HEADER.unpack(header)[1] if len(header) == _HEADER.size else 0
                payload = os.pread(fd, min(length, max(0, stop - pos - _HEADER.size)), pos + _HEADER.size)
                frame = _frame_at(header + payload, 0)
                if frame.kind != "ok" or frame.seq != seq:
                    raise JournalCorrupt(f"record {seq} changed since the journal was opened", path, pos)
                assert frame.record is not None
                yield seq, frame.record
                pos += frame.end
                seq += 1
        finally:
            file.close()


class WriterLock:
    """One writer at a time across all processes: an exclusive flock on `<index_dir>/.rebuild.lock`,
    the lock `indexer rebuild` takes.

    `timeout` 0 fails at once, None waits as long as it takes, a number waits that many seconds; then WriterBusy.
    The kernel releases the lock when the holder dies (kill -9 included). The lock belongs to the open file, so a
    second WriterLock in the same process is busy too; do not fork while holding it. The file is never deleted
    (deleting a flock file races with the next locker); it holds the holder's pid, for the message only."""

    lock_file = LOCK_FILE

    def __init__(self, index_dir: str | os.PathLike[str], *, timeout: float | None = 0.0) -> None:
        self.path = Path(index_dir) / self.lock_file
        self.timeout = timeout
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def acquire(self) -> WriterLock:
        if self._fd >= 0:
            raise RuntimeError(f"{self.path} is held already")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if self.timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + self.timeout
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                            raise WriterBusy(
                                f"another process (pid {holder}) is writing to {self.path.parent}"
                            ) from None
                        time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class JournalLock(WriterLock):
    """The journal's own lock, held only while the journal is opened, appended to, replayed or purged (milliseconds),
    never while a commit embeds: an ingest request waits for the journal, not for a commit. A committer takes
    WriterLock for the whole commit and JournalLock around each touch of the journal."""

    lock_file = ".journal.lock"
