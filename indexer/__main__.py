"""`python -m indexer` is the `indexer` command."""

from .cli import main

main()
