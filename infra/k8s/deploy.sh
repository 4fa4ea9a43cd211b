#!/usr/bin/env bash
# Roll out one version: migrations first (the Job must finish), then the app tier.
#   infra/k8s/deploy.sh production
# The Secret rapport-secrets must exist in the namespace (docs/deployment.md).
set -euo pipefail
env="${1:?usage: deploy.sh <staging|production>}"
here="$(cd "$(dirname "$0")" && pwd)"
overlay="$here/overlays/$env"
namespace="$(kubectl kustomize "$overlay" | awk '/^  namespace:/ {print $2; exit}')"

# Seconds between looks at the migration Job, and the longest wait: the Job's own
# activeDeadlineSeconds (2 h) marks it Failed before this runs out.
poll_seconds="${MIGRATE_POLL_SECONDS:-10}"
timeout_seconds="${MIGRATE_TIMEOUT_SECONDS:-7500}"

# Wait until the Job is Complete or Failed. `kubectl wait --for=condition=complete` alone never
# returns on a failed Job, so a failed migration would hold the deploy for the whole timeout.
job_outcome() {
  local deadline=$((SECONDS + timeout_seconds)) conditions
  while ((SECONDS < deadline)); do
    conditions="$(kubectl -n "$namespace" get job rapport-migrate \
      -o 'jsonpath={.status.conditions[?(@.status=="True")].type}')"
    case " $conditions " in
      *" Failed "*) echo failed; return ;;
      *" Complete "*) echo complete; return ;;
    esac
    sleep "$poll_seconds"
  done
  echo timeout
}

migrate() {
  # A Job's pod template is immutable: the previous run's Job goes before the new one.
  kubectl -n "$namespace" delete job rapport-migrate --ignore-not-found --wait=true
  kubectl apply -k "$overlay/migrate"
  local outcome
  outcome="$(job_outcome)"
  if [[ "$outcome" != complete ]]; then
    kubectl -n "$namespace" logs job/rapport-migrate --tail=200 || true
    echo "Migrations did not complete (the Job $outcome); the running version keeps serving." \
         "Fix the cause and run again: the next run resumes where this one stopped." >&2
    exit 1
  fi
}

migrate
kubectl apply -k "$overlay"
for deployment in rapport-web rapport-worker-interactive rapport-worker-bulk rapport-beat; do
  kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout=15m
done
# Catch-up pass: a workspace created by the previous version while the rollout ran (a signup
# that found the pool empty, a spare topped up by the old beat) gets the new migrations. When
# every schema is current this run only reads django_migrations (seconds).
migrate
