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
_SHELL = {"getoutput", "getstatusoutput"}  # a shell, no timeout possible
_WAITS = {"wait", "communicate", "join"}


def _subprocess_names(tree: ast.AST) -> tuple[set[str], dict[str, str]]:
    """How the module refers to subprocess: ``import subprocess [as sp]`` names, and the
    functions it imported by name (``from subprocess import run as r``: r -> run)."""
    modules, functions = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name == "subprocess")
        elif isinstance(node, ast.ImportFrom) and node.module == "subprocess":
            functions.update({a.asname or a.name: a.name for a in node.names})
    return modules, functions


def _literal_argv(node: ast.Call, assigned: dict[str, ast.expr]) -> ast.expr | None:
    argv = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "args"), None)
    if isinstance(argv, ast.Name):  # cmd = ["python", ...]; subprocess.run(cmd)
        argv = assigned.get(argv.id, argv)
    return argv


def _starts_python(argv: ast.expr | None) -> bool:
    if isinstance(argv, (ast.List, ast.Tuple)) and argv.elts:
        first = argv.elts[0]
        return isinstance(first, ast.Constant) and str(first.value).split("/")[-1].startswith("python")
    if isinstance(argv, ast.Constant) and isinstance(argv.value, str):  # a shell string
        return argv.value.lstrip().startswith("python")
    return False


def _no_timeout(node: ast.Call) -> bool:
    given = next((k.value for k in node.keywords if k.arg == "timeout"), None)
    return given is None or (isinstance(given, ast.Constant) and given.value is None)


def _problems(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    modules, functions = _subprocess_names(tree)
    assigned = {
        t.id: n.value for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, at = node.func, f"{where}:{node.lineno}"
        name = None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
            name = func.attr
        elif isinstance(func, ast.Name) and func.id in functions:
            name = functions[func.id]
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "os":
            if func.attr in ("system", "popen"):
                found.append(f"{at}: os.{func.attr}() has no timeout; use subprocess.run(..., timeout=)")
            continue
        if name in _RUNS | {"Popen"}:
            if _starts_python(_literal_argv(node, assigned)):
                found.append(f"{at}: starts python from PATH; use sys.executable")
            if name in _RUNS and _no_timeout(node):
                found.append(f"{at}: subprocess.{name}() without timeout=")
        elif name in _SHELL:
            found.append(f"{at}: subprocess.{name}() has no timeout; use subprocess.run(..., timeout=)")
        elif isinstance(func, ast.Attribute) and func.attr in _WAITS and name is None:
            positional = node.args[0] if node.args else None
            if (positional is None and _no_timeout(node)) or (
                isinstance(positional, ast.Constant) and positional.value is None
            ):
                found.append(f"{at}: .{func.attr}() without a timeout")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import subprocess\nsubprocess.run(['python', '-c', 'pass'], timeout=5)",
        "import subprocess\nsubprocess.run([sys.executable], timeout=None)",
        "import subprocess\nsubprocess.check_output([sys.executable])",
        "import subprocess as sp\nsp.run(['python3'], timeout=5)",
        "from subprocess import run\nrun(['/usr/bin/python3'], timeout=5)",
        "from subprocess import run as go\ngo([sys.executable])",
        "import subprocess\ncmd = ['python', 'x.py']\nsubprocess.Popen(cmd)",
        "import subprocess\nsubprocess.run('python x.py', shell=True, timeout=5)",
        "import subprocess\nsubprocess.getoutput('ls')",
        "import os\nos.system('ls')",
        "p.wait()",
        "p.wait(None)",
        "p.communicate(timeout=None)",
        "t.join()",
    ],
)
def test_the_checker_finds_each_kind_of_hole(source: str) -> None:
    assert len(_problems(source, "x")) == 1, source


def test_the_checker_accepts_the_right_forms() -> None:
    good = (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'pass'], timeout=5)\n"
        "p = subprocess.Popen([sys.executable])\n"
        "p.wait(timeout=5)\n"
        "p.communicate(timeout=5)\n"
        "t.join(5)\n"
        "', '.join(parts)\n"  # str.join takes an argument: not a wait
        "os.path.join('a', 'b')\n"
    )
    assert _problems(good, "x") == []


@pytest.mark.parametrize("path", sorted(TESTS.rglob("*.py")), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_test_starts_python_from_path_or_waits_forever(path: Path) -> None:
    assert _problems(path.read_text(), path.name) == []


def test_a_test_that_hangs_fails_instead_of_hanging_the_suite(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("timeout"), "pytest-timeout is in the test extra"
    assert float(pytestconfig.getini("timeout")) > 0
