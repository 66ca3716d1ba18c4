#!/usr/bin/env bash
# fray-jdk.sh -- make (or reuse) the instrumented JDK 25 that Fray's tests run on.
#
#   fray-jdk.sh <jdk25-home> <output-dir> <fray-version> <jar-dir>
#
# Fray 0.9.x instruments java.base itself: its jlink plugin (--fray-instrumentation, shipped in
# fray-instrumentation-jdk) rewrites the JDK's classes while linking a run-time image. The stock
# fray-plugins-maven cannot do it here: it downloads Corretto when JDK25_HOME is unset, and it
# links from <jdk>/jmods, which Temurin 25 no longer ships (JEP 493: jlink links from the
# run-time image). So this script links from the run-time image: every module the JDK has,
# minus jdk.jlink and jdk.jpackage (JEP 493 forbids linking those from a run-time image).
#
# Output: <output-dir>/fray-java (~190 MB, release file has IMPLEMENTOR=Fray) and
# <output-dir>/fray-java.stamp. The image is reused while the stamp matches (Fray version, the
# source JDK's version, the jar set, this script); otherwise it is rebuilt (~15 s on 2 cores).
# It is built in a temporary directory and moved into place, so an interrupted build never
# leaves a half image that looks usable.
#
# A missing JDK 25 is an error, never a skip: the concurrency tests cannot run without it.
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 <jdk25-home> <output-dir> <fray-version> <jar-dir>" >&2
  exit 2
fi
J25=$1 OUT=$2 V=$3 JARS=$4

missing_jdk() {
  cat >&2 <<EOF

fray-jdk.sh: ERROR: $1
  The Fray concurrency tests (module concurrency-tests) need a JDK 25 to build the
  instrumented test JDK from. Install Eclipse Temurin 25 (Debian/Ubuntu: package
  temurin-25-jdk from https://packages.adoptium.net/artifactory/deb, which installs
  /usr/lib/jvm/temurin-25-jdk-amd64), or point -Djdk25.home=<dir> at another JDK 25
  that has a run-time image (lib/modules).

EOF
  exit 1
}

[[ -x "$J25/bin/java" ]] || missing_jdk "no JDK 25 at $J25 ($J25/bin/java is missing)"
[[ -x "$J25/bin/jlink" ]] || missing_jdk "$J25 has no bin/jlink"
[[ -f "$J25/release" ]] || missing_jdk "$J25 has no release file"
ver=$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$J25/release")
[[ "$ver" == 25* ]] || missing_jdk "$J25 is Java '$ver', not 25"

cp_jars=(
  "fray-instrumentation-jdk-$V.jar" "fray-instrumentation-base-$V.jar" "fray-runtime-$V.jar"
  kotlin-stdlib-*.jar kotlin-reflect-*.jar
  asm-[0-9]*.jar asm-tree-*.jar asm-commons-*.jar asm-util-*.jar asm-analysis-*.jar
)
CP=""
for pat in "${cp_jars[@]}"; do
  # shellcheck disable=SC2206  # the glob is meant to expand
  m=( "$JARS"/$pat )
  [[ -f "${m[0]}" ]] || { echo "fray-jdk.sh: ERROR: $JARS/$pat missing (dependency:copy did not run?)" >&2; exit 1; }
  CP+="${CP:+:}${m[0]}"
done

stamp="fray=$V jdk=$(sed -n 's/^JAVA_RUNTIME_VERSION="\(.*\)"/\1/p' "$J25/release") \
jars=$(cd "$JARS" && ls | sort | tr '\n' ' ')script=$(cksum < "$0" | cut -d' ' -f1)"
IMG="$OUT/fray-java"
if [[ -x "$IMG/bin/java" && -f "$OUT/fray-java.stamp" && "$(cat "$OUT/fray-java.stamp")" == "$stamp" ]] \
   && grep -q '^IMPLEMENTOR="\?Fray' "$IMG/release"; then
  echo "fray-jdk: up to date: $IMG"
  exit 0
fi

mkdir -p "$OUT"
TMP=$(mktemp -d "$OUT/fray-java.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
MODS=$(sed -n 's/^MODULES="\(.*\)"/\1/p' "$J25/release" | tr ' ' '\n' \
  | grep -vE '^(jdk\.jlink|jdk\.jpackage)$' | paste -sd, -)
echo "fray-jdk: linking an instrumented JDK from $J25 (Fray $V) into $IMG ..."
start=$(date +%s)
"$J25/bin/jlink" \
  "-J-javaagent:$JARS/fray-instrumentation-jdk-$V.jar" \
  "-J--module-path=$CP" -J--add-modules=org.pastalab.fray.instrumentation.jdk "-J--class-path=$CP" \
  --output="$TMP/img" --add-modules="$MODS" --release-info add:IMPLEMENTOR=Fray \
  --fray-instrumentation
grep -q '^IMPLEMENTOR="\?Fray' "$TMP/img/release" \
  || { echo "fray-jdk.sh: ERROR: jlink produced an image without IMPLEMENTOR=Fray" >&2; exit 1; }
"$TMP/img/bin/java" -version 2>&1 | grep -q '"25' \
  || { echo "fray-jdk.sh: ERROR: the linked image is not Java 25" >&2; exit 1; }
rm -rf "$IMG" "$OUT/fray-java.stamp"
mv "$TMP/img" "$IMG"
printf '%s' "$stamp" > "$OUT/fray-java.stamp"
echo "fray-jdk: done in $(( $(date +%s) - start )) s: $IMG"
