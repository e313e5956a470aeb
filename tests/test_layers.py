"""The package's layers, measured from its source: the import-linter contract holds and breaks
when a lower layer imports a higher one; no import cycle; small modules; a vendor-neutral core."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "twilio_component"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
#: What may name Twilio: the component itself, its sandbox, the command line, the package's
#: own facade and its pytest plugin. Everything else is vendor-neutral.
VENDOR_SIDE = ("twilio_component.twilio", "twilio_component.sandbox", "twilio_component.cli")
FACADES = ("twilio_component", "twilio_component.__main__", "twilio_component.testing")


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def vendor_neutral(name: str) -> bool:
    return name not in FACADES and not any(
        name == side or name.startswith(side + ".") for side in VENDOR_SIDE
    )


def lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_linter_layers_contract_is_kept() -> None:
    done = lint_imports(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "twilio_component", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "twilio_component" / "pacing.py").open("a", encoding="utf-8") as module:
        module.write("\n\ndef _up() -> None:\n    from twilio_component.campaign import send\n")
    done = lint_imports(tmp_path, tmp_path)
    assert done.returncode != 0
    assert "twilio_component.pacing is not allowed to import twilio_component.campaign" in (
        done.stdout
    )


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = grimp.build_graph("twilio_component", exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize(("name", "path"), list(modules()), ids=[n for n, _ in modules()])
def test_every_module_is_under_500_lines_and_opens_with_a_docstring(name: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= 500
    assert ast.get_docstring(ast.parse(text)), f"{name} has no docstring"


def test_vendor_neutral_modules_name_no_twilio_nor_import_its_component_or_sandbox() -> None:
    found = []
    for name, path in modules():
        if not vendor_neutral(name):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            else:
                imported = []
            found += [
                f"{name} imports {i}"
                for i in imported
                if i.startswith(("twilio_component.twilio", "twilio_component.sandbox"))
            ]
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and "twilio"
                in node.value.lower()
                .replace("twilio_component", "")
                .replace("twilio-component", "")
            ):
                found.append(f"{name} holds {node.value[:60]!r}")
    assert found == []
