"""infra/k8s/deploy.sh against a stand-in ``kubectl`` on PATH: a failed migration Job ends the
deploy at once, with the Job's logs and a non-zero exit; a completed one lets the rollout go
on. The stand-in records every call and answers the Job's conditions from a script of
answers, one per look."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "infra" / "k8s" / "deploy.sh"

STUB = r"""#!/usr/bin/env bash
# Stand-in kubectl: records its arguments, answers what deploy.sh asks.
echo "$*" >> "$STUB_DIR/calls"
case "$*" in
  kustomize*)
    printf 'metadata:\n  name: rapport\n  namespace: rapport-test\n'
    ;;
  *"get job rapport-migrate"*)
    # One answer per look; the last one repeats.
    looks=$(($(cat "$STUB_DIR/looks" 2>/dev/null || echo 0) + 1))
    echo "$looks" > "$STUB_DIR/looks"
    mapfile -t answers < "$STUB_DIR/answers"
    index=$((looks <= ${#answers[@]} ? looks - 1 : ${#answers[@]} - 1))
    printf '%s' "${answers[$index]}"
    ;;
  *"logs job/rapport-migrate"*)
    echo "migrate_all: ws_acme failed: column \"first_name\" contains null values"
    ;;
esac
exit 0
"""


def run_deploy(
    tmp_path: Path, answers: list[str]
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "kubectl"
    stub.write_text(STUB)
    stub.chmod(0o755)
    (tmp_path / "answers").write_text("\n".join(answers) + "\n")
    env = dict(
        os.environ,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        STUB_DIR=str(tmp_path),
        MIGRATE_POLL_SECONDS="0.05",
        MIGRATE_TIMEOUT_SECONDS="30",
    )
    result = subprocess.run(  # noqa: S603
        [shutil.which("bash") or "/bin/bash", str(DEPLOY), "staging"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    calls = (tmp_path / "calls").read_text().splitlines()
    return result, calls


def test_a_failed_migration_job_ends_the_deploy_with_its_logs(tmp_path):
    # Still running for two looks, then Failed (its backoffLimit spent): the third look ends the
    # wait, long before the 30 s the deploy would otherwise wait.
    result, calls = run_deploy(tmp_path, ["", "", "Failed"])

    assert result.returncode == 1
    assert 'column "first_name" contains null values' in result.stdout
    assert "the Job failed" in result.stderr
    assert (tmp_path / "looks").read_text().strip() == "3"
    assert "-n rapport-test logs job/rapport-migrate --tail=200" in calls
    # The new version was never applied nor rolled out.
    assert [c for c in calls if c.startswith("apply")] == [
        f"apply -k {ROOT}/infra/k8s/overlays/staging/migrate"
    ]
    assert not [c for c in calls if "rollout" in c]


def test_a_failure_target_is_not_taken_for_success(tmp_path):
    # Kubernetes 1.31+ sets FailureTarget before Failed; neither is Complete.
    result, _ = run_deploy(tmp_path, ["FailureTarget", "FailureTarget Failed"])

    assert result.returncode == 1
    assert "the Job failed" in result.stderr


def test_a_completed_migration_job_lets_the_rollout_proceed(tmp_path):
    # Kubernetes 1.31+ reports SuccessCriteriaMet alongside Complete.
    result, calls = run_deploy(tmp_path, ["", "SuccessCriteriaMet Complete"])

    assert result.returncode == 0, result.stderr
    overlay = f"{ROOT}/infra/k8s/overlays/staging"
    applies = [c for c in calls if c.startswith("apply")]
    # Migrate, roll out, migrate again (the catch-up pass).
    assert applies == [
        f"apply -k {overlay}/migrate",
        f"apply -k {overlay}",
        f"apply -k {overlay}/migrate",
    ]
    assert [c for c in calls if "rollout status" in c] == [
        f"-n rapport-test rollout status deployment/{name} --timeout=15m"
        for name in (
            "rapport-web",
            "rapport-worker-interactive",
            "rapport-worker-bulk",
            "rapport-beat",
        )
    ]
    assert not [c for c in calls if "logs" in c]
