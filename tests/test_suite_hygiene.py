"""The suite itself: every child process is this interpreter, and nothing waits without a limit.

A test that starts ``"python"`` from PATH runs another environment's interpreter (or none) when
the suite is run as ``venv/bin/python -m pytest`` without activating the venv; a wait without a
timeout then hangs CI instead of failing one test. pytest-timeout (pyproject.toml) is the net
under this; these checks keep the holes from being written in the first place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
_RUNS = {"run", "check_output", "check_call", "call"}
_WAITS = {"wait", "communicate", "join"}


def _problems(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        keywords = {k.arg for k in node.keywords}
        at = f"{where}:{node.lineno}"
        if isinstance(owner, ast.Name) and owner.id == "subprocess" and name in _RUNS | {"Popen"}:
            argv = node.args[0] if node.args else None
            if isinstance(argv, (ast.List, ast.Tuple)) and argv.elts:
                first = argv.elts[0]
                if isinstance(first, ast.Constant) and str(first.value).startswith("python"):
                    found.append(f"{at}: starts {first.value!r} from PATH; use sys.executable")
            if name in _RUNS and "timeout" not in keywords:
                found.append(f"{at}: subprocess.{name}() without timeout=")
        elif name in _WAITS and not node.args and "timeout" not in keywords:
            found.append(f"{at}: .{name}() without a timeout")
    return found


def test_the_checker_finds_each_kind_of_hole() -> None:
    bad = (
        "import subprocess\n"
        "subprocess.run(['python', '-c', 'pass'])\n"
        "p = subprocess.Popen(['python3'])\n"
        "p.wait()\n"
        "p.communicate()\n"
        "t.join()\n"
    )
    assert len(_problems(bad, "x")) == 6
    good = (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'pass'], timeout=5)\n"
        "p = subprocess.Popen([sys.executable])\n"
        "p.wait(timeout=5)\n"
        "p.communicate(timeout=5)\n"
        "t.join(5)\n"
        "', '.join(parts)\n"  # str.join takes an argument: not a wait
    )
    assert _problems(good, "x") == []


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_no_test_starts_python_from_path_or_waits_forever(path: Path) -> None:
    assert _problems(path.read_text(), path.name) == []


def test_a_test_that_hangs_fails_instead_of_hanging_the_suite(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("timeout"), "pytest-timeout is in the test extra"
    assert float(pytestconfig.getini("timeout")) > 0
