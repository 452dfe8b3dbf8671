"""Plots of the peers benchmark's latency distributions (PNG, matplotlib's Agg backend).

    .venv/bin/python -m bench.plots [--input bench/results/peers.json] [--output-dir docs/img]

For each client count in the results, ``docs/img/latency-<N>.png`` shows every server's
propagation latency: on the left the distribution (CDF), on the right its tail (the share
of (edit, peer) pairs slower than x, log scale), both over log-scaled milliseconds. Drawn
from the quantile table each record of ``bench/results/peers.json`` holds
(``latency_quantiles_ms``: nearest-rank quantiles, finer in the tail).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT

#: Colours and order of the servers (others follow in grey).
STYLE = {
    "ours": ("#d62728", "ours: declaration serve"),
    "ours-no-fsync": ("#ff9896", "ours, not waiting for the disk (what-if)"),
    "relay-gevent": ("#1f77b4", "Flask-SocketIO relay, gevent"),
    "relay-threading": ("#17becf", "Flask-SocketIO relay, threading"),
    "yjs": ("#2ca02c", "pycrdt-websocket (Yjs)"),
    "yjs-observe": ("#98df8a", "pycrdt-websocket, clients with Text.observe"),
}


def load(path: Path, rate: float) -> dict[int, list[dict[str, Any]]]:
    """Records with a quantile table at ``rate`` edits/s per client, by client count."""
    return plottable(json.loads(path.read_text("utf-8")), rate)


def plottable(records: list[dict[str, Any]], rate: float) -> dict[int, list[dict[str, Any]]]:
    """Of ``records``, those with a quantile table at ``rate``, by client count, in order."""
    by_count: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if not record.get("latency_quantiles_ms") or record.get("rate_per_client") != rate:
            continue
        by_count[int(record["clients"])].append(record)
    order = list(STYLE)
    for found in by_count.values():
        found.sort(key=lambda r: order.index(r["peer"]) if r.get("peer") in order else 99)
    return dict(sorted(by_count.items()))


def plot(clients: int, records: list[dict[str, Any]], output: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure, (cdf, tail) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    for record in records:
        colour, label = STYLE.get(str(record.get("peer")), ("#7f7f7f", str(record["server"])))
        quantiles = [float(q) for q, _ in record["latency_quantiles_ms"]]
        # Latencies below 0.01 ms cannot be shown on the log scale (and do not occur).
        values = [max(float(ms), 0.01) for _, ms in record["latency_quantiles_ms"]]
        text = (
            f"{label}: p50 {record['p50_ms']:,.1f}, p99 {record['p99_ms']:,.1f} ms, "
            f"{record['edits_per_cpu_s']:,.0f} edits/CPU-s"
        )
        cdf.step(values, quantiles, where="post", color=colour, label=text)
        # Share of pairs slower than x: 1 − q, down to the last quantile before the max.
        tail.step(
            values[:-1], [1 - q for q in quantiles[:-1]], where="post", color=colour, label=label
        )
        tail.plot([values[-1]], [1 - quantiles[-2]], marker="|", color=colour, markersize=10)
    for axes in (cdf, tail):
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel("propagation latency (ms), edit → each peer")
        axes.grid(True, which="both", alpha=0.3)
    cdf.set_ylabel("share of (edit, peer) pairs")
    cdf.set_ylim(0, 1.0)
    tail.set_yscale("log")
    tail.set_ylabel("share of pairs slower than x")
    tail.set_ylim(5e-5, 1.0)
    for level, name in ((0.5, "p50"), (0.01, "p99"), (0.001, "p99.9")):
        tail.axhline(level, color="black", linewidth=0.6, linestyle=":")
        tail.text(tail.get_xlim()[0], level, f" {name}", va="bottom", fontsize=8)
    cdf.legend(loc="upper left", fontsize=8)
    sample = records[0]
    figure.suptitle(
        f"{clients} clients × {sample['rate_per_client']:g} edits/s, "
        f"{sample['duration_s']:g} s, {sample.get('runs', 1)} run(s) each — "
        f"{sample.get('date', '')[:10]}, {sample['machine']['nproc']} CPUs"
    )
    output.mkdir(parents=True, exist_ok=True)
    path = output / f"latency-{clients}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.plots",
        description="Latency distribution plots (PNG) from the peers benchmark's results.",
    )
    p.add_argument("--input", type=Path, default=RESULTS / "peers.json")
    p.add_argument("--output-dir", type=Path, default=ROOT / "docs" / "img")
    p.add_argument("--rate", type=float, default=5.0, help="edits/s per client of the records")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.input.exists():
        print(f"no results at {args.input}: run python -m bench peers first", file=sys.stderr)
        return 1
    by_count = load(args.input, args.rate)
    if not by_count:
        print(f"no records with latency quantiles in {args.input}", file=sys.stderr)
        return 1
    for clients, records in by_count.items():
        print(plot(clients, records, args.output_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
