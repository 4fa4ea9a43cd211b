#!/usr/bin/env bash
# `make lint-infra`: render every Kustomize overlay and validate it against the Kubernetes
# schemas; check Terraform formatting; run `terraform validate` only where the AWS provider can
# be installed (a provider mirror or a warm plugin cache), and say so plainly when it cannot;
# scan Terraform and the rendered manifests with checkov (accepted findings, each with its
# reason: infra/checkov.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
VALIDATE=".venv/bin/kubernetes-validate"
UV="${UV:-$(command -v uv || echo .venv-tools/bin/uv)}"
CHECKOV_VERSION="3.3.30"
K8S_VERSION="${K8S_VERSION:-1.30.0}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for overlay in infra/k8s/overlays/*/ infra/k8s/overlays/*/migrate/; do
  name="$(echo "${overlay%/}" | tr '/' '-')"
  mkdir -p "$out/rendered"
  kubectl kustomize "$overlay" > "$out/rendered/$name.yaml"
  cp "$out/rendered/$name.yaml" "$out/$name.yaml"
  "$VALIDATE" --strict --quiet --kubernetes-version "$K8S_VERSION" "$out/$name.yaml"
  echo "ok  ${overlay%/} ($(grep -c '^kind:' "$out/$name.yaml") objects, Kubernetes $K8S_VERSION schemas)"
done

terraform -chdir=terraform fmt -check -recursive
echo "ok  terraform fmt -check"

tfdata="$(mktemp -d)"
if TF_DATA_DIR="$tfdata" timeout 120 terraform -chdir=terraform init -backend=false -input=false -no-color \
    >"$out/init.log" 2>&1; then
  TF_DATA_DIR="$tfdata" terraform -chdir=terraform validate
  echo "ok  terraform validate"
else
  echo "SKIPPED terraform validate: the AWS provider could not be installed here" \
       "(no registry access or provider mirror). Last lines of terraform init:"
  tail -n 3 "$out/init.log" | sed 's/^/    /'
fi
rm -rf "$tfdata"

# checkov runs in a tool environment of its own (its pins would fight the app's lock).
checkov() {
  "$UV" tool run --quiet --from "checkov==$CHECKOV_VERSION" checkov --skip-download \
    --config-file infra/checkov.yaml "$@" 2>"$out/checkov.err"
}
checkov -d terraform --framework terraform > "$out/checkov-tf.txt" || {
  cat "$out/checkov-tf.txt"; exit 1; }
echo "ok  checkov terraform: $(grep -m1 'Passed checks' "$out/checkov-tf.txt")"
checkov -d "$out/rendered" --framework kubernetes > "$out/checkov-k8s.txt" || {
  cat "$out/checkov-k8s.txt"; exit 1; }
echo "ok  checkov kubernetes: $(grep -m1 'Passed checks' "$out/checkov-k8s.txt")"
