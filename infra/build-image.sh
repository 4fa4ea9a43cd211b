#!/usr/bin/env bash
# The steps of infra/Dockerfile as a plain script, for machines without a Docker engine and for
# CI (tests/ops/test_image_script.py). It lays out in DEST what the image holds:
#   DEST/opt/venv  the locked runtime dependencies (no development group, no build tools)
#   DEST/app       the code, without what .dockerignore leaves out, and the collected static files
#   and, like the image's runtime stage, the PostgreSQL client of the server's major version
#   (postgresql-client-$PG_MAJOR from PGDG) on the machine itself: pg_dump and psql are system
#   packages, not files of the tree. As root with apt-get it installs them; otherwise it
#   requires them under /usr/lib/postgresql/$PG_MAJOR/bin. SKIP_SYSTEM_PACKAGES=1 skips this
#   step (the Python-only test of the tree; it says so on stderr).
# Usage: infra/build-image.sh DEST      (UV=path/to/uv if uv is not on PATH)
set -euo pipefail
dest="${1:?usage: build-image.sh DEST}"
root="$(cd "$(dirname "$0")/.." && pwd)"
uv="${UV:-uv}"
# The server's major version: terraform/modules/database engine_version (as in the Dockerfile).
pg_major="${PG_MAJOR:-16}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

# runtime stage: postgresql-client-$pg_major from PGDG (workspace_export/workspace_restore and
# spare-schema copies run pg_dump and psql)
pg_bin="/usr/lib/postgresql/$pg_major/bin"
if [[ "${SKIP_SYSTEM_PACKAGES:-0}" == 1 ]]; then
  echo "build-image.sh: SKIP_SYSTEM_PACKAGES=1, postgresql-client-$pg_major not installed" >&2
elif [[ ! -x "$pg_bin/pg_dump" ]]; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "build-image.sh: $pg_bin/pg_dump is missing; install postgresql-client-$pg_major" \
      "from PGDG (https://apt.postgresql.org), or run as root on Debian" >&2
    exit 1
  fi
  apt-get update
  apt-get install -y --no-install-recommends ca-certificates postgresql-common
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
  echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${codename}-pgdg main" \
    >/etc/apt/sources.list.d/pgdg.list
  apt-get update
  apt-get install -y --no-install-recommends "postgresql-client-$pg_major"
  "$pg_bin/pg_dump" --version
fi

# builder stage: uv sync --frozen --no-dev --no-install-project into /opt/venv
UV_PROJECT_ENVIRONMENT="$dest/opt/venv" \
UV_COMPILE_BYTECODE="${UV_COMPILE_BYTECODE:-1}" \
UV_LINK_MODE="${UV_LINK_MODE:-copy}" \
UV_PYTHON_DOWNLOADS=never \
  "$uv" sync --project "$root" --frozen --no-dev --no-install-project --quiet

# runtime stage: COPY . /app, minus .dockerignore
mkdir -p "$dest/app"
excludes=()
while IFS= read -r pattern; do
  [[ -z "$pattern" || "$pattern" == \#* ]] && continue
  excludes+=("--exclude=${pattern#\*\*/}")
done < "$root/.dockerignore"
tar -C "$root" "${excludes[@]}" -cf - . | tar -C "$dest/app" -xf -

# collectstatic with placeholder values for this one command only (as in the Dockerfile)
(
  cd "$dest/app"
  env -i PATH="$dest/opt/venv/bin:/usr/bin:/bin" \
    DJANGO_SETTINGS_MODULE=crm_platform.settings.production \
    SECRET_KEY=collectstatic-build-step-only-not-a-secret-0123456789abcdef \
    DATABASE_URL=postgresql://build@127.0.0.1:1/build \
    REDIS_URL=redis://127.0.0.1:1/0 \
    BASE_DOMAIN=build.invalid \
    python manage.py collectstatic --noinput --verbosity 0
)
echo "Image tree ready in $dest (run it with PG_BIN_DIR=$pg_bin, as the image does)"
