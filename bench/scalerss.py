"""RSS of a served index by mapping (anonymous memory vs memory-mapped index files), before and after load.

python -m bench.scalerss var/scale-1m
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

from bench.questions import questions
from bench.scale import REUTERS, Client, load, serving


def smaps(pid: int, tag: str) -> None:
    """Print the process's RSS, its anonymous part, and the mappings holding the most."""
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        roll = {line.split(":")[0]: line.split(":")[1].strip() for line in handle if ":" in line}
    print(tag, {k: roll[k] for k in ("Rss", "Anonymous") if k in roll})
    per: collections.Counter[str] = collections.Counter()
    name = "[anon]"
    with open(f"/proc/{pid}/smaps") as handle:
        for line in handle:
            parts = line.split()
            if "-" in parts[0] and len(parts[0]) > 8 and not parts[0].endswith(":"):
                name = parts[5] if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                per[name.rsplit("/", 1)[-1]] += int(parts[1])
    print("  top:", [(k, v // 1024) for k, v in per.most_common(8)], "MiB")


def main(index: str) -> None:
    with serving(Path(index)) as (proc, port, _):
        smaps(proc.pid, "started")
        asked = questions(REUTERS, 100)
        client = Client(port)
        for q in asked[:20]:
            client.search(q, "hybrid")
        smaps(proc.pid, "after 20 sequential")
        result = load(port, [asked[i % 100] for i in range(400)], 8, 30)
        print("load", result["qps"], result["latency"])
        smaps(proc.pid, "after 400 with 8 clients")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
