"""What every benchmark shares: machine facts, percentiles, printing and the --json format."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def machine(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo")
    mem_gib = None
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        mem_gib = round(int(first[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **(extra or {}),
    }


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated between samples."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


@dataclass
class Report:
    benchmark: str
    machine: dict[str, Any]
    figures: dict[str, float] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def figure(self, name: str, value: float) -> None:
        self.figures[name] = round(value, 4)

    def target(self, name: str, value: float, op: str, target: float) -> None:
        self.targets.append({"name": name, "value": round(value, 4), "op": op, "target": target})

    def met(self, t: dict[str, Any]) -> bool:
        return bool(t["value"] >= t["target"] if t["op"] == ">=" else t["value"] <= t["target"])

    def print(self) -> None:
        figures = Table(title=f"{self.benchmark}: figures")
        figures.add_column("figure")
        figures.add_column("value", justify="right")
        for name, value in self.figures.items():
            figures.add_row(name, f"{value:,.3f}")
        console.print(figures)
        targets = Table(title=f"{self.benchmark}: targets")
        for col in ("target", "value", "goal", "met"):
            targets.add_column(col)
        for t in self.targets:
            targets.add_row(
                t["name"], f"{t['value']:,.3f}", f"{t['op']} {t['target']}", "yes" if self.met(t) else "NO"
            )
        console.print(targets)

    def finish(self, json_path: Path | None) -> None:
        """Print the tables; write the JSON when asked."""
        self.print()
        if json_path is not None:
            self.write(json_path)

    def write(self, path: Path) -> None:
        body = {
            "benchmark": self.benchmark,
            "machine": self.machine,
            "figures": self.figures,
            "targets": self.targets,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=2) + "\n")
