"""The reliability drills at a small size (the full runs are `python -m bench.drill_rebuild` and
`python -m bench.drill_load`; their figures are in docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path

from bench.drill_load import Clients, requests_mix
from bench.drill_rebuild import run
from bench.questions import ASKED
from bench.server import rss_mb, serving
from conftest import REUTERS, require


def test_rebuild_drill_small(tmp_path: Path) -> None:
    """Six rebuilds, the four in the middle SIGKILLed at random moments (one may end before its kill), while the
    production server answers a client."""
    require(REUTERS)
    figures = run(tmp_path, rebuilds=6, kills=4, stories=40, step=5, seed=3)
    print({k: v for k, v in figures.items() if k != "runs"})
    assert figures["killed"] >= 3 and figures["queries_failed"] == 0, figures["errors"]
    assert figures["queries_answered"] > 50
    assert figures["current_whole_after_every_run"]
    assert figures["finished_runs_succeeded"] == figures["finished_runs"] == 6 - figures["killed"]
    assert figures["tmp_left_after_successful_runs"] == 0
    assert figures["server_picked_up_final_build"] and len(figures["builds_left"]) == 1


def test_load_drill_small(seeds_index: Path, tmp_path: Path) -> None:
    """Ten clients for five seconds: every request answered, memory steady."""
    with serving(seeds_index, tmp_path / "server.log") as (base, server):
        port = int(base.rsplit(":", 1)[1])
        load = Clients(port, 10, requests_mix(ASKED[:10]))
        load.run(8)
        # every request answered; how many fit in 8 s depends on the machine's load (14 seen on a loaded one)
        assert load.errors == [] and len(load.latencies) >= 10
        assert rss_mb(server.pid) > 0
