#!/usr/bin/env bash
# Records the committed Fray replays again (src/test/resources/fray/*-legacy-seed-1) after a
# change to the synchronization kern, xcall or psref perform has made them drift: runs each
# legacy exploration with seed 1, copies the failing iteration's recording over the committed
# one, and prints the iteration each stopped at (for README.md and ReplayFrayTest's notes).
# Usage: concurrency-tests/rerecord.sh   (from the repository root; needs the JDK 25 below)
set -euo pipefail
cd "$(dirname "$0")/.."
JDK25_HOME=${JDK25_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
for t in xcall:XcallPr51632FrayTest psref:PsrefPr51632FrayTest; do
  name=${t%%:*}
  cls=${t#*:}
  rm -rf "concurrency-tests/target/fray-report/$name-legacy"
  log=$(mktemp)
  ./mvnw -B -q -Pconcurrency -pl concurrency-tests -am verify -Djdk25.home="$JDK25_HOME" \
    -Dsurefire.failIfNoSpecifiedTests=false -Dfray.seed=1 \
    -Dtest="org.mpsafe.concurrency.$cls#legacy*" | tee "$log"
  rec="concurrency-tests/target/fray-report/$name-legacy/recording"
  dst="concurrency-tests/src/test/resources/fray/$name-legacy-seed-1"
  mkdir -p "$dst"
  cp "$rec"/{scheduler,random.json,failure.txt} "$dst"/
  echo "$name: $(grep -o "\[fray\] $name-legacy seed=1: [0-9]* iteration(s)" "$log" | tail -1)"
  rm -f "$log"
  echo "  failure: $(cat "$dst/failure.txt")"
done
