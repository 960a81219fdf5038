"""Size rules for the source tree: no module over 400 lines, no function
over 50 (migrations aside). `make lint` runs it; it prints each offender
with its length and exits 1 when there is one."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "watchers", "bridges", "api", "scripts", "tests")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def sources() -> list[Path]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return sorted(p for p in files if "migrations" not in p.parts and "node_modules" not in p.parts)


def offenders(path: Path) -> list[str]:
    text = path.read_text()
    rel = path.relative_to(ROOT)
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{rel}: module has {lines} lines (max {MAX_MODULE_LINES}); split it by concern")
    for node in ast.walk(ast.parse(text, filename=str(rel))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    f"{rel}:{node.lineno}: function {node.name} has {length} lines (max {MAX_FUNCTION_LINES})"
                )
    return found


def main() -> int:
    problems = [line for path in sources() for line in offenders(path)]
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
