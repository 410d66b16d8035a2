// The init container's script: fetch a model's GGUF once per node into /data/local/models, verify
// its sha256, and leave it for every pod on that node (and for nothing else to see half-written).
// One constant text, parameterised by environment variables, so that it is linted and tested once
// and no value a user typed is ever spliced into shell code.
//
// Inputs (environment): MODEL_SOURCE (https://… or s3://models/<key>), MODEL_SHA256, MODEL_NAME,
// MODEL_FILE (`<name>-<16 hex of the sha256>.gguf`), MODELS_DIR; for s3: S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
//
// 1. Lock `<file>.lock` (flock): two pods for the same file on one node take turns, the second
//    finds the file the first wrote. The lock dies with its holder, so a killed pod blocks no one.
// 2. A file already there is reused when its sha256 matches, removed and fetched again otherwise.
// 3. Download to `<file>.part` (removed on any failure), curl with retries; s3 with SigV4 path-style
//    (curl --aws-sigv4, curl >= 7.75; the image's Ubuntu 24.04 has 8.5), credentials passed on
//    stdin (curl -K -), never on a command line another process could read.
// 4. Verify the sha256; a mismatch is refused and nothing is left behind.
// 5. Rename into place: in the same directory the rename is atomic, so a reader sees no file or
//    the whole verified one, never a partial download.
// 6. Remove this model's other versions (`<name>-<16 hex>.gguf`, exactly: another model's file
//    never matches), or every new checksum would leave a stale copy on the 100 GB staging disk. A
//    server still holding an old file keeps reading it: unlinking an open file frees it at close.

export const FETCH_SCRIPT = `#!/bin/bash
set -euo pipefail
: "\${MODEL_SOURCE:?}" "\${MODEL_SHA256:?}" "\${MODEL_NAME:?}" "\${MODEL_FILE:?}" "\${MODELS_DIR:?}"
dest="$MODELS_DIR/$MODEL_FILE"
tmp="$dest.part"
mkdir -p "$MODELS_DIR"

exec 9>"$dest.lock"
flock 9

sha256_of() {
  local sum
  sum=$(sha256sum "$1")
  printf '%s\\n' "\${sum%% *}"
}

if [ -f "$dest" ]; then
  if [ "$(sha256_of "$dest")" = "$MODEL_SHA256" ]; then
    echo "numa-k3s: $dest is there, sha256 $MODEL_SHA256 verified: reused"
    exit 0
  fi
  echo "numa-k3s: $dest does not have sha256 $MODEL_SHA256: fetching it again" >&2
  rm -f "$dest"
fi

rm -f "$tmp"
trap 'rm -f "$tmp"' EXIT
case "$MODEL_SOURCE" in
  https://*)
    curl --fail --location --silent --show-error --retry 5 --retry-delay 10 --output "$tmp" "$MODEL_SOURCE"
    ;;
  s3://models/*)
    : "\${S3_ENDPOINT:?}" "\${AWS_ACCESS_KEY_ID:?}" "\${AWS_SECRET_ACCESS_KEY:?}"
    key="\${MODEL_SOURCE#s3://models/}"
    printf 'user = "%s:%s"\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
      curl --config - --fail --silent --show-error --retry 5 --retry-delay 10 \\
        --aws-sigv4 "aws:amz:\${S3_REGION:-us-east-1}:s3" --output "$tmp" "$S3_ENDPOINT/models/$key"
    ;;
  *)
    echo "numa-k3s: MODEL_SOURCE = $MODEL_SOURCE: neither https:// nor s3://models/" >&2
    exit 2
    ;;
esac

actual=$(sha256_of "$tmp")
if [ "$actual" != "$MODEL_SHA256" ]; then
  echo "numa-k3s: $MODEL_SOURCE has sha256 $actual, not $MODEL_SHA256: refused" >&2
  exit 1
fi
chmod 0444 "$tmp"
mv -f "$tmp" "$dest"
trap - EXIT
echo "numa-k3s: $dest fetched from $MODEL_SOURCE, sha256 verified"

shopt -s nullglob
for old in "$MODELS_DIR/$MODEL_NAME"-*.gguf; do
  [[ "\${old##*/}" =~ ^$MODEL_NAME-[0-9a-f]{16}\.gguf$ ]] || continue
  if [ "$old" != "$dest" ]; then
    rm -f "$old"
    echo "numa-k3s: removed $old, an older version of $MODEL_NAME"
  fi
done
`;
