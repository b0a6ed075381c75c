"""Newsclip indexer: reads articles, chunks them into passages, builds and publishes an index."""
