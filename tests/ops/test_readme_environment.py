"""Every environment variable the settings read is in the README's table of production
variables, with what it does.

The settings modules are read as source: calls of ``env``/``env_bool`` and of ``env.<type>``,
``os.environ.get``, ``os.getenv`` and ``os.environ[...]`` with a literal name, and names given
through a loop over a literal tuple (production's required variables).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = sorted((ROOT / "crm_platform" / "settings").glob("*.py"))
# Modules outside the settings that read a variable operators set in production.
OTHER_READERS = [ROOT / "crm_platform" / "backups.py"]

# Read by settings that never run in production; the README's table is for production.
NOT_PRODUCTION = {
    "PORT": "dev.py: the development server's port",
    "PYTEST_XDIST_WORKER": "test.py: set by pytest-xdist",
    "SITE_SCHEME": "base.py, for development; production.py always uses https",
}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _reads_environment(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in {"env", "env_bool"}
    if isinstance(func, ast.Attribute):
        receiver = func.value
        if isinstance(receiver, ast.Name) and receiver.id == "env":
            return True  # env.int("X"), env.bool("X"), ...
        if isinstance(receiver, ast.Name) and receiver.id == "os" and func.attr == "getenv":
            return True
        return _is_environ(receiver) and func.attr == "get"
    return False


def environment_reads(source: str) -> set[str]:
    """The variable names ``source`` reads from the environment. A read whose name is neither
    a literal, a loop variable over literals nor a helper's parameter fails: it could not be
    checked."""
    tree = ast.parse(source)
    loop_values: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and isinstance(node.iter, ast.Tuple | ast.List)
        ):
            values = [_literal(element) for element in node.iter.elts]
            if all(values):
                loop_values[node.target.id] = [v for v in values if v]

    # A helper's parameter (``def env(name, ...)``): its callers' literals are the reads.
    parameters = {
        argument.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for argument in node.args.args + node.args.kwonlyargs
    }

    def names(argument: ast.AST) -> list[str]:
        literal = _literal(argument)
        if literal is not None:
            return [literal]
        if isinstance(argument, ast.Name) and argument.id in loop_values:
            return loop_values[argument.id]
        if isinstance(argument, ast.Name) and argument.id in parameters:
            return []
        raise AssertionError(f"environment read with a computed name: {ast.unparse(argument)}")

    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and _reads_environment(node):
            found.update(names(node.args[0]))
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            found.update(names(node.slice))
    return found


def readme_variables() -> set[str]:
    """The variables named in the first column of the tables of README's production section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Run in production") :]
    section = section[: section.index("\n## ", 1)]
    variables: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|"):
            first_column = line.split("|")[1]
            variables.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_column))
    return variables


def production_reads() -> set[str]:
    read: set[str] = set()
    for path in [*SETTINGS, *OTHER_READERS]:
        read |= environment_reads(path.read_text())
    return read


def test_the_reader_sees_every_form_of_environment_read() -> None:
    source = (
        "import os\n"
        "A = env('A', '1')\n"
        "B = env_bool('B')\n"
        "C = env.int('C', default=3)\n"
        "D = os.environ.get('D')\n"
        "E = os.environ['E']\n"
        "F = os.getenv('F')\n"
        "for required in ('G', 'H'):\n"
        "    os.environ.get(required)\n"
        "I = settings.get('NOT_AN_ENVIRONMENT_READ')\n"
        "def env(name, default=None):\n"
        "    return os.environ.get(name, default)\n"
    )

    assert environment_reads(source) == {"A", "B", "C", "D", "E", "F", "G", "H"}


def test_every_variable_the_settings_read_is_in_the_readme() -> None:
    read = production_reads()

    # The scan sees the settings at all.
    assert {"SECRET_KEY", "DB_POOL_MAX_SIZE", "BILLING_RETENTION_DAYS", "PG_BIN_DIR"} <= read
    assert sorted(read - readme_variables() - NOT_PRODUCTION.keys()) == []


def test_the_exemptions_are_still_read() -> None:
    assert sorted(NOT_PRODUCTION.keys() - production_reads()) == []
