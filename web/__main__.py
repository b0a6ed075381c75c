"""`python -m web`: serve the app with waitress (a production WSGI server), on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import os
import sys

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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Open the index once, then serve until interrupted; never the Flask debug server."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from waitress import serve

    from . import create_app

    config = {"INDEX": args.index, "DEBUG": False, "TESTING": False}
    if args.model:
        config["MODEL"] = args.model
    try:
        app = create_app(config)
    except NewsclipError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Newsclip is serving {args.index} at http://{host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="newsclip",
          channel_timeout=args.channel_timeout, cleanup_interval=max(1, args.channel_timeout // 2),
          connection_limit=args.connection_limit,
          max_request_body_size=1024 * 1024, max_request_header_size=64 * 1024, clear_untrusted_proxy_headers=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
