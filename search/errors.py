"""Typed errors of the core; the CLI and the web app map them to exit codes and HTTP statuses."""


class NewsclipError(Exception):
    """Base of every error the core raises on purpose."""


class IndexNotFound(NewsclipError):
    """No published index at the given directory."""


class IndexMismatch(NewsclipError):
    """The index was built with another format version or model than the reader expects."""


class IndexCorrupt(NewsclipError):
    """A published index whose files are missing or fail their checksums."""


class BuildError(NewsclipError):
    """A rebuild that cannot go on; the previous index stays current."""


class BadQuery(NewsclipError):
    """A query or option the engine cannot answer; `param` names the culprit."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class SearchTimeout(NewsclipError):
    """A search ran past its deadline and was cut; the web app answers 503."""


class ShardUnavailable(NewsclipError):
    """No replica of a shard answered; the web app answers 503 naming it, never a partial answer."""

    def __init__(self, shard: int, why: str = "") -> None:
        super().__init__(f"shard {shard} is unavailable (no replica answered{': ' + why if why else ''}); the "
                         "answer would miss its articles, so none is given: try again shortly")
        self.shard = shard
