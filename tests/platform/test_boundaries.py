"""Module boundaries (import-linter, run by `make check`): the contracts hold on the real tree,
and each contract really fails on an import that crosses it (checked on a small tree built
here, with the project's own contract file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run(  # noqa: S603 - fixed arguments
        [*LINT, "--config", str(CONFIG), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _tree(tmp_path: Path, imports: dict[str, str]) -> Path:
    files = {
        "crm_platform/__init__.py": "",
        "tenants/__init__.py": "",
        "billing/__init__.py": "",
        "crm_modules/__init__.py": "",
        "crm_modules/sales/__init__.py": "",
        "crm_modules/sales/api.py": "from crm_modules.sales import models\n",
        "crm_modules/sales/models.py": "",
        "crm_modules/service/__init__.py": "",
        "crm_modules/service/views.py": "",
    }
    for path, line in imports.items():
        files[path] = files.get(path, "") + line + "\n"
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def test_the_project_keeps_its_contracts() -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [*LINT, "--config", str(CONFIG), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


def test_a_module_may_use_another_modules_facade(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"crm_modules/service/views.py": "from crm_modules.sales import api"})
    result = _lint(tree)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("path", "line", "contract"),
    [
        (
            "crm_modules/service/views.py",
            "from crm_modules.sales import models",
            "CRM modules import each other only through each other's api.py BROKEN",
        ),
        (
            "tenants/__init__.py",
            "from crm_modules.sales import api",
            "The tenancy core and the platform kernel import no CRM module BROKEN",
        ),
        (
            "crm_platform/__init__.py",
            "import crm_modules.sales.models",
            "The tenancy core and the platform kernel import no CRM module BROKEN",
        ),
        (
            "billing/__init__.py",
            "from crm_modules.sales import api",
            "Billing imports no CRM module BROKEN",
        ),
        (
            "tenants/__init__.py",
            "import billing",
            "The tenancy core does not depend on billing (billing builds on it) BROKEN",
        ),
    ],
)
def test_an_import_across_a_boundary_fails(
    tmp_path: Path, path: str, line: str, contract: str
) -> None:
    result = _lint(_tree(tmp_path, {path: line}))
    assert result.returncode == 1
    assert contract in result.stdout
