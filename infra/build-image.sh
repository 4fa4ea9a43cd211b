#!/usr/bin/env bash
# The steps of infra/Dockerfile as a plain script, for machines without a Docker engine and for
# CI (tests/ops/test_image_script.py). It lays out in DEST what the image holds:
#   DEST/opt/venv  the locked runtime dependencies (no development group, no build tools)
#   DEST/app       the code, without what .dockerignore leaves out, and the collected static files
# Usage: infra/build-image.sh DEST      (UV=path/to/uv if uv is not on PATH)
set -euo pipefail
dest="${1:?usage: build-image.sh DEST}"
root="$(cd "$(dirname "$0")/.." && pwd)"
uv="${UV:-uv}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

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
echo "Image tree ready in $dest"
