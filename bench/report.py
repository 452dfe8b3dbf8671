"""The generated part of ``docs/benchmarks.md``: tables, targets and plots from the results.

    .venv/bin/python -m bench.report [--results bench/results] [--doc docs/benchmarks.md]
                                     [--img docs/img] [--no-plots] [--check]

``make bench`` (``python -m bench``) runs it after the benchmarks. It reads the records in
``bench/results/*.json`` and rewrites what lies between the two marker lines of the doc
(``<!-- report:begin … -->`` and ``<!-- report:end -->``): the ratios to the peers first,
then every server's figures, the latency plots, the targets with what was measured, and
the storage, history, reconnect-storm, flood, comments and fan-out figures. Each table names the
commits, dates and machines its records come from, because the result files keep the
newest record of each kind and a partial run leaves older records beside new ones. The
text around the markers (how to run, the targets, why those still missed are missed) is
written by people and left alone.

``--check`` only reports whether the doc's generated part matches the results (exit 1 if
not), for a reviewer who wonders whether someone edited the figures by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import comments as comments_bench
from bench import fanout as fanout_bench
from bench import flood as flood_bench
from bench.common import RESULTS, ROOT
from bench.peers import DEFAULT_SERVERS, RUN_ORDER, by_count, ratio_rows
from bench.storage import TARGET_BYTES_PER_REVISION, TARGET_LOAD_P99_MS
from bench.storm import TARGET_IN_SYNC_MS

BEGIN = "<!-- report:begin (python -m bench.report writes this part from bench/results) -->"
END = "<!-- report:end -->"

DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"

#: The peers in the order of the tables, with the names the doc uses.
PEER_NAMES = {
    "ours": "ours",
    "ours-no-fsync": "ours, not waiting for the disk (what-if)",
    "relay-gevent": "relay (gevent)",
    "relay-threading": "relay (threading)",
    "yjs": "pycrdt-websocket",
    "yjs-observe": "pycrdt-websocket (observing clients)",
}

#: Targets of the realtime workload (issue "Benchmarks"), on a 2-core machine.
P99_MS_AT = {20: 10.0, 50: 25.0}
P99_RATIO_TO_RELAY = 1.5
EDITS_PER_CPU_S_AT_50 = 1000.0
IDLE_KB_PER_CLIENT = 100.0
HISTORY_REVISIONS = 100_000


class ReportError(Exception):
    """The doc or the results cannot be turned into a report (message for the developer)."""


# -- formatting ----------------------------------------------------------------------------


def number(value: Any, digits: int = 1) -> str:
    """A figure as the doc writes it: thousands separated, ``–`` when not measured."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column, ``l`` or ``r``."""
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" if a == "l" else "--:" for a in align) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def describe_machine(machine: dict[str, Any] | None) -> str:
    if not machine:
        return "machine not recorded"
    return (
        f'{machine.get("nproc")} vCPUs ("{machine.get("cpu")}"), '
        f"{machine.get('memory_gib')} GiB, Python {machine.get('python')}"
    )


def provenance(records: Sequence[dict[str, Any]], commit: Callable[[dict[str, Any]], Any]) -> str:
    """Which runs the records come from: commit, date and machine, once each."""
    seen: dict[tuple[str, str, str], None] = {}
    for record in records:
        date = str(record.get("date") or record.get("started") or "")[:10]
        seen[(str(commit(record) or "?"), date, describe_machine(record.get("machine")))] = None
    parts = [f"commit `{c}` on {d}, {m}" for c, d, m in seen]
    return "Records: " + "; ".join(parts) + "."


def _peer_commit(record: dict[str, Any]) -> Any:
    return record.get("commit")


def _code_commit(record: dict[str, Any]) -> Any:
    return (record.get("code") or {}).get("app_commit")


# -- loading -------------------------------------------------------------------------------


def load(results: Path, name: str) -> list[dict[str, Any]]:
    """The records of ``results/NAME.json`` (none if the benchmark never ran)."""
    path = results / f"{name}.json"
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as error:
        raise ReportError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(records, list):
        raise ReportError(f"{path} should hold a list of records")
    return records


def newest(records: Iterable[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """The newest record for each combination of ``keys`` (by ``date`` or ``started``)."""
    chosen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in records:
        key = tuple(record.get(k) for k in keys)
        stamp = str(record.get("date") or record.get("started") or "")
        held = chosen.get(key)
        if held is None or stamp >= str(held.get("date") or held.get("started") or ""):
            chosen[key] = record
    return list(chosen.values())


# -- sections ------------------------------------------------------------------------------


def _in_table_order(keys: Iterable[str]) -> list[str]:
    """``keys`` in the order of `PEER_NAMES`, servers it does not name last."""
    order = list(PEER_NAMES)
    return sorted(keys, key=lambda k: order.index(k) if k in order else len(order))


def _servers_option(peers: Sequence[dict[str, Any]]) -> str:
    """The ``--servers`` option that runs the reported servers, if they are not the default."""
    keys = _in_table_order({str(r.get("peer")) for r in peers})
    return "" if keys == DEFAULT_SERVERS else f" --servers {','.join(keys)}"


def peers_section(peers: Sequence[dict[str, Any]], plots: Sequence[Path]) -> str:
    if not peers:
        return "## Against the peers\n\nNo results yet: run `python -m bench peers`."
    rows = []
    for clients, found in by_count(peers).items():
        for key in _in_table_order(found):
            r = found[key]
            rows.append(
                [
                    str(clients),
                    PEER_NAMES.get(key, str(r.get("server"))),
                    number(r.get("p50_ms")),
                    number(r.get("p95_ms")),
                    number(r.get("p99_ms")),
                    number(r.get("max_ms")),
                    number(r.get("edits_per_cpu_s"), 0),
                    number(r.get("rss_per_client_kb"), 0),
                    number(r.get("converged")),
                    number(r.get("runs")),
                    f"{number(r.get('latency_pairs'))} ({number(r.get('missing_pairs'))})",
                ]
            )
    runs = sorted({int(r.get("runs") or 0) for r in peers})
    seconds = sorted({float(r.get("duration_s") or 0) for r in peers})
    in_turn = all(r.get("order") == RUN_ORDER for r in peers)
    parts = [
        "## Against the peers",
        f"`.venv/bin/python -m bench peers --runs {'/'.join(map(str, runs))}"
        f"{_servers_option(peers)}`: each client "
        f"inserts a token at a random position 5 times a second for "
        f"{'/'.join(f'{s:g}' for s in seconds)} s, "
        f"{'the servers taking turns run by run, ' if in_turn else ''}"
        "the runs of each server and count pooled; "
        "server on the first CPU, load generator on the other. " + provenance(peers, _peer_commit),
        table(
            [
                "clients",
                "our p99 ms",
                "÷ relay (gevent)",
                "÷ pycrdt-websocket",
                "our edits / CPU-s",
                "÷ relay (gevent)",
                "÷ pycrdt-websocket",
            ],
            ratio_rows(peers),
            "rrrrrrr",
        ),
        table(
            [
                "clients",
                "server",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "edits / CPU-s",
                "RSS / client kB",
                "converged",
                "runs",
                "(edit, peer) pairs (missing)",
            ],
            rows,
            "rlrrrrrrlrr",
        ),
    ]
    if plots:
        parts.append(
            "\n".join(
                f"![latency, {p.stem.removeprefix('latency-')} clients](img/{p.name})"
                for p in plots
            )
        )
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None  # None: not measured


def targets(
    peers: Sequence[dict[str, Any]],
    storage: Sequence[dict[str, Any]],
    storm: Sequence[dict[str, Any]],
    flood: Sequence[dict[str, Any]] = (),
    comments: Sequence[dict[str, Any]] = (),
) -> list[Target]:
    """Every target of the benchmarks and security issues, with what the records show."""
    grouped = by_count(peers)
    ours = {n: servers["ours"] for n, servers in grouped.items() if "ours" in servers}
    found: list[Target] = []

    def floor(clients: int, field: str, digits: int = 1, unit: str = "") -> str:
        """The bare relay's figure beside ours: what the stack itself reaches here."""
        relay = grouped.get(clients, {}).get("relay-gevent")
        if relay is None or relay.get(field) is None:
            return ""
        return f" (the bare relay: {number(relay[field], digits)}{unit})"

    for clients, limit in P99_MS_AT.items():
        record = ours.get(clients)
        found.append(
            Target(
                f"p99 ≤ {limit:g} ms at {clients} clients",
                f"{number(record['p99_ms'])} ms{floor(clients, 'p99_ms', unit=' ms')}"
                if record
                else "–",
                record["p99_ms"] <= limit if record else None,
            )
        )
    for peer, limit, name in (
        ("relay-gevent", P99_RATIO_TO_RELAY, f"our p99 ≤ {P99_RATIO_TO_RELAY:g}× the bare relay's"),
        ("yjs", 1.0, "our p99 ≤ pycrdt-websocket's"),
    ):
        pairs = [
            (n, ours[n]["p99_ms"] / servers[peer]["p99_ms"])
            for n, servers in grouped.items()
            if n in ours and peer in servers and servers[peer].get("p99_ms")
        ]
        found.append(
            Target(
                name,
                " / ".join(f"{value:.2f}× at {n}" for n, value in pairs) or "–",
                all(value <= limit for _, value in pairs) if pairs else None,
            )
        )
    record = ours.get(50)
    found.append(
        Target(
            f"≥ {EDITS_PER_CPU_S_AT_50:,.0f} accepted edits per server CPU-second at 50 clients",
            f"{number(record['edits_per_cpu_s'], 0)}{floor(50, 'edits_per_cpu_s', 0)}"
            if record
            else "–",
            record["edits_per_cpu_s"] >= EDITS_PER_CPU_S_AT_50 if record else None,
        )
    )
    memory = [r["rss_per_client_kb"] for r in ours.values() if r.get("rss_per_client_kb")]
    found.append(
        Target(
            f"≤ {IDLE_KB_PER_CLIENT:g} kB server memory per idle client",
            f"{min(memory):.0f}–{max(memory):.0f} kB" if memory else "–",
            max(memory) <= IDLE_KB_PER_CLIENT if memory else None,
        )
    )
    replays = [r for r in storage if r.get("phase") == "service" and r.get("whole_trace")]
    found.append(
        Target(
            f"≤ {TARGET_BYTES_PER_REVISION:g} bytes per revision (automerge-paper replay)",
            " / ".join(
                f"{r['database']} {number(r.get('table_bytes_per_revision'))}" for r in replays
            )
            or "–",
            all(
                (r.get("table_bytes_per_revision") or 1e9) <= TARGET_BYTES_PER_REVISION
                for r in replays
            )
            if replays
            else None,
        )
    )
    histories = [
        r
        for r in storage
        if r.get("phase") == "history" and (r.get("revisions") or 0) >= HISTORY_REVISIONS
    ]
    found.append(
        Target(
            f"revision load p99 ≤ {TARGET_LOAD_P99_MS:g} ms at ≥ {HISTORY_REVISIONS:,} revisions",
            " / ".join(
                f"{r['database']} {number(r.get('load_p99_ms'))} ms at {number(r['revisions'])}"
                for r in histories
            )
            or "–",
            all((r.get("load_p99_ms") or 1e9) <= TARGET_LOAD_P99_MS for r in histories)
            if histories
            else None,
        )
    )
    storms = [r for r in storm if r.get("in_sync_ms_median") is not None]
    found.append(
        Target(
            f"reconnect storm in sync ≤ {TARGET_IN_SYNC_MS:g} ms",
            " / ".join(f"{r['database']} {number(r['in_sync_ms_median'], 0)} ms" for r in storms)
            or "–",
            all(r["in_sync_ms_median"] <= TARGET_IN_SYNC_MS for r in storms) if storms else None,
        )
    )
    # The baseline is no flood: its figure is what the machine gives without one.
    floods = [
        r
        for r in flood
        if r.get("others_p99_ms") is not None and r.get("kind") not in flood_bench.BASELINES
    ]
    worst = max(floods, key=lambda r: r["others_p99_ms"], default=None)
    found.append(
        Target(
            f"a flooding client: the others' p99 ≤ {flood_bench.TARGET_P99_MS:g} ms",
            f"worst {number(worst['others_p99_ms'])} ms ({worst['kind']}, {worst['database']}, "
            f"{number(worst.get('text_chars'))} characters)"
            if worst
            else "–",
            all(r["others_p99_ms"] <= flood_bench.TARGET_P99_MS for r in floods)
            if floods
            else None,
        )
    )
    found.append(comments_target(comments))
    return found


def comments_target(comments: Sequence[dict[str, Any]]) -> Target:
    """The edit path with open comments within 10 % of without, for the server's default.

    The default mapping is the one the records name (`comments.default_mapping` when they
    were measured); the other mapping's figures follow for comparison.
    """
    edits = [r for r in comments if r.get("part") == "edit" and r.get("comments")]
    count = max((int(r["comments"]) for r in edits), default=comments_bench.Settings.comments)
    name = (
        f"with {count:,} comments, the edit path's p99 and edits per CPU-second within "
        f"{comments_bench.TARGET_WITHIN:.0%} of without"
    )
    if not edits:
        return Target(name, "–", None)
    default = str(edits[0].get("default_mapping") or comments_bench.LAZY)

    def figures(record: dict[str, Any]) -> str:
        p99, rate = record.get("p99_ratio"), record.get("edits_per_cpu_s_ratio")
        return (
            f"{record['mapping']}{' (the default)' if record['mapping'] == default else ''}: "
            f"p99 {'–' if p99 is None else f'{p99:.2f}×'}, "
            f"edits / CPU-s {'–' if rate is None else f'{rate:.2f}×'}"
        )

    ordered = comments_bench.ordered([r for r in edits if r.get("comments") == count], "edit")
    chosen = [r for r in ordered if r.get("mapping") == default]
    return Target(
        name,
        " / ".join(figures(dict(r)) for r in ordered),
        chosen[0].get("target_met") if chosen else None,
    )


def targets_section(found: Sequence[Target]) -> str:
    rows = [[t.name, t.measured, "not measured" if t.met is None else number(t.met)] for t in found]
    return "\n\n".join(
        [
            "## The targets",
            "From the records of this report (2-core machine; the medians of the storm).",
            table(["target", "measured", "met?"], rows, "lll"),
        ]
    )


def storage_section(storage: Sequence[dict[str, Any]]) -> str:
    replays = sorted(
        (r for r in storage if r.get("phase") != "history"),
        key=lambda r: (r["database"], str(r.get("phase")), str(r.get("mode"))),
    )
    histories = sorted(
        (r for r in storage if r.get("phase") == "history"), key=lambda r: r["database"]
    )
    parts = ["## Typing replay and history"]
    if not storage:
        parts.append("No results yet: run `python -m bench storage`.")
        return "\n\n".join(parts)
    parts.append(
        "`.venv/bin/python -m bench storage` on the automerge-paper trace (260k keystrokes). "
        + provenance(storage, _code_commit)
    )
    if replays:
        parts.append(
            table(
                [
                    "database",
                    "how",
                    "keystrokes",
                    "revisions",
                    "keystrokes / s",
                    "text as expected",
                    "bytes / revision",
                    "CPU ms / keystroke",
                ],
                [
                    [
                        str(r["database"]),
                        str(r.get("mode")),
                        number(r.get("patches")),
                        number(r.get("revisions")),
                        number(r.get("edits_per_s")),
                        f"{number(r.get('text_ok'))} ({r.get('text_checked_against')})",
                        number(r.get("table_bytes_per_revision")),
                        number(r.get("cpu_ms_per_edit"), 2),
                    ]
                    for r in replays
                ],
                "llrrrlrr",
            )
        )
    if histories:
        parts.append(
            table(
                [
                    "database",
                    "revisions",
                    "loads",
                    "load p50 ms",
                    "load p99 ms",
                    "load max ms",
                    "wrong",
                    "compare distant revisions, median ms",
                ],
                [
                    [
                        str(r["database"]),
                        number(r.get("revisions")),
                        number(r.get("loads")),
                        number(r.get("load_p50_ms")),
                        number(r.get("load_p99_ms")),
                        number(r.get("load_max_ms")),
                        number(r.get("loads_wrong")),
                        number(r.get("difference_median_ms")),
                    ]
                    for r in histories
                ],
                "lrrrrrrr",
            )
        )
    return "\n\n".join(parts)


def storm_section(storm: Sequence[dict[str, Any]]) -> str:
    parts = ["## Reconnect storm"]
    if not storm:
        parts.append("No results yet: run `python -m bench storm`.")
        return "\n\n".join(parts)
    rows = []
    for r in sorted(storm, key=lambda r: r["database"]):
        in_sync = [run.get("in_sync_ms") for run in r.get("per_run") or []]
        measured = [v for v in in_sync if v is not None]
        rows.append(
            [
                str(r["database"]),
                str(r.get("clients")),
                number(r.get("runs")),
                number(r.get("all_joined_ms_median"), 0),
                number(r.get("in_sync_ms_median"), 0),
                f"{min(measured):.0f}–{max(measured):.0f}" if measured else "–",
            ]
        )
    parts.append(
        "`.venv/bin/python -m bench storm --database both`: every client opens the "
        "declaration at the same moment (connect and join), then makes one edit; in sync "
        "when every edit is acknowledged and stored and every client holds the server's "
        "head. " + provenance(storm, _code_commit)
    )
    parts.append(
        table(
            [
                "database",
                "clients",
                "runs",
                "all joined, median ms",
                "in sync, median ms",
                "in sync, each run ms",
            ],
            rows,
            "lrrrrr",
        )
    )
    return "\n\n".join(parts)


def before_and_after_section(
    peers: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]]
) -> str:
    """Our server at an older commit beside ours now, under the same workload.

    Written only where ``python -m bench peers --servers ours --server-commit REV`` left
    records; a refactoring shows here that it cost nothing (or what it cost).
    """
    older = [r for r in reference if r.get("peer") == "ours"]
    if not older:
        return ""
    current = {(r.get("workload"), r.get("clients")): r for r in peers if r.get("peer") == "ours"}
    rows = []
    for before in sorted(older, key=lambda r: int(r.get("clients") or 0)):
        now = current.get((before.get("workload"), before.get("clients")))
        for record in (before, now):
            if record is None:
                continue
            rows.append(
                [
                    number(record.get("clients")),
                    f"`{record.get('commit')}`",
                    str(record.get("date") or "")[:16].replace("T", " "),
                    number(record.get("p50_ms")),
                    number(record.get("p99_ms")),
                    number(record.get("edits_per_cpu_s"), 0),
                    number(record.get("rss_per_client_kb"), 0),
                    number(record.get("runs")),
                ]
            )
    commits = "/".join(sorted({str(r.get("server_commit") or r.get("commit")) for r in older}))
    return "\n\n".join(
        [
            "## Our server before and after a change",
            "The peers' workload against our server at an earlier commit "
            f"(`python -m bench peers --servers ours --server-commit {commits}`), each beside "
            "the newest record of our server now; the two were measured one after the other.",
            table(
                [
                    "clients",
                    "server at",
                    "measured (UTC)",
                    "p50 ms",
                    "p99 ms",
                    "edits / CPU-s",
                    "RSS / client kB",
                    "runs",
                ],
                rows,
                "rllrrrrr",
            ),
        ]
    )


def flood_section(flood: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]] = ()) -> str:
    """One table per database and text length: each kind of flood, the others' round trips.

    Where the same floods were run against an older server (``reference``), its table
    follows, so the figures before a change stand beside the current ones.
    """
    parts = ["## One client flooding the others"]
    if not flood:
        parts.append("No results yet: run `python -m bench flood`.")
        return "\n\n".join(parts)
    first = flood[0]
    parts.append(
        f"`.venv/bin/python -m bench flood`: {number(first.get('clients'))} clients each make "
        f"{number(first.get('rate_per_client'), 0)} edits a second while one more connection "
        "floods one kind of event as fast as it can (a fresh server for each kind; "
        f"`{flood_bench.BASELINE}` is the baseline of the same run, with the attacker connected "
        "and silent; the sign-off kinds run in review, where the clients typing are the "
        "moderation and the attacker a mayor, against their own baseline "
        f"`{flood_bench.REVIEW_BASELINE}`). Round trip: from an edit until the server confirms "
        "it (acknowledgement or the author's own revision in the broadcast, whichever comes "
        "first). The "
        "attacker's answers are counted by their code as far as it read them by the end (a "
        "few seconds after the flood), the rest as unanswered; `join-noread` never reads its "
        "socket until then. " + provenance(flood, _peer_commit)
    )
    references = _flood_groups(reference)
    for (database, chars), records in sorted(_flood_groups(flood).items()):
        parts.extend(_flood_table(database, chars, records, ""))
        older = references.get((database, chars))
        if older:
            commit = "/".join(sorted({str(r.get("commit") or "?") for r in older}))
            parts.extend(
                _flood_table(
                    database,
                    chars,
                    older,
                    f" against the server at {commit} (`--server-commit {commit}`), for comparison",
                )
            )
    return "\n\n".join(parts)


def _flood_groups(
    records: Sequence[dict[str, Any]],
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((str(record["database"]), int(record["text_chars"])), []).append(record)
    order = {kind: n for n, kind in enumerate(flood_bench.KINDS)}
    for members in groups.values():
        members.sort(key=lambda r: order.get(str(r["kind"]), len(order)))
    return groups


def _flood_table(
    database: str, chars: int, records: list[dict[str, Any]], against: str
) -> list[str]:
    seconds = "/".join(sorted({f"{float(r.get('duration_s') or 0):g}" for r in records}))
    option = int(records[0].get("text_option") or 0)
    command = f"--duration {seconds}" + (f" --text-chars {option}" if option else "")
    if database != "sqlite":
        command += " --database-url postgresql+psycopg://…"
    return [
        f"{database}, a text of {chars:,} characters, {seconds} s per flood{against} "
        f"(`{command}`):",
        table(
            flood_bench.HEADERS,
            [flood_bench.table_row(r) for r in records],
            flood_bench.ALIGN,
        ),
    ]


def _other_work(records: Sequence[Any]) -> str:
    """How much of the machine other work took during the runs, if it was recorded."""
    busy = [float(r["other_cores_busy"]) for r in records if r.get("other_cores_busy") is not None]
    if not busy:
        return ""
    return f"Other work on the machine took {min(busy):.2f}–{max(busy):.2f} cores meanwhile. "


def comments_section(comments: Sequence[dict[str, Any]]) -> str:
    """The edit path with and without open comments, lazy and eager, and the read's cost."""
    parts = ["## Comments: carrying their anchors lazily or eagerly"]
    if not comments:
        parts.append("No results yet: run `python -m bench comments`.")
        return "\n\n".join(parts)
    edits = comments_bench.ordered(comments, "edit")
    reads = comments_bench.ordered(comments, "read")
    first = dict((edits or reads)[0])
    if edits:
        runs = "/".join(sorted({str(r.get("runs")) for r in edits}))
        parts.append(
            f"`.venv/bin/python -m bench comments`: {number(first.get('clients'))} clients each "
            f"insert a token {number(first.get('rate_per_client'), 0)} times a second for "
            f"{number(first.get('seconds'), 0)} s into the sample declaration, without "
            "comments and with open threads spread over its text, the anchors carried lazily "
            "(on read) or eagerly (in each edit's transaction): a fresh server per run with "
            "`DECLARATION_ANCHOR_MAPPING` set, the four configurations taking turns in "
            f"{runs} rounds (order rotated), each figure the median of its rounds. Round trip: "
            "from an edit until the server confirms it (as in the flood benchmark); edits "
            "per CPU-second: revisions stored per CPU-second of the server process; the "
            "ratios are to the same mapping without comments in the same rounds. "
            + _other_work(edits)
            + provenance(comments, _peer_commit)
        )
        parts.append(
            table(
                comments_bench.EDIT_HEADERS,
                [comments_bench.edit_row(r) for r in edits],
                comments_bench.EDIT_ALIGN,
            )
        )
    if reads:
        writers = number(dict(reads[0]).get("writers"))
        interval = number(dict(reads[0]).get("typist_interval_ms"), 0)
        parts.append(
            f"The read: {writers} clients store revisions as fast as the server takes them "
            "while nobody reads the comments; then a client that just joined times one "
            "`comments()` call (wall time; the server's CPU time during it), first after the "
            "unread revisions, last with (nearly) nothing unread; meanwhile one more client "
            f"types every {interval} ms, and the longest round trip of its edits made or in "
            "flight during the read is what an editor waits for it (– : none fell in it). "
            "A fresh server per mapping."
            + ("" if edits else " " + provenance(comments, _peer_commit))
        )
        parts.append(
            table(
                comments_bench.READ_HEADERS,
                [comments_bench.read_row(r) for r in reads],
                comments_bench.READ_ALIGN,
            )
        )
    return "\n\n".join(parts)


#: Servers that are shown only beside our record of the same run (`bench/unsynced.py`).
WHAT_IFS = ("ours-no-fsync",)


def what_if_beside_ours(peers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop what-if records that are not from the run of our record at their client count.

    A what-if says something only next to the server as it ships, measured in the same run
    (records of one run share their ``date``); a later run without it must not leave an
    older one standing beside newer figures.
    """
    ours = {
        (r.get("workload"), r.get("clients")): r.get("date")
        for r in peers
        if r.get("peer") == "ours"
    }
    return [
        r
        for r in peers
        if r.get("peer") not in WHAT_IFS
        or ours.get((r.get("workload"), r.get("clients"))) == r.get("date")
    ]


@dataclass(frozen=True)
class Results:
    """The newest record of each kind in the results folder, read once."""

    peers: list[dict[str, Any]]
    storage: list[dict[str, Any]]
    storm: list[dict[str, Any]]
    flood: list[dict[str, Any]] = field(default_factory=list)
    #: The same floods against an older server (``--server-commit``), shown beside them.
    flood_reference: list[dict[str, Any]] = field(default_factory=list)
    #: Our server at an older commit under the peers' workload (``--server-commit``).
    peers_reference: list[dict[str, Any]] = field(default_factory=list)
    #: The edit path with and without open comments, and the read (`bench.comments`).
    comments: list[dict[str, Any]] = field(default_factory=list)
    #: Many viewers, one server process against two (`bench.fanout`).
    fanout: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, results: Path) -> Results:
        return cls(
            peers=what_if_beside_ours(
                newest(load(results, "peers"), "server", "workload", "clients")
            ),
            storage=newest(load(results, "storage"), "database", "phase", "mode"),
            storm=newest(load(results, "storm"), "database"),
            flood=newest(load(results, "flood"), "database", "text_chars", "kind"),
            flood_reference=newest(
                load(results, "flood-reference"), "database", "text_chars", "kind"
            ),
            peers_reference=newest(
                load(results, "peers-reference"), "server", "workload", "clients"
            ),
            comments=newest(load(results, comments_bench.NAME), *comments_bench.KEYS),
            fanout=newest(load(results, fanout_bench.NAME), *fanout_bench.KEYS),
        )


def render(results: Results, plots: Sequence[Path]) -> str:
    """The generated part of the doc, between the markers (markers excluded)."""
    sections = [
        peers_section(results.peers, plots),
        before_and_after_section(results.peers, results.peers_reference),
        targets_section(
            targets(results.peers, results.storage, results.storm, results.flood, results.comments)
        ),
        storage_section(results.storage),
        storm_section(results.storm),
        flood_section(results.flood, results.flood_reference),
        comments_section(results.comments),
        fanout_bench.section(results.fanout, provenance(results.fanout, _peer_commit)),
    ]
    return "\n\n".join(section for section in sections if section)


def splice(doc: str, generated: str) -> str:
    """``doc`` with the part between the markers replaced by ``generated``."""
    if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(END) < doc.index(BEGIN):
        raise ReportError(
            f"the doc needs its report markers: the line {BEGIN!r} once, "
            f"and the line {END!r} once after it"
        )
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{generated.strip()}\n\n{END}{tail}"


def draw_plots(peers: list[dict[str, Any]], img: Path) -> list[Path]:
    """Draw the latency plots of the peers' records; return their paths."""
    from bench import plots

    return [plots.plot(n, records, img) for n, records in plots.plottable(peers, 5.0).items()]


def existing_plots(img: Path) -> list[Path]:
    return sorted(img.glob("latency-*.png"), key=lambda p: int(p.stem.split("-")[-1]))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.report",
        description="Write the tables, targets and plots of docs/benchmarks.md from the results.",
    )
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--doc", type=Path, default=DOC)
    p.add_argument("--img", type=Path, default=IMG)
    p.add_argument("--no-plots", action="store_true", help="keep the PNG plots as they are")
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the doc's generated part differs from the results",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        doc = args.doc.read_text("utf-8")
        results = Results.read(args.results)  # a broken file is named before anything is drawn
        drawn = (
            existing_plots(args.img)
            if args.no_plots or args.check
            else draw_plots(results.peers, args.img)
        )
        updated = splice(doc, render(results, drawn))
    except (OSError, ReportError) as error:
        print(f"bench.report: {error}", file=sys.stderr)
        return 2
    if args.check:
        if updated != doc:
            print(f"{args.doc} does not match {args.results}: run python -m bench.report")
            return 1
        print(f"{args.doc} matches {args.results}")
        return 0
    args.doc.write_text(updated, "utf-8")
    print(f"wrote {args.doc} ({len(drawn)} plots)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
