"""The import graph: the database toolbox stands alone, the edge and the worker share only the
database contract, and the local stack is the one place that knows them all."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN = {"db", "edge", "jobs", "stack"}
# What each package may import of the project's own packages.
ALLOWED = {"db": {"db"}, "edge": {"edge"}, "jobs": {"jobs"}, "stack": {"stack", "db", "edge", "jobs"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OWN


def test_each_package_imports_only_what_it_may() -> None:
    checked = 0
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            checked += 1
            extra = imported_packages(path) - allowed
            assert not extra, f"{path.relative_to(ROOT)} imports {sorted(extra)}"
    assert checked > 20, "the packages went missing"


def test_the_stack_starts_its_processes_from_one_table() -> None:
    from stack.processes import PROCESSES

    assert [p.name for p in PROCESSES][:3] == ["postgres", "redis", "edge"]
    assert len({p.name for p in PROCESSES}) == len(PROCESSES)
