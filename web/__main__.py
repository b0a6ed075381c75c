"""`python -m web`: serve the app with waitress (a production WSGI server), on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from typing import Any

from search.errors import NewsclipError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; NEWSCLIP_INDEX and NEWSCLIP_MODEL are the defaults."""
    parser = argparse.ArgumentParser(prog="python -m web", description="Serve the Newsclip search pages and API.")
    parser.add_argument("--index", default=os.environ.get("NEWSCLIP_INDEX", "var/index"),
                        help="index directory (default: $NEWSCLIP_INDEX or var/index)")
    parser.add_argument("--model", default=os.environ.get("NEWSCLIP_MODEL"),
                        help="query model (default: the one the index was built with)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--threads", type=int, default=16,
                        help="waitress worker threads (default: 16, chosen by the load drill: docs/reliability.md)")
    parser.add_argument("--channel-timeout", type=int, default=30,
                        help="seconds a connection may stay silent before it is closed (default: 30); requests are "
                             "read whole before a worker thread sees them, so a slow client never holds one")
    parser.add_argument("--connection-limit", type=int, default=200,
                        help="open connections at most; more wait in the listen backlog (default: 200)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes on the one port, sharing the index's memory-mapped files (default: "
                             "1); about one core each")
    parser.add_argument("--ray", default=None, metavar="ADDRESS|auto",
                        help="serve the index's segments from shards on this Ray cluster (host:port of its head), or "
                             "on one started on this machine on loopback and stopped with the server (auto)")
    parser.add_argument("--shards", type=int, default=2,
                        help="with --ray: shards, each a run of the index's segments (default: 2)")
    parser.add_argument("--replicas", type=int, default=2, help="with --ray: replicas per shard (default: 2)")
    parser.add_argument("--replica-cpus", type=float, default=0.1,
                        help="with --ray: CPUs Ray reserves per replica (default: 0.1; replicas are mostly idle)")
    parser.add_argument("--shard-timeout", type=float, default=10.0,
                        help="with --ray: seconds a shard call may wait for a replica before the answer is a 503 "
                             "naming the shard (default: 10)")
    parser.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)  # a worker's inherited socket
    parser.add_argument("--no-follow", dest="follow", action="store_false",
                        help="with the ingest API on, do not start `indexer follow` beside the server: another "
                             "process commits the journal (one committer per index is enough)")
    return parser.parse_args(argv)


# Runs as the committer's first instructions, then becomes `python -m indexer follow ...` (exec: the same PID).
# On Linux it asks the kernel for SIGTERM when the server dies, so a server killed with SIGKILL leaves no committer
# behind (subprocess's preexec_fn would do the same but is unsafe once threads run, and the server's do).
_FOLLOW = """
import os, signal, sys
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        sys.exit(0)  # the server died before the line above took effect
os.execv(sys.executable, [sys.executable, "-m", "indexer", "follow", *sys.argv[2:]])
"""


def start_follower(index: str) -> subprocess.Popen:
    """`python -m indexer follow --index INDEX` as a child process: it commits what the ingest API journals."""
    return subprocess.Popen([sys.executable, "-c", _FOLLOW, str(os.getpid()), "--index", index])


def stop_follower(process: subprocess.Popen, timeout: float = 60.0) -> None:
    """SIGTERM by its PID, then wait: it finishes the commit it is making (a killed one loses nothing either,
    the journal keeps every acknowledged write, but the next start would redo the commit)."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    print(f"stopped indexer follow (pid {process.pid}, exit {process.returncode})", flush=True)


def _exit_on_sigterm(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)  # waitress stops serving on SystemExit, then main stops the committer


def main(argv: list[str] | None = None) -> int:
    """Open the index once, then serve until interrupted; never the Flask debug server."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.ray and args.workers > 1:
        print("error: --ray serves from one router process; use --replicas for more shard replicas",
              file=sys.stderr)
        return 2
    if args.ray and (args.shards < 1 or args.replicas < 1):
        print("error: --shards and --replicas must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and args.listen_fd is None:
        from .workers import Supervisor

        try:
            return Supervisor(args).run()
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
    from waitress import serve

    from . import create_app

    config: dict[str, Any] = {"INDEX": args.index, "DEBUG": False, "TESTING": False}
    if args.model:
        config["MODEL"] = args.model
    cluster = None
    if args.ray:
        from . import cluster

        try:
            started = cluster.connect(args.ray)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            print(f"error: cannot reach the Ray cluster at {args.ray!r}: {exc}", file=sys.stderr)
            return 1
        config["SHARDS"] = cluster.start_shards(args.shards, args.replicas, args.replica_cpus, args.shard_timeout)
        print(f"{args.shards} shards of {args.replicas} replicas each are up on Ray Serve", flush=True)
    try:
        app = create_app(config)
    except NewsclipError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if cluster is not None:
            cluster.stop_shards(started)
        return 1
    from .ingest import enabled

    if cluster is not None:  # SIGTERM stops the shards (and a local cluster) as Ctrl-C does
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    body_limit = 1024 * 1024
    follower = None
    if enabled(app):
        # the app answers 413 in the API's error shape up to 1 MB past its limit; waitress refuses beyond that
        body_limit = max(body_limit, int(app.config["INGEST_MAX_BYTES"]) + 1024 * 1024)
        if args.follow:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            follower = start_follower(args.index)
            print(f"the ingest API is on; started indexer follow --index {args.index} (pid {follower.pid}) to "
                  "commit its writes", flush=True)
        else:
            print("the ingest API is on; --no-follow: another process must commit its writes (indexer follow)",
                  flush=True)
    if args.listen_fd is not None:  # a worker of `--workers N`: the supervisor bound the socket
        import socket

        where: dict[str, Any] = {"sockets": [socket.socket(fileno=args.listen_fd)]}
        print(f"worker {os.getpid()} is serving {args.index}", flush=True)
    else:
        where = {"host": args.host, "port": args.port}
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"Newsclip is serving {args.index} at http://{host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    try:
        serve(app, **where, threads=args.threads, ident="newsclip",
              channel_timeout=args.channel_timeout, cleanup_interval=max(1, args.channel_timeout // 2),
              connection_limit=args.connection_limit, max_request_body_size=body_limit,
              max_request_header_size=64 * 1024, clear_untrusted_proxy_headers=True)
    finally:
        if follower is not None:
            stop_follower(follower)
        if cluster is not None:
            app.extensions["newsclip"].close()
            cluster.stop_shards(started)
            print("stopped the shards" + (" and the local Ray cluster" if started else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
