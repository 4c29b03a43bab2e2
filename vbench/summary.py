"""Terminal summary table printed at the end of `vbench eval`."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from vbench.registry import TASKS
from vbench.results import RunResults


def _fmt(value) -> str:
    if isinstance(value, dict):
        v, lo, hi = value.get("value"), value.get("ci_low"), value.get("ci_high")
        if v is None:
            return "n/a"
        text = f"{v:.3f}"
        if lo is not None and hi is not None:
            text += f" [{lo:.3f}, {hi:.3f}]"
        return text
    return str(value)


def print_summary(results: dict[str, RunResults], output_path, console: Console | None = None) -> None:
    console = console or Console(width=140)
    table = Table(title="vbench results")
    for col in ("task", "model", "metric", "value [95% CI]", "n"):
        table.add_column(col)
    for name, res in results.items():
        task_cls = TASKS.get(name)
        rows = list(task_cls.summary_rows(res.metrics))
        for metric, value in rows:
            n = value.get("n", "") if isinstance(value, dict) else ""
            table.add_row(name, res.model.model_id, metric, _fmt(value), str(n))
        c = res.counts
        table.add_row(name, res.model.model_id, "episodes ok / error",
                      f"{c.n_ok} / {c.n_error}" + (f"  (parse failures {c.parse_failure_rate:.1%})"
                                                   if c.parse_failure_rate is not None else ""), "")
    console.print(table)
    console.print(f"results written under {output_path}/")
