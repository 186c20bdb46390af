"""hypertune compare on a cheap analytic objective: the table and plot agree with MLflow."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from tests.conftest import TEMPLATES


def test_compare_writes_a_table_and_plot_that_agree_with_the_runs(
    run_cli, tracker, tmp_path
) -> None:
    out = tmp_path / "cmp"
    result = run_cli(
        "compare",
        TEMPLATES / "branin.py",
        "--algos",
        "tpe,rand,anneal,grid",
        "--grid-points",
        "3",
        "--max-evals",
        "8",
        "--repeats",
        "2",
        "--target",
        "20",
        "--n-startup-jobs",
        "3",
        "--seed",
        "10",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    table = (out / "compare.md").read_text()
    assert table.strip() == result.stdout.split("\n\n")[0].strip()
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    [parent] = tracker.search("tags.`hypertune.role` = 'compare'")
    artifacts = {a.path for a in tracker.client.list_artifacts(parent.info.run_id)}
    assert {"compare.md", "compare.png"} <= artifacts
    children = tracker.search(f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for child in children:
        tags = child.data.tags
        key = (tags["hypertune.compare.algorithm"], tags["hypertune.compare.seed"])
        series[key].append((int(tags["hypertune.trial"]), child.data.metrics["value"]))
    assert sorted(series) == [
        ("anneal", "10"),
        ("anneal", "11"),
        ("grid", "10"),
        ("rand", "10"),
        ("rand", "11"),
        ("tpe", "10"),
        ("tpe", "11"),
    ]
    assert all(len(trials) == 8 for trials in series.values()), "every run uses the budget"

    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in table.splitlines()[2:]
    }
    assert set(rows) == {"tpe", "rand", "anneal", "grid"}
    for algo, cells in rows.items():
        curves = []
        for (name, _), trials in series.items():
            if name == algo:
                values = [v for _, v in sorted(trials)]
                curves.append([min(values[: i + 1]) for i in range(len(values))])
        assert cells[0] == str(len(curves))
        for column, budget in zip(cells[1:4], (2, 4, 8), strict=True):
            assert float(column) == round(statistics.median(c[budget - 1] for c in curves), 4)
        needed = [next((i + 1 for i, b in enumerate(c) if b <= 20), math.inf) for c in curves]
        median = statistics.median(needed)
        assert cells[4] == ("not reached" if math.isinf(median) else f"{median:g}")


def test_compare_refuses_an_unknown_algorithm(run_cli) -> None:
    result = run_cli(
        "compare", TEMPLATES / "branin.py", "--algos", "tpe,magic", "--max-evals", "3"
    )
    assert result.exit_code == 2
    assert "unknown algorithm 'magic'" in result.stderr
