#!/usr/bin/env bash
# Builds the Kubernetes binaries atoll runs (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kine), and kubectl and helm for its users, from the Go modules pinned under
# hack/, into the shared cache
#   ${XDG_CACHE_HOME:-$HOME/.cache}/atoll/kube/<kubernetes version>/bin
# so every clone on this machine reuses them.
#
# Idempotent: a binary already present (here, in ATOLL_KUBE_BIN or in envtest's
# KUBEBUILDER_ASSETS) is not built again. Safe to interrupt: each group is built into a
# temporary folder and renamed into place only when complete, and a stamp written from the
# pins marks what a finished build holds.
#
# Usage: hack/build-kube.sh [--print-dir]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kube_version=v1.37.2
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/atoll/kube/$kube_version
bin_dir=$cache_root/bin

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$bin_dir"
  exit 0
fi

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

# A binary counts as present when one of the folders users may point us at holds it.
present() {
  local name=$1 dir
  for dir in "${ATOLL_KUBE_BIN:-}" "${KUBEBUILDER_ASSETS:-}" "$bin_dir"; do
    [[ -n "$dir" && -x "$dir/$name" ]] && return 0
  done
  return 1
}

# The stamp ties the cached binaries to the exact pins that produced them.
pins_digest() {
  cat "$here"/kube/go.mod "$here"/kube/go.sum "$here"/etcd/go.mod "$here"/etcd/go.sum \
    "$here"/kine/go.mod "$here"/kine/go.sum "$here"/helm/go.mod "$here"/helm/go.sum \
    "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16
}

groups=(kube etcd kine helm)
declare -A group_binaries=(
  [kube]="kube-apiserver kube-controller-manager kube-scheduler kubectl"
  [etcd]="etcd"
  [kine]="kine"
  [helm]="helm"
)
declare -A group_packages=(
  [kube]="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
  [etcd]="."
  [kine]="github.com/k3s-io/kine"
  [helm]="helm.sh/helm/v4/cmd/helm"
)

build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
version_pkg=k8s.io/component-base/version
declare -A group_ldflags=(
  [kube]="-s -w -X $version_pkg.gitVersion=$kube_version -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=37 -X $version_pkg.gitTreeState=clean -X $version_pkg.buildDate=$build_date"
  [etcd]="-s -w"
  [kine]="-s -w -X github.com/k3s-io/kine/pkg/version.Version=v0.17.5"
  [helm]="-s -w -X helm.sh/helm/v4/internal/version.version=v4.3.2 -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
)

missing_groups=()
for group in "${groups[@]}"; do
  for name in ${group_binaries[$group]}; do
    if ! present "$name"; then
      missing_groups+=("$group")
      break
    fi
  done
done

stamp=$bin_dir/.stamp
if [[ ${#missing_groups[@]} -eq 0 ]]; then
  if [[ -f "$stamp" && "$(cat "$stamp")" != "$(pins_digest)" ]]; then
    say "binaries in $bin_dir were built from other pins; remove that folder to rebuild"
  fi
  say "Kubernetes binaries ready ($kube_version)"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<EOF
atoll needs Kubernetes binaries (${missing_groups[*]}) and Go to build them.
Fix one of:
  - install Go 1.26 or newer and run this again (binaries go to $bin_dir), or
  - set ATOLL_KUBE_BIN to a folder holding etcd, kube-apiserver,
    kube-controller-manager and kube-scheduler built for $kube_version.
EOF
  exit 1
fi

mkdir -p "$bin_dir"
total=${#missing_groups[@]}
step=0
for group in "${missing_groups[@]}"; do
  step=$((step + 1))
  say "[$step/$total] building ${group_binaries[$group]} (first build takes several minutes)"
  started=$SECONDS
  scratch=$(mktemp -d "$bin_dir/.build-$group.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT

  # shellcheck disable=SC2086  # package lists are deliberately word-split
  (cd "$here/$group" && go build -trimpath -ldflags "${group_ldflags[$group]}" \
    -o "$scratch/" ${group_packages[$group]})

  for name in ${group_binaries[$group]}; do
    mv -f "$scratch/$name" "$bin_dir/$name"
  done
  rm -rf "$scratch"
  trap - EXIT
  say "[$step/$total] done in $((SECONDS - started)) s"
done

pins_digest >"$stamp"
say "Kubernetes binaries ready in $bin_dir"
