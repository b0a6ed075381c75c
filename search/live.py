"""The index a server answers from, swapped for a newly published build while it runs (no restart, no signal)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .engine import SearchEngine
from .errors import NewsclipError
from .commit import head_name, read_commit
from .layout import BUILDS, CURRENT, current_build, hold_build, read_manifest, release_build, remove_unheld_build, verify_build

log = logging.getLogger(__name__)

# Opens one published build; given the engine being replaced, so it can share its model when the fingerprints agree.
Opener = Callable[[Path, dict, "SearchEngine | None"], SearchEngine]


@dataclass
class _Served:
    """One loaded build, the requests using it, and the lease that keeps rebuilds from deleting it."""

    engine: SearchEngine
    name: str
    lease: int | None  # None once handed to the next commit of the same build
    head: str | None = None  # the commit HEAD named when it was opened (None: the build alone)
    users: int = 0
    retired: bool = False
    closed: bool = field(default=False, repr=False)


def current_name(index_dir: Path) -> str | None:
    """The build CURRENT names, or None when it cannot be read (a missing index, a rebuild mid-swap)."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


class LiveIndex:
    """Requests take the served engine with `using()`; `refresh()` (or the watcher thread) loads a newer build.

    A request keeps the engine it started with until it ends; the old build is closed, its lease released and its
    folder removed only when its last request is done. A new build whose manifest or checksums fail is refused
    with a log line, and the old one keeps serving.
    """

    def __init__(self, index_dir: Path, opener: Opener, verify: bool = True) -> None:
        self.index_dir = Path(index_dir)
        self.opener = opener
        self.verify = verify
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.refused: dict[str, str] = {}  # build name -> why it was refused (tried once each)
        self.reloads = 0
        build = current_build(self.index_dir)  # names the problem: no index, or a pointer to nothing
        self._served = self._load(build.name, strict=True)  # type: ignore[assignment]

    # -- requests ------------------------------------------------------------------------------------------

    @contextmanager
    def using(self) -> Iterator[SearchEngine]:
        """The engine to answer one request with; it stays loaded until the request is done."""
        with self._lock:
            served = self._served
            served.users += 1
        try:
            yield served.engine
        finally:
            with self._lock:
                served.users -= 1
                done = served.retired and served.users == 0
            if done:  # off the request's thread: removing a large build takes a while, the answer should not wait
                threading.Thread(target=self._retire, args=(served,), name="newsclip-retire", daemon=True).start()

    @property
    def build_name(self) -> str:
        return self._served.name

    @property
    def engine(self) -> SearchEngine:
        """The engine new requests get (for inspection; a request uses `using()` to keep it while it runs)."""
        return self._served.engine

    # -- reloading -----------------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Serve the build CURRENT names if it is new and whole, or the served build's newer commit; True when
        what is served changed."""
        with self._refresh_lock:
            name = current_name(self.index_dir)
            if name is None or name in self.refused:
                return False
            if name == self._served.name:
                return self._follow_commit()
            served = self._load(name, self._served.engine)
            if served is None:
                return False
            with self._lock:
                old, self._served = self._served, served
                old.retired = True
                done = old.users == 0
            self.reloads += 1
            log.warning("now serving build %s (was %s)", served.name, old.name)
            if done:
                self._retire(old)
            return True

    def _follow_commit(self) -> bool:
        """Open the served build's newer commit, reusing the readers of its unchanged segments; the build's lease
        passes to it. A commit that fails to open is logged and tried again at the next check."""
        served = self._served
        build = self.index_dir / BUILDS / served.name
        try:
            head = head_name(build)
        except NewsclipError as exc:
            log.error("%s; still serving %s", exc, served.name)
            return False
        if head == served.head:
            return False
        try:
            engine = self.opener(build, served.engine.manifest, served.engine)
        except (NewsclipError, OSError, ValueError) as exc:
            log.error("commit %s of build %s not opened: %s; still serving the previous one", head, served.name, exc)
            return False
        with self._lock:
            old = self._served
            self._served = _Served(engine, old.name, old.lease, head)
            old.lease, old.retired = None, True
            done = old.users == 0
        self.reloads += 1
        log.info("now serving %s of build %s", head, served.name)
        if done:
            self._retire(old)
        return True

    def _load(self, name: str, previous: SearchEngine | None = None, strict: bool = False) -> _Served | None:
        """Lease, check and open one build; None (logged, remembered) when it is refused; strict: raise instead."""
        build = self.index_dir / BUILDS / name
        try:
            lease = hold_build(build)
        except NewsclipError as exc:
            if strict:
                raise
            return self._refuse(name, str(exc), remember=False)  # removed meanwhile: a newer one will come
        try:
            head = head_name(build)
            manifest = read_manifest(build)
            if self.verify:  # stores a delete purged since the build are named by the commit, and not checked
                commit = read_commit(build, int(manifest.get("counts", {}).get("articles", 0)))
                retired = commit.extra.get("base_retired", [])  # the base's files a merge removed
                manifest = verify_build(build, manifest, skip=frozenset([*commit.mutable, *retired]))
            engine = self.opener(build, manifest, previous)
        except (NewsclipError, OSError, ValueError) as exc:
            release_build(lease)
            if strict:
                raise
            return self._refuse(name, f"build {name} refused: {exc}", remember=True)
        except BaseException:
            release_build(lease)
            raise
        return _Served(engine, name, lease, head)

    def _refuse(self, name: str, why: str, remember: bool) -> None:
        if remember:
            self.refused[name] = why
        log.error("%s; still serving %s", why, getattr(getattr(self, "_served", None), "name", "nothing"))
        return None

    def _retire(self, served: _Served) -> None:
        """Close a replaced build once unused, let go of its lease, and remove it unless it is current again."""
        with self._lock:
            if served.closed:
                return
            served.closed = True
        served.engine.close()
        if served.lease is None:
            return  # a commit of the build still served: the build and its lease stay
        release_build(served.lease)
        if current_name(self.index_dir) != served.name:
            remove_unheld_build(self.index_dir / BUILDS / served.name)

    # -- the watcher ---------------------------------------------------------------------------------------

    def watch(self, interval: float) -> None:
        """Check CURRENT every `interval` seconds in a daemon thread (one read of a small file each time)."""
        if self._watcher is not None or interval <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001 - a watcher that dies would stop reloads silently
                    log.exception("checking %s for a new build failed", self.index_dir)

        self._watcher = threading.Thread(target=loop, name="newsclip-reload", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop watching and close the served build (requests still running keep theirs until they end)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with self._lock:
            served = self._served
            served.retired = True
            done = served.users == 0 and not served.closed
            served.closed = served.closed or done
        if done:  # the build stays on disk: it is still the current one
            served.engine.close()
            if served.lease is not None:
                release_build(served.lease)
