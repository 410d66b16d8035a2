#!/usr/bin/env bash
# npm run tools [-- BINARY...]: build every pinned tool (or only those named) that the cache does
# not hold yet, then print the cache directory (stdout's only line). Binaries land in
# <cache>/<family>-<version>/, so a new pin builds beside the old one and a warm cache is a few stat
# calls. What is built, and at which version, is
# owned by tools.tsv + tools/<family>/go.mod and by upstream.tsv; see tools/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NUMA_K3S_TOOLS:-$(cat "$here/cache-dir")}
upstream_git=${NUMA_K3S_UPSTREAM_GIT:-/work/.mirror}
mkdir -p "$cache"
# One builder at a time per cache (other worktrees share it); a second waits, then finds the work done.
exec 9>"$cache/.lock"
flock 9

log() { printf '%s\n' "$*" >&2; }
missing=()
only=("$@")
wanted() {
  ((${#only[@]} == 0)) && return 0
  local b
  for b in "${only[@]}"; do [[ $b == "$1" ]] && return 0; done
  return 1
}

# The version <module> is required at in tools/<family>/go.mod.
required_version() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
    "$here/$1/go.mod"
}

# go build into a temporary name beside the target, then rename: a half-written binary is never seen.
go_build() { # out cgo tags ldflags package
  local out=$1 cgo=$2 tags=$3 ldflags=$4 pkg=$5
  local args=(-trimpath -ldflags "-s -w ${ldflags}")
  [[ $tags == - ]] || args+=(-tags "$tags")
  CGO_ENABLED=$cgo go build "${args[@]}" -o "$out.part" "$pkg"
  mv -f "$out.part" "$out"
}

timed() { # label command...
  local start=$SECONDS
  "${@:2}"
  log "tools: built $1 in $((SECONDS - start)) s"
}

# 1. Binaries from the Go modules of tools.tsv, built from tools/<family>/ (its go.mod, its go.sum).
while IFS=$'\t' read -r bin family module pkg cgo tags ldflags; do
  [[ -z $bin || $bin == \#* ]] && continue
  wanted "$bin" || continue
  version=$(required_version "$family" "$module")
  [[ -n $version ]] || { log "tools: $family/go.mod does not require $module"; exit 2; }
  dir="$cache/$family-$version"
  [[ -x $dir/$bin ]] && continue
  mkdir -p "$dir"
  [[ $ldflags == - ]] && ldflags=""
  ldflags=${ldflags//\{v\}/$version}
  ldflags=${ldflags//\{n\}/${version#v}}
  (cd "$here/$family" && timed "$bin $version" go_build "$dir/$bin" "$cgo" "$tags" "$ldflags" "$pkg")
done <"$here/tools.tsv"

# 2. Binaries of upstream.tsv: the module's own source tree, as upstream builds it.
while IFS=$'\t' read -r bin family version source ref subdir pkg generate replace ldflags; do
  [[ -z $bin || $bin == \#* ]] && continue
  wanted "$bin" || continue
  dir="$cache/$family-$version"
  [[ -x $dir/$bin ]] && continue
  work=$(mktemp -d)
  case $source in
    git:*)
      repo="$upstream_git/${source#git:}"
      repo="${repo%/*}+${repo##*/}/repo"
      # Where no mirror holds the release, the release commit alone from GitHub (a machine with
      # internet: a user's; this one has none, and fails at once), kept beside the cache.
      if ! git -C "$repo" cat-file -e "$ref^{commit}" 2>/dev/null; then
        repo="$cache/src/${source#git:}"
        repo="${repo%/*}+${repo##*/}"
        git -C "$repo" cat-file -e "$ref^{commit}" 2>/dev/null ||
          { git init -q "$repo" && timeout 900 git -C "$repo" fetch -q --depth 1 "https://github.com/${source#git:}" "$ref"; } >&2 || true
      fi
      if ! git -C "$repo" cat-file -e "$ref^{commit}" 2>/dev/null; then
        log "tools: $bin $version: its module is not served by the Go module proxy; needs the source" \
          "of ${source#git:} at $ref: in \$NUMA_K3S_UPSTREAM_GIT ($upstream_git) or from github.com"
        missing+=("$bin")
        rm -rf "$work"
        continue
      fi
      # The tree of subdir alone: a mirror may lack blobs elsewhere (large files are left out).
      git -C "$repo" archive "$ref:$subdir" | tar -x -C "$work"
      src=$work
      ;;
    mod:*)
      modDir=$(go mod download -json "${source#mod:}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
      cp -r "$modDir/." "$work/"
      chmod -R u+w "$work"
      src=$work
      ;;
  esac
  if [[ $replace != - ]]; then
    IFS=, read -r -a edits <<<"$replace"
    for edit in "${edits[@]}"; do (cd "$src" && go mod edit -replace "$edit"); done
  fi
  if [[ $generate != - ]]; then
    (cd "$src/$generate" && VERSION=$version go run ./generate.go)
  fi
  mkdir -p "$dir"
  ldflags=${ldflags//\{v\}/$version}
  # -mod=mod: the replaced siblings add their go.sum lines (checked against the checksum database).
  (cd "$src" && GOFLAGS="${GOFLAGS:-} -mod=mod" timed "$bin $version" go_build "$dir/$bin" 0 - "$ldflags" "$pkg")
  rm -rf "$work"
done <"$here/upstream.tsv"

if ((${#missing[@]})); then
  log "tools: not built: ${missing[*]}"
fi
printf '%s\n' "$cache"
