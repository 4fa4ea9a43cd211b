"""infra/build-image.sh lays out what the production image holds, without a Docker engine.

The PostgreSQL client (pg_dump, psql) is a system package, not a file of the tree, and this
test cannot install system packages: it runs the script with SKIP_SYSTEM_PACKAGES=1, so it
does NOT prove pg_dump is present. Instead it checks that the Dockerfile and the script both
install postgresql-client-<major> from PGDG, with the major of the RDS engine_version, and
point PG_BIN_DIR at it.
"""

from __future__ import annotations

import os
import re
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
    env = dict(
        os.environ,
        UV=UV,
        UV_COMPILE_BYTECODE="0",
        UV_LINK_MODE="hardlink",
        SKIP_SYSTEM_PACKAGES="1",
    )
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
    assert "postgresql-client-16 not installed" in build.stderr

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


def _server_major() -> str:
    database = (ROOT / "terraform" / "modules" / "database" / "main.tf").read_text()
    engine = re.search(r'engine_version\s*=\s*"(\d+)', database)
    assert engine, "engine_version not found"
    return engine.group(1)


def test_the_image_and_the_script_install_the_servers_postgresql_client():
    major = _server_major()
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text()
    script = (ROOT / "infra" / "build-image.sh").read_text()
    runtime = dockerfile[dockerfile.index("AS runtime") :]

    assert re.search(rf"^ARG PG_MAJOR={major}$", dockerfile, re.M)
    assert 'install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"' in runtime
    assert "PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin" in runtime
    assert f'pg_major="${{PG_MAJOR:-{major}}}"' in script
    assert 'install -y --no-install-recommends "postgresql-client-$pg_major"' in script
    for text in (runtime, script):
        assert "https://apt.postgresql.org/pub/repos/apt" in text
        assert "signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc" in text


def test_the_script_refuses_a_machine_without_the_client(tmp_path):
    # Without apt-get on PATH (or not root) the script cannot install the client, and it must
    # not lay out an image tree without it. A major version no machine has makes the check
    # deterministic.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("mkdir", "dirname", "id"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    env = dict(os.environ, PG_MAJOR="99", PATH=str(tools))
    bash = shutil.which("bash") or "/bin/bash"
    dest = tmp_path / "image"
    build = subprocess.run(  # noqa: S603
        [bash, str(ROOT / "infra" / "build-image.sh"), str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert build.returncode == 1
    assert "/usr/lib/postgresql/99/bin/pg_dump is missing" in build.stderr
    assert not (dest / "opt").exists()
    assert not (dest / "app").exists()
