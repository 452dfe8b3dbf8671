"""The comments benchmark: its comments, its rounds, its figures, its table and its report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import comments, report
from bench.common import SAMPLE

MACHINE = {"nproc": 2, "cpu": "Test CPU", "memory_gib": 4.0, "python": "3.11.7"}
COMMON = {
    "database": "sqlite",
    "default_mapping": "lazy",
    "pinned": True,
    "date": "2026-12-04T08:00:00+00:00",
    "commit": "abc1234",
    "machine": MACHINE,
}


def _run(mapping: str, count: int, p99: float, revisions: int, cpu: float) -> comments.EditRun:
    """A run whose 100 round trips are 1 ms, but for one of ``p99`` ms (its p99)."""
    return comments.EditRun(
        mapping=mapping,
        comments=count,
        round_trips_ms=[1.0] * 98 + [p99, p99 + 1],
        unacknowledged_ms=[],
        revisions=revisions,
        server_cpu_s=cpu,
        other_cpu_s=0.1,
        window_s=10.0,
    )


def _edit_records(lazy_500: tuple[float, float], eager_500: tuple[float, float]) -> list[dict]:
    """Records of the four configurations: (p99 ms, edits per CPU-s) with 500 comments."""
    settings = comments.Settings()
    found = []
    for mapping, with_comments in (("lazy", lazy_500), ("eager", eager_500)):
        for count, (p99, rate) in ((0, (10.0, 600.0)), (500, with_comments)):
            runs = [_run(mapping, count, p99, int(rate), 1.0) for _ in range(3)]
            found.append(comments.summarise_edits(runs, settings, COMMON))
    return comments.with_ratios(found)


def _read_records() -> list[dict]:
    figures = {
        "lazy": ((1000, 590.0, 460.0, 560.0), (5000, 2330.0, 2270.0, 2300.0), (0, 45.0, 12.0, 9.0)),
        "eager": ((1000, 91.0, 25.0, 20.0), (5000, 128.0, 22.0, 18.0), (0, 90.0, 21.0, 17.0)),
    }
    reads = [
        comments.Read(
            mapping=mapping,
            comments=500,
            after=after,
            unread=after,
            wall_ms=wall,
            server_cpu_ms=cpu,
            edit_wait_ms=wait,
            threads=500,
            at_head=True,
        )
        for mapping, rows in figures.items()
        for after, wall, cpu, wait in rows
    ]
    return comments.summarise_reads(reads, comments.Settings(writers=10), COMMON)


# -- the comments ----------------------------------------------------------------------------


def test_the_comments_are_spread_over_the_whole_sample_text():
    length = len(SAMPLE.read_text("utf-8"))
    ranges = comments.spread(length, 500)

    assert len(ranges) == 500
    assert all(0 <= start < end <= length for start, end in ranges)
    assert all(end - start <= comments.LONGEST for start, end in ranges)
    starts = [start for start, _ in ranges]
    assert starts == sorted(starts)
    assert starts[0] == 0
    assert starts[-1] >= length - length // 500 - 1  # up to the end of the text
    assert comments.spread(length, 500) == ranges  # the same in every run


def test_more_comments_than_characters_still_cover_at_least_one_each():
    ranges = comments.spread(3, 10)

    assert len(ranges) == 10
    assert all(0 <= start < end <= 3 for start, end in ranges)
    with pytest.raises(ValueError):
        comments.spread(0, 1)


# -- the rounds -------------------------------------------------------------------------------


def test_every_round_runs_every_configuration_once_in_a_rotated_order():
    configurations = comments.Settings(comments=500).configurations

    assert configurations == [("lazy", 0), ("lazy", 500), ("eager", 0), ("eager", 500)]
    found = comments.rounds(configurations, 5)
    assert len(found) == 5
    assert all(sorted(order) == sorted(configurations) for order in found)
    assert [order[0] for order in found] == [*configurations, configurations[0]]


# -- the figures ------------------------------------------------------------------------------


def test_a_record_holds_the_medians_of_its_runs_and_every_run():
    settings = comments.Settings(clients=10, rate=5.0, seconds=14.0)
    runs = [
        _run("eager", 500, p99, revisions, cpu)
        for p99, revisions, cpu in ((30.0, 600, 3.0), (20.0, 600, 2.0), (400.0, 600, 4.0))
    ]
    record = comments.summarise_edits(runs, settings, COMMON)

    assert record["part"] == "edit"
    assert (record["mapping"], record["comments"]) == ("eager", 500)
    assert record["p99_ms_runs"] == [30.0, 20.0, 400.0]
    assert record["p99_ms"] == 30.0  # the median: one disturbed round does not decide
    assert record["edits_per_cpu_s_runs"] == [200.0, 300.0, 150.0]
    assert record["edits_per_cpu_s"] == 200.0
    assert record["edits"] == 300
    assert record["revisions"] == 1800
    assert record["runs"] == 3
    assert record["date"] == COMMON["date"]


def test_the_ratios_are_to_the_same_mapping_without_comments():
    records = _edit_records(lazy_500=(10.5, 590.0), eager_500=(30.0, 200.0))
    by = {(r["mapping"], r["comments"]): r for r in records}

    assert by[("lazy", 500)]["p99_ratio"] == 1.05
    assert by[("lazy", 500)]["edits_per_cpu_s_ratio"] == 0.98
    assert by[("lazy", 500)]["target_met"] is True
    assert by[("eager", 500)]["p99_ratio"] == 3.0
    assert by[("eager", 500)]["edits_per_cpu_s_ratio"] == 0.33
    assert by[("eager", 500)]["target_met"] is False
    assert by[("lazy", 0)]["p99_ratio"] == 1.0


@pytest.mark.parametrize(
    ("p99_ratio", "rate_ratio", "met"),
    [
        (1.10, 0.90, True),
        (1.11, 1.00, False),
        (1.00, 0.89, False),
        (0.80, 1.30, True),
        (None, 1.00, None),
    ],
)
def test_the_target_allows_ten_percent_on_the_worse_side_of_each(p99_ratio, rate_ratio, met):
    assert comments.target_met(p99_ratio, rate_ratio) is met


def test_reads_are_recorded_by_mapping_and_unread_revisions():
    records = {(r["mapping"], r["after_revisions"]): r for r in _read_records()}

    assert len(records) == 6
    lazy = records[("lazy", 5000)]
    assert lazy["part"] == "read"
    assert lazy["read_ms"] == 2330.0
    assert lazy["server_cpu_ms"] == 2270.0
    assert lazy["edit_wait_ms"] == 2300.0
    assert lazy["revisions_unread"] == 5000
    assert lazy["at_head"] is True
    assert records[("eager", 0)]["read_ms"] == 90.0


def test_a_read_without_a_measurement_is_recorded_as_none():
    assert comments._ms(math.nan) is None
    assert math.isnan(comments._median([]))
    assert comments._median([3.0, math.nan, 1.0, 2.0]) == 2.0


# -- the table --------------------------------------------------------------------------------


def test_the_tables_put_lazy_first_and_the_read_with_nothing_unread_last(capsys):
    records = [*_edit_records((10.5, 590.0), (30.0, 200.0)), *_read_records()]

    comments.print_results(list(reversed(records)))

    lines = capsys.readouterr().out.splitlines()
    edit_rows = [line for line in lines[2:6]]
    assert [row.split("|")[1].strip() for row in edit_rows] == ["lazy", "lazy", "eager", "eager"]
    assert "(baseline)" in edit_rows[0]
    assert "**no**" in edit_rows[3]
    read_rows = lines[9:]
    assert [row.split("|")[3].strip() for row in read_rows] == [
        "1,000",
        "5,000",
        "0",
        "1,000",
        "5,000",
        "0",
    ]


def test_a_row_shows_each_run_and_the_median():
    (record,) = [r for r in _edit_records((10.5, 590.0), (30.0, 200.0)) if r["comments"] == 500][:1]
    row = comments.edit_row(record)

    assert row[:4] == ["lazy", "500", "1.0", "10.5"]
    assert row[4] == "10.5 / 10.5 / 10.5"
    assert row[7:10] == ["1.05×", "0.98×", "yes"]
    assert len(row) == len(comments.EDIT_HEADERS) == len(comments.EDIT_ALIGN)
    assert len(comments.read_row(_read_records()[0])) == len(comments.READ_HEADERS)


# -- the report -------------------------------------------------------------------------------


def _results(tmp_path: Path, records: list[dict]) -> Path:
    results = tmp_path / "results"
    results.mkdir()
    (results / f"{comments.NAME}.json").write_text(json.dumps(records), "utf-8")
    return results


def test_the_report_shows_both_tables_and_the_target_of_the_default_mapping(tmp_path):
    records = [*_edit_records((10.5, 590.0), (30.0, 200.0)), *_read_records()]
    results = report.Results.read(_results(tmp_path, records))

    generated = report.render(results, plots=[])

    assert "## Comments: carrying their anchors lazily or eagerly" in generated
    assert "| lazy | 500 | 1.0 | 10.5 | 10.5 / 10.5 / 10.5 | 590 |" in generated
    assert "| lazy | 500 | 5,000 | 2,330.0 | 2,270.0 | 2,300.0 | 500 | yes |" in generated
    assert 'commit `abc1234` on 2026-12-04, 2 vCPUs ("Test CPU")' in generated
    assert "one more client types every 5 ms" in generated
    target = report.comments_target(results.comments)
    assert target.name == (
        "with 500 comments, the edit path's p99 and edits per CPU-second within 10% of without"
    )
    assert target.measured == (
        "lazy (the default): p99 1.05×, edits / CPU-s 0.98× / eager: p99 3.00×, edits / CPU-s 0.33×"
    )
    assert target.met is True


def test_the_target_follows_the_default_the_records_name():
    records = [
        {**r, "default_mapping": "eager"} for r in _edit_records((10.5, 590.0), (30.0, 200.0))
    ]
    target = report.comments_target(records)

    assert target.met is False
    assert "eager (the default)" in target.measured


def test_without_records_the_section_says_how_to_make_them(tmp_path):
    assert "run `python -m bench comments`" in report.comments_section([])
    assert report.comments_target([]).met is None


# -- the command line -------------------------------------------------------------------------


def test_quick_changes_only_the_defaults():
    quick = comments.settings_of(comments.parser().parse_args(["--quick", "--clients", "4"]))
    full = comments.settings_of(comments.parser().parse_args([]))

    assert (quick.clients, quick.runs, quick.comments, quick.reads) == (4, 1, 50, (50, 100))
    assert (full.clients, full.runs, full.comments, full.reads) == (10, 3, 500, (1000, 5000))
    assert full.runs >= 3


@pytest.mark.parametrize(
    "argv", [["--runs", "0"], ["--comments", "0"], ["--rate", "0"], ["--writers", "0"]]
)
def test_impossible_settings_are_refused(argv, capsys):
    assert comments.main([*argv, "--no-save"]) == 2


@pytest.mark.slow
def test_a_quick_run_measures_every_configuration_and_both_reads(tmp_path, capsys):
    output = tmp_path / "comments.json"

    status = comments.main(["--quick", "--output", str(output)])

    records = json.loads(output.read_text("utf-8"))
    assert status == 0, capsys.readouterr().err
    edits = {(r["mapping"], r["comments"]): r for r in records if r["part"] == "edit"}
    assert set(edits) == {("lazy", 0), ("lazy", 50), ("eager", 0), ("eager", 50)}
    assert all(r["edits"] > 0 and r["unacknowledged"] == 0 for r in edits.values())
    assert all(r["edits_per_cpu_s"] and r["p99_ms"] for r in edits.values())
    assert all(r["server_log_errors"] == 0 for r in records)
    reads = {(r["mapping"], r["after_revisions"]): r for r in records if r["part"] == "read"}
    assert set(reads) == {(m, n) for m in ("lazy", "eager") for n in (50, 100, 0)}
    assert all(r["at_head"] and r["threads"] == 50 for r in reads.values())
    assert all(r["edit_wait_ms"] is not None for r in reads.values())
    assert reads[("lazy", 100)]["revisions_unread"] >= 90
    # Nothing unread but the revisions of the client typing during the reads.
    assert reads[("eager", 0)]["revisions_unread"] < reads[("eager", 50)]["revisions_unread"]
