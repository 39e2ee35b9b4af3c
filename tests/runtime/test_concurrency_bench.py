"""benchmarks/concurrency.py runs and checks its own outputs (threads only: processes take
seconds each to start, and the script's full run is the benchmark itself)."""

from __future__ import annotations

import onnx

from benchmarks import concurrency

from concurrency_cases import small_cnn


def test_benchmark_table_on_a_small_model(tmp_path, capsys):
    path = tmp_path / "small.onnx"
    onnx.save(small_cnn(), path)
    assert concurrency.main(["--model", str(path), "--calls", "4", "--threads", "1,2", "--processes", "",
                             "--targets", "interpreter"]) == 0
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in capsys.readouterr().out.splitlines()
            if line.startswith("| interpreter")]
    assert [r[1] for r in rows] == ["1 thread", "2 threads"]
    for row in rows:
        assert int(row[2]) == 4 and float(row[4]) > 0 and row[6] == "0", row
