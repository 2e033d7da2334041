#!/bin/sh
# CI for the example vendor policies under examples/policies/: runs
# restore-rules-ci.sh (static checks, rule tests, decision snapshot) in each
# policy folder, with that folder's layout, and JUnit reports per folder.
#
# Run from this repository's root. RESTORECTL names the binary (default:
# `restorectl` on PATH); REPORTS the folder for the reports (default
# `reports`, one sub-folder per policy).
#
# Exit status: the worst of the folders' (0 passed; 1 a warning, a failing
# rule test or a changed decision; 2 a broken file). Every folder runs even
# when one fails.
set -u

RESTORECTL=${RESTORECTL:-restorectl}
REPORTS=${REPORTS:-reports}
root=$(pwd)
case "$REPORTS" in
  /*) ;;
  *) REPORTS="$root/$REPORTS" ;;
esac
case "$RESTORECTL" in
  */*) case "$RESTORECTL" in /*) ;; *) RESTORECTL="$root/$RESTORECTL" ;; esac ;;
esac

status=0
found=0
for dir in examples/policies/*/; do
  [ -d "$dir/rules" ] || continue
  found=1
  name=$(basename "$dir")
  echo "== $name"
  (
    cd "$dir" || exit 2
    RESTORECTL="$RESTORECTL" RULES=rules TESTS=cases.yaml \
      DIRECTORY=memory:directory.yaml SNAPSHOT=snapshots/decisions.yaml \
      REPORTS="$REPORTS/$name" sh "$root/examples/ci/restore-rules-ci.sh"
  )
  rc=$?
  if [ "$rc" -gt "$status" ]; then status=$rc; fi
done
if [ "$found" -eq 0 ]; then
  echo "no policy folders under examples/policies/" >&2
  exit 2
fi
exit "$status"
