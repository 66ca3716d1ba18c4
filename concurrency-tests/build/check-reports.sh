#!/usr/bin/env bash
# check-reports.sh -- after surefire: fail unless tests ran and none was skipped.
#
#   check-reports.sh start <surefire-reports-dir>   (initialize: remember when this build began)
#   check-reports.sh <surefire-reports-dir>         (verify: check the reports written since)
#
# Fray's own JUnit extension reports every @ConcurrencyTest as SKIPPED ("Fray is not enabled in
# this JVM") when the test JVM is not the instrumented one, which would make a green build that
# tested nothing. This module does not use that extension, but the rule stays: in this module a
# skipped test is a failure, and so is a run with no tests at all.
set -euo pipefail
if [[ ${1:-} == start ]]; then
  mkdir -p "${2:?usage: check-reports.sh start <surefire-reports-dir>}"
  touch "$2/.build-start"
  exit 0
fi
dir=${1:?usage: check-reports.sh <surefire-reports-dir>}
shopt -s nullglob
# only this build's reports: surefire never deletes the ones of earlier runs
reports=()
for r in "$dir"/TEST-*.xml; do
  if [[ ! -f "$dir/.build-start" || "$r" -nt "$dir/.build-start" ]]; then
    reports+=( "$r" )
  fi
done
if (( ${#reports[@]} == 0 )); then
  echo "check-reports.sh: FAIL: no surefire reports in $dir: no Fray test ran" >&2
  exit 1
fi
tests=0 skipped=0
for r in "${reports[@]}"; do
  head=$(grep -m1 -o '<testsuite [^>]*>' "$r")
  t=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$head")
  s=$(sed -n 's/.* skipped="\([0-9]*\)".*/\1/p' <<<"$head")
  tests=$(( tests + ${t:-0} )); skipped=$(( skipped + ${s:-0} ))
  if (( ${s:-0} > 0 )); then
    echo "check-reports.sh: skipped tests in $(basename "$r"):" >&2
    grep -B1 '<skipped' "$r" | sed -n 's/.*<testcase name="\([^"]*\)".*/    \1/p' >&2 || true
  fi
done
if (( tests == 0 )); then
  echo "check-reports.sh: FAIL: surefire ran 0 tests" >&2
  exit 1
fi
if (( skipped > 0 )); then
  echo "check-reports.sh: FAIL: $skipped test(s) skipped; in this module a skip means Fray did not run (see README.md)" >&2
  exit 1
fi
echo "check-reports.sh: $tests tests ran, none skipped (${#reports[@]} classes)"
