#!/usr/bin/env python3
"""No function may be longer than LIMIT lines (default 80), from its first line to its last.

  check_function_length.py [LIMIT]

Long functions are where changes go wrong; split them into named steps. Every function the
repository tracks is counted, each by a parser of its own language:
  C++ (src/, include/, tests/)   universal-ctags' end lines (--fields=+ne)
  Python (*.py)                  the ast module's end_lineno
  shell (*.sh, *.sbatch)         shfmt's syntax tree (--tojson): Debian's ctags gives no end
                                 line for shell functions
"""
import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return [p for p in out.splitlines() if (ROOT / p).is_file()]


def cpp_functions(files):
    if not files:
        return
    out = subprocess.run(["ctags", "--fields=+ne", "--kinds-C++=f", "-o", "-", *files], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split("\t")
        extra = dict(f.split(":", 1) for f in fields[3:] if ":" in f)
        if "line" in extra and "end" in extra:
            yield fields[1], fields[0], int(extra["line"]), int(extra["end"])


def python_functions(files):
    for path in files:
        tree = ast.parse((ROOT / path).read_text(), filename=path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node.name, node.lineno, node.end_lineno


def shell_functions(files):
    for path in files:
        source = (ROOT / path).read_text()
        tree = subprocess.run(["shfmt", "--tojson"], input=source, check=True,
                              capture_output=True, text=True).stdout
        yield from (
            (path, name, first, last) for name, first, last in shell_declarations(json.loads(tree)))


def shell_declarations(node):
    if isinstance(node, dict):
        if node.get("Type") == "FuncDecl":
            yield node["Name"]["Value"], node["Pos"]["Line"], node["End"]["Line"]
        for value in node.values():
            yield from shell_declarations(value)
    elif isinstance(node, list):
        for value in node:
            yield from shell_declarations(value)


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    functions = [
        *cpp_functions(tracked("*.cpp", "*.h")),
        *python_functions(tracked("*.py")),
        *shell_functions(tracked("*.sh", "*.sbatch")),
    ]
    long = [f for f in functions if f[3] - f[2] + 1 > limit]
    for path, name, first, last in long:
        print(f"{path}:{first} {name}: {last - first + 1} lines")
    if long:
        print(f"{len(long)} function(s) longer than {limit} lines")
        return 1
    print(f"OK: all {len(functions)} functions (C++, Python, shell) are at most {limit} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
