"""`python -m web --ray ADDRESS|auto --shards N`: the index's shards as Ray Serve deployments, this server their router.

Each shard is a Serve application of one deployment (`ShardReplica`, wrapping search.shard.ShardService) with
`replicas` replicas; this process holds a handle to each and runs the engine over them (search/sharded.py). Serve's
HTTP proxy is off: the only HTTP server is this one, on loopback unless told otherwise. A call that fails because
its replica died is sent again (Serve routes it to another replica); a shard with no replica answering within the
timeout raises ShardUnavailable, which the app answers with a 503 naming the shard: never a partial answer.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from search.errors import BadQuery, ShardUnavailable

LOCAL = "auto"
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray keeps 127.0.0.1 instead of the machine's address
APP = "newsclip-shard-{n}"
CALLS = frozenset({"describe", "sentence_vectors", "sentence_vectors_many", "store", "dfs", "scores", "postings", "search", "vectors",
                   "ping"})
log = logging.getLogger(__name__)


def _bind_to_node_address() -> None:
    """Make this replica's inter-deployment gRPC server listen on the node's Ray address, not every interface.

    Ray Serve 2.60 starts that server on "[::]:0" with no setting to change it (serve/_private/replica.py); the
    router's handles pass requests by reference (Ray actor calls) and never use it, but a port on every interface
    is one the machine should not open. Runs in the replica's constructor, before Serve starts the server."""
    import ray
    from ray.serve._private import replica

    bind = replica.add_port_to_grpc_server
    if getattr(bind, "newsclip", False):
        return
    host = ray.util.get_node_ip_address()
    host = f"[{host}]" if ":" in host else host

    def on_node_address(server: Any, address: str) -> int:
        if address.startswith("[::]:"):
            address = f"{host}:{address[len('[::]:'):]}"
        return bind(server, address)

    on_node_address.newsclip = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = on_node_address


class ShardReplica:
    """One replica of a shard: a ShardService in a Ray actor (Serve's deployment class)."""

    def __init__(self) -> None:
        from search.shard import ShardService

        _bind_to_node_address()
        self.service = ShardService()

    def call(self, method: str, *args: Any) -> Any:
        if method not in CALLS:
            raise BadQuery(f"unknown shard call {method!r}")
        return getattr(self.service, method)(*args)

    def pid(self) -> int:
        return os.getpid()


def _retryable() -> tuple[type[BaseException], ...]:
    """Errors of a replica that died or went away mid-call: Serve routes the call again to a live one."""
    from ray import exceptions as rex
    from ray.serve import exceptions as sex

    return (rex.RayActorError, rex.ActorUnavailableError, rex.WorkerCrashedError, sex.ReplicaUnavailableError)


def _unavailable() -> tuple[type[BaseException], ...]:
    """Errors that mean nobody serves the shard now (deleted, no replica within the timeout)."""
    from ray import exceptions as rex
    from ray.serve import exceptions as sex

    return (TimeoutError, rex.GetTimeoutError, sex.DeploymentUnavailableError, sex.RayServeException)


class RayShards:
    """The router's side: Serve handles by shard number, with retries, a timeout and errors that name the shard."""

    def __init__(self, handles: Sequence[Any], timeout: float = 10.0, retries: int = 3) -> None:
        self.handles = list(handles)
        self.count = len(self.handles)
        self.timeout, self.retries = timeout, retries
        self.retried = 0  # calls sent again after their replica died (for drills)
        self.calls: Counter[str] = Counter()  # calls sent by method (for benchmarks: the fan-out's round trips)
        self._lock = threading.Lock()
        self._retry, self._down = _retryable(), _unavailable()

    def call(self, shard: int, method: str, *args: Any) -> Any:
        return self.gather([(shard, method, args)])[0]

    def replica_pids(self, shard: int, expected: int, tries: int = 200) -> list[int]:
        """PIDs of a shard's replicas, asked of the replicas themselves until `expected` answered (for drills)."""
        pids: set[int] = set()
        for _ in range(tries):
            pids.add(int(self.handles[shard].pid.remote().result(timeout_s=self.timeout)))
            if len(pids) >= expected:
                break
        return sorted(pids)

    def gather(self, calls: Sequence[tuple[int, str, tuple[Any, ...]]]) -> list[Any]:
        """Send every call at once (the fan-out), then collect them in order."""
        with self._lock:
            self.calls.update(method for _, method, _ in calls)
        sent = [self._send(shard, method, args) for shard, method, args in calls]
        return [self._result(shard, method, args, response) for (shard, method, args), response in zip(calls, sent)]

    def _send(self, shard: int, method: str, args: tuple[Any, ...]) -> Any:
        try:
            return self.handles[shard].call.remote(method, *args)
        except self._down as exc:
            raise ShardUnavailable(shard, str(exc)) from exc

    def _result(self, shard: int, method: str, args: tuple[Any, ...], response: Any) -> Any:
        from ray.exceptions import RayTaskError

        for attempt in range(self.retries + 1):
            try:
                return response.result(timeout_s=self.timeout)
            except self._retry as exc:
                if attempt == self.retries:
                    raise ShardUnavailable(shard, f"{self.retries + 1} replicas failed: {exc}") from exc
                with self._lock:
                    self.retried += 1
                log.warning("shard %d: a replica failed (%s); sending %s again", shard, type(exc).__name__, method)
                response = self._send(shard, method, args)
            except RayTaskError as exc:  # the shard's own error (a bad call, a corrupt segment): not retried
                cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
                raise cause from None
            except self._down as exc:
                raise ShardUnavailable(shard, str(exc) or "no replica answered in time") from exc
        raise ShardUnavailable(shard, "no replica answered")  # pragma: no cover - the loop returns or raises


def connect(address: str) -> bool:
    """Connect to the cluster at ADDRESS, or start one on this machine on loopback (`auto`); True when this
    process started it (and must stop it: `disconnect`)."""
    if address == LOCAL and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ONLY, "0")
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if address == LOCAL:
        ray.init(address="local", num_cpus=os.cpu_count() or 1, _node_ip_address="127.0.0.1", **kwargs)
    else:
        ray.init(address=address, **kwargs)
    return True


def start_shards(shards: int, replicas: int, cpus: float = 0.1, timeout: float = 10.0) -> RayShards:
    """Deploy `shards` Serve applications of `replicas` replicas each (Serve's HTTP proxy off), and their handles."""
    from ray import serve

    serve.start(proxy_location="Disabled")
    deployment = serve.deployment(ShardReplica, max_ongoing_requests=64, health_check_period_s=2,
                                  health_check_timeout_s=10)
    handles = []
    for n in range(shards):
        app = deployment.options(name=f"shard-{n}", num_replicas=replicas, ray_actor_options={"num_cpus": cpus})
        handles.append(serve.run(app.bind(), name=APP.format(n=n), route_prefix=None))
    return RayShards(handles, timeout=timeout)


def stop_shards(started: bool) -> None:
    """Delete the shard applications; stop the local cluster when this process started it."""
    import ray
    from ray import serve

    try:
        serve.shutdown()
    finally:
        if started:
            ray.shutdown()
