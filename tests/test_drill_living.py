"""The living-archive drill at a small size (the full run is `python -m bench.drill_living`; its figures are in
docs/living.md): a writer adds and deletes Reuters stories through the journal while two clients search the
production server, and is SIGKILLed once with a batch in flight, then restarted (it replays the journal)."""

from __future__ import annotations

from pathlib import Path

from bench.drill_living import run
from conftest import reuters_stories


def test_living_drill_small(tmp_path: Path) -> None:
    stories = reuters_stories(24 + 150)
    figures = run(tmp_path, stories[:24], stories[24:], seconds=40, clients=2, kills=1, add_rate=2, delete_rate=0.5,
                  max_batch=8, stats_every=5, min_batches=2, kill_in_flight=True)
    print({k: v for k, v in figures.items() if k != "segments_over_time"})
    # no timing is asserted: how much gets written in 40 s depends on the machine's load
    assert figures["queries_failed"] == 0, figures["query_errors"]
    assert figures["queries_answered"] > 0
    assert figures["acknowledged_writes_lost"] == 0, figures["final_check"]
    assert figures["final_check"]["deleted_found_by_search"] == []
    assert figures["final_check"]["ids_checked"] > 0 and figures["commits"] >= 2
    assert len(figures["kills"]) == 1 and "pid" in figures["kills"][0]  # killed, not ended by itself
    assert figures["writer_starts"] == 2 and figures["writer_final_exit"] == 0
    assert figures["stats_after"]["journal_pending"] == 0  # what the killed writer journaled was replayed
    assert figures["never_visible"] == []
