#!/usr/bin/env bash
# The README's main job on the embedded default (SQLite, no server needed):
# import a snapshot, decide on every deleted member, explain one denial,
# restore one member, and show that a second restore of it is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin restorectl
restorectl=target/release/restorectl
db=target/demo.db
at=2026-11-24T10:00:00Z
rm -f "$db" "$db-wal" "$db-shm"

echo "== restorectl check --rules rules"
$restorectl check --rules rules

echo; echo "== restorectl import --from examples/directory.yaml --to sqlite:$db"
$restorectl import --from examples/directory.yaml --to "sqlite:$db"

echo; echo "== restorectl eval-all (every deleted member of acme)"
$restorectl eval-all --rules rules --directory "sqlite:$db" --tenant acme --actor u_anna --at "$at" --output table

echo; echo "== restorectl eval --explain (why is u_carol denied?)"
$restorectl eval --rules rules --directory "sqlite:$db" --tenant acme --member u_carol --actor u_anna \
  --at "$at" --output text --explain || echo "(exit $?: denied)"

echo; echo "== restorectl restore u_bob into department sales"
$restorectl restore --rules rules --directory "sqlite:$db" --tenant acme --member u_bob --actor u_anna \
  --department sales --at "$at" --output text

echo; echo "== restoring u_bob again is refused (exit 2: no longer a deleted member)"
$restorectl restore --rules rules --directory "sqlite:$db" --tenant acme --member u_bob --actor u_anna \
  --department sales --at "$at" --output text || echo "(exit $?)"
