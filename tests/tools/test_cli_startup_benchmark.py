"""benchmarks/cli_startup.py runs and reports both commands (its numbers are read, not asserted:
timings belong in benchmarks/, not in a timed test)."""

from __future__ import annotations

from benchmarks import cli_startup


def test_startup_benchmark_reports_every_command(capsys):
    assert cli_startup.main(["--runs", "1", "--no-precompile"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| cortado")]
    assert [r.split("|")[1].strip() for r in rows] == list(cli_startup.COMMANDS)
    for r in rows:
        wall, cpu = (float(c) for c in r.split("|")[2:4])
        assert wall > 0 and cpu > 0
