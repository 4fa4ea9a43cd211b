#!/usr/bin/env bash
# Roll out one version: migrations first (the Job must finish), then the app tier.
#   infra/k8s/deploy.sh production
# The Secret rapport-secrets must exist in the namespace (docs/deployment.md).
set -euo pipefail
env="${1:?usage: deploy.sh <staging|production>}"
here="$(cd "$(dirname "$0")" && pwd)"
overlay="$here/overlays/$env"
namespace="$(kubectl kustomize "$overlay" | awk '/^  namespace:/ {print $2; exit}')"

migrate() {
  # A Job's pod template is immutable: the previous run's Job goes before the new one.
  kubectl -n "$namespace" delete job rapport-migrate --ignore-not-found --wait=true
  kubectl apply -k "$overlay/migrate"
  if ! kubectl -n "$namespace" wait --for=condition=complete job/rapport-migrate --timeout=2h; then
    kubectl -n "$namespace" logs job/rapport-migrate --tail=50 || true
    echo "Migrations did not complete; the running version keeps serving. Fix the cause and" \
         "run again: the next run resumes where this one stopped." >&2
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
