#!/usr/bin/env bash
# The README's main job on the embedded default (SQLite, no server needed):
# import a snapshot, decide on every deleted member, explain one denial,
# restore one member, and show that a second restore of it is refused.
#
# A restore decides at the real clock, so the demo never uses a fixed time:
# examples/directory.yaml is written as seen on 2026-11-24T10:00:00Z, and
# every `deleted_at` is shifted by (now - that time) into a copy before
# import. The output is then the same on any date.
#
# RESTORECTL=path skips the release build (the README test uses the test
# build); DEMO_DIR=folder puts the database and the shifted copy elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${RESTORECTL:-}" ]]; then
  cargo build --release -q --bin restorectl
  RESTORECTL=target/release/restorectl
fi
restorectl=$RESTORECTL
dir=${DEMO_DIR:-target}
mkdir -p "$dir"
db=$dir/demo.db
snapshot=$dir/demo-directory.yaml
rm -f "$db" "$db-wal" "$db-shm"

written_at=$(date -u -d 2026-11-24T10:00:00Z +%s)
offset=$(( $(date -u +%s) - written_at ))
while IFS= read -r line; do
  if [[ $line =~ ^(.*deleted_at:\ *)([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z)(.*)$ ]]; then
    shifted=$(( $(date -u -d "${BASH_REMATCH[2]}" +%s) + offset ))
    line="${BASH_REMATCH[1]}$(date -u -d "@$shifted" +%Y-%m-%dT%H:%M:%SZ)${BASH_REMATCH[3]}"
  fi
  printf '%s\n' "$line"
done < examples/directory.yaml > "$snapshot"

echo "== restorectl check --rules rules"
$restorectl check --rules rules

echo; echo "== restorectl import --from examples/directory.yaml (deletion times shifted to now)"
$restorectl import --from "$snapshot" --to "sqlite:$db"

echo; echo "== restorectl eval-all (every deleted member of acme)"
$restorectl eval-all --rules rules --directory "sqlite:$db" --tenant acme --actor u_anna --output table

echo; echo "== restorectl eval --explain (why is u_carol denied?)"
$restorectl eval --rules rules --directory "sqlite:$db" --tenant acme --member u_carol --actor u_anna \
  --output text --explain || echo "(exit $?: denied)"

echo; echo "== restorectl restore u_bob into department sales"
$restorectl restore --rules rules --directory "sqlite:$db" --tenant acme --member u_bob --actor u_anna \
  --department sales --output text

echo; echo "== restoring u_bob again is refused (exit 2: no longer a deleted member)"
$restorectl restore --rules rules --directory "sqlite:$db" --tenant acme --member u_bob --actor u_anna \
  --department sales --output text || echo "(exit $?)"
