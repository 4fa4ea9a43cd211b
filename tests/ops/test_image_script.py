"""infra/build-image.sh lays out what the production image holds, without a Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.platform.test_security import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or str(ROOT / ".venv-tools" / "bin" / "uv")


def test_the_image_steps_run_as_a_plain_script(tmp_path):
    # `make test` installs uv itself (the Makefile's first step), so it is always there.
    assert Path(UV).exists(), f"uv not found at {UV}: run the suite through `make test`"
    env = dict(os.environ, UV=UV, UV_COMPILE_BYTECODE="0", UV_LINK_MODE="hardlink")
    build = subprocess.run(  # noqa: S603
        [
            shutil.which("bash") or "/bin/bash",
            str(ROOT / "infra" / "build-image.sh"),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stderr

    app = tmp_path / "app"
    python = tmp_path / "opt" / "venv" / "bin" / "python"
    # What .dockerignore leaves out is not in the image; static files are collected.
    for absent in ("tests", "docs", "terraform", "bench", ".git", ".venv"):
        assert not (app / absent).exists(), absent
    assert (app / "staticfiles" / "staticfiles.json").is_file()
    # Runtime dependencies only: the development group is not installed.
    for module, present in (("django", True), ("uvicorn", True), ("pytest", False)):
        probe = subprocess.run(  # noqa: S603
            [str(python), "-c", f"import {module}"], capture_output=True, check=False
        )
        assert (probe.returncode == 0) is present, module
    # The production settings start in that tree.
    check = subprocess.run(  # noqa: S603
        [str(python), "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=app,
        env={"PATH": f"{python.parent}:/usr/bin:/bin", **PRODUCTION_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert sys.executable != str(python)
