"""python -m eval.bench NAME [args]: run the bench module eval.bench.NAME through its main(argv)."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

HERE = Path(__file__).parent


def available() -> dict[str, str]:
    """Bench name -> first line of its docstring, for every module here that defines main()."""
    out = {}
    for path in sorted(HERE.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        # Parsed, not imported: listing must not pay for MuJoCo or the planner imports.
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            out[path.stem] = (ast.get_docstring(tree) or "").strip().split("\n")[0]
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    benches = available()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m eval.bench NAME [args]   (NAME --help for its options)\n\nbenches:")
        for name, doc in benches.items():
            print(f"  {name:<10} {doc}")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in benches:
        print(f"error: unknown bench '{name}'; available: {', '.join(benches)}", file=sys.stderr)
        return 2
    entry = importlib.import_module(f"eval.bench.{name}").main
    if inspect.signature(entry).parameters:
        entry(rest)
    else:  # an argparse main() that reads sys.argv itself
        sys.argv = [f"eval.bench.{name}", *rest]
        entry()
    return 0


if __name__ == "__main__":
    sys.exit(main())
