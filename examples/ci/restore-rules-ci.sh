#!/bin/sh
# CI for a repository of restore rules: static checks, rule tests and the
# decision snapshot, with JUnit reports for the CI system to show.
#
# Run from the policy repository's root. Every setting can be overridden
# from the environment; the defaults match the layout in README.md.
#
# Exit status: 0 all passed; 1 a warning, a failing rule test or a changed
# decision (the new snapshot is then beside the old as `$SNAPSHOT.new`);
# 2 bad input (a broken rule, test or snapshot file). All three steps run
# even when one fails, so one CI run shows every problem.
set -u

RESTORECTL=${RESTORECTL:-restorectl}
RULES=${RULES:-rules}
TESTS=${TESTS:-tests}
DIRECTORY=${DIRECTORY:-memory:directory.yaml}
SNAPSHOT=${SNAPSHOT:-snapshots/decisions.yaml}
REPORTS=${REPORTS:-reports}

mkdir -p "$REPORTS" || exit 2
status=0
step() {
  echo "== $*"
  "$@"
  rc=$?
  if [ "$rc" -gt "$status" ]; then status=$rc; fi
  echo
}

step "$RESTORECTL" check --rules "$RULES" --deny-warnings
step "$RESTORECTL" test --rules "$RULES" "$TESTS" --junit "$REPORTS/rule-tests.xml"
step "$RESTORECTL" snapshot check --rules "$RULES" --directory "$DIRECTORY" "$SNAPSHOT" \
  --junit "$REPORTS/decisions.xml"

if [ -f "$SNAPSHOT.new" ]; then
  echo "Decisions changed. If the change is intended, accept it and commit the file:"
  echo "  $RESTORECTL snapshot accept $SNAPSHOT"
fi
exit "$status"
