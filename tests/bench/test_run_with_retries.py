"""A benchmark run disturbed by other work on the machine is made again, a bounded number
of times."""

from __future__ import annotations

from types import SimpleNamespace

from bench.realtime import run_with_retries


def _run(disturbed: bool) -> SimpleNamespace:
    return SimpleNamespace(
        disturbed=disturbed,
        other_cpu_s=0.5,
        window_s=1.0,
        errors=[],
        refusals=0,
        converged=True,
        missing_pairs=0,
    )


def test_a_disturbed_run_is_made_again_and_the_undisturbed_one_kept(capsys):
    made = iter([_run(True), _run(False), _run(True)])
    kept = run_with_retries(lambda: next(made), retries=2)
    assert kept.disturbed is False
    assert "disturbed: other work used 0.50 cores; again" in capsys.readouterr().err


def test_retries_are_bounded_and_the_last_run_is_kept(capsys):
    calls = []

    def measure():
        calls.append(1)
        return _run(True)

    kept = run_with_retries(measure, retries=2)
    assert len(calls) == 3 and kept.disturbed is True
    assert capsys.readouterr().err.count("again") == 2  # not after the last one
