"""The layout's measurable rules, checked by ./scripts/check beside import-linter's layers:
no import cycle among product modules (lazy and TYPE_CHECKING imports included), no
write to the job tables outside `models/store/`, no product module over 300 lines, and
short functions (median <= 10 lines, p90 <= 25)."""

from __future__ import annotations

import ast
import re
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

PRODUCT = ("errand", "bot", "worker", "models", "console")
PACKAGES = (*PRODUCT, "sandbox")  # no cycles anywhere; sizes only for product code
MAX_MODULE_LINES = 300
MAX_MEDIAN, MAX_P90 = 10, 25
STORE = Path("models/store")
TABLES = r"(jobs|attempts|events|notices|Job|Attempt|Event|Notice)"
WRITE = re.compile(rf"\b(update|insert|delete)\({TABLES}\b|\bsession\.(add|delete|merge)\(")


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    graph = grimp.build_graph(*PACKAGES)
    modules = sorted(m for m in graph.modules if m.split(".")[0] in PACKAGES)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & set(modules)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for module in modules:
        if module not in index:
            visit(module)
    return found


def product_files() -> Iterator[Path]:
    for package in PRODUCT:
        for path in sorted(Path(package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def function_lengths(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    return [(f.end_lineno or f.lineno) - f.lineno + 1 for f in functions]


def main() -> int:
    problems = [f"import cycle: {' -> '.join(group)}" for group in cycles()]
    lengths: list[int] = []
    for path in product_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{path}: {lines} lines (at most {MAX_MODULE_LINES})")
        lengths.extend(function_lengths(path))
        if STORE not in path.parents and WRITE.search(path.read_text(encoding="utf-8")):
            problems.append(f"{path}: writes a job table outside {STORE}/")
    lengths.sort()
    median, p90 = statistics.median(lengths), lengths[int(len(lengths) * 0.9)]
    if median > MAX_MEDIAN or p90 > MAX_P90:
        problems.append(f"functions: median {median}, p90 {p90} lines (at most 10 and 25)")
    for problem in problems:
        print(f"layout: {problem}", file=sys.stderr)
    print(f"layout: {len(lengths)} functions, median {median}, p90 {p90} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
