#!/usr/bin/env bash
# policy/stage.sh DIR: a self-contained copy of the numa-guard pack in DIR, for
# `pulumi policy publish`. The pack imports the project's pure topology/, common/ and k3s/ code by
# relative path (../topology/...), and `pulumi policy publish` uploads only the pack's own folder:
# DIR holds both, with the pack's PulumiPolicy.yaml, package.json and lock file at its root. The
# stack files, locks and captures it judges against stay in the project (NUMA_K3S_PROJECT_DIR).
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: bash policy/stage.sh DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/.." && pwd)
out=$1
[[ ! -e $out || -z $(ls -A "$out") ]] || { echo "stage: $out is not empty" >&2; exit 2; }
mkdir -p "$out/policy"
cp -r "$here/index.ts" "$here/modules.ts" "$here/secret-aware.ts" "$here/rules" "$out/policy/"
cp "$here/PulumiPolicy.yaml" "$here/package-lock.json" "$out/"
# What policy/rules imports from the project, and what those files import in turn
# (test/policy/pack-runtime.test.ts checks this list against the imports).
for d in topology common k3s; do cp -r "$project/$d" "$out/$d"; done
# The same package, its entry one folder down; the same compiler options, for that entry.
node -e '
  const fs = require("fs");
  const [src, dst, tsSrc, tsDst] = process.argv.slice(1);
  const pkg = JSON.parse(fs.readFileSync(src, "utf8"));
  pkg.main = "policy/index.ts";
  fs.writeFileSync(dst, JSON.stringify(pkg, null, 2) + "\n");
  const ts = JSON.parse(fs.readFileSync(tsSrc, "utf8"));
  ts.files = ["policy/index.ts"];
  fs.writeFileSync(tsDst, JSON.stringify(ts, null, 2) + "\n");
' "$here/package.json" "$out/package.json" "$here/tsconfig.json" "$out/tsconfig.json"
echo "staged numa-guard in $out: cd $out && npm ci && pulumi policy publish ORG" >&2
