#!/usr/bin/env bash
# The measured run behind docs/performance.md: waits (up to 20 min, polling every 30 s) for the
# 1-minute load average to drop below 1.5, then runs every benchmark once with the annotations'
# defaults, the psref/lookup allocation profile, and psref under ParallelGC (write-barrier
# comparison) and psref's CPU time per pair (CpuTimePairs), sampling /proc/loadavg every 30 s
# meanwhile. Output: $OUT/*.json, *.txt, cpu-time.txt, load.txt.
# Usage: bench/measure.sh [OUT]   (from the repository root, after building benchmarks.jar)
set -euo pipefail
OUT=${1:-docs/results}
JAR=bench/target/benchmarks.jar
FLAGS="-Dmpsafe.nodiagnostic=true -Djmh.executor=CUSTOM -Djmh.executor.class=org.mpsafe.bench.HostThreadExecutor"
mkdir -p "$OUT"
for i in $(seq 1 40); do
  l=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$l" 'BEGIN { exit !(l < 1.5) }'; then break; fi
  echo "waiting for load < 1.5 (now $l, poll $i/40)"
  sleep 30
done
{ date -u +%FT%TZ; echo "before: $(cat /proc/loadavg)"; } > "$OUT/load.txt"
( while sleep 30; do echo "$(date -u +%T) $(cat /proc/loadavg)"; done ) >> "$OUT/load.txt" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT
java -jar "$JAR" -rf json -rff "$OUT/all.json" | tee "$OUT/all.txt"
java -jar "$JAR" -prof gc -p routes=1000 -p changes=0 \
  'PsrefBench.(psref|atomic|longAdder)|LookupBench.lookupPsref1Thread' \
  -rf json -rff "$OUT/gc.json" | tee "$OUT/gc.txt"
java -jar "$JAR" 'PsrefBench.psref' -jvmArgsAppend "-XX:+UseParallelGC $FLAGS" \
  -rf json -rff "$OUT/parallelgc.json" | tee "$OUT/parallelgc.txt"
java $FLAGS -cp "$JAR" org.mpsafe.bench.CpuTimePairs | tee "$OUT/cpu-time.txt"
echo "after: $(cat /proc/loadavg)" >> "$OUT/load.txt"
# keep the results small: drop JMH's raw per-sample data, keep only each log's summary table
python3 - "$OUT"/all.json "$OUT"/gc.json "$OUT"/parallelgc.json <<'PY'
import json, sys
for path in sys.argv[1:]:
    data = json.load(open(path))
    for r in data:
        for m in [r.get("primaryMetric")] + list((r.get("secondaryMetrics") or {}).values()):
            if isinstance(m, dict):
                m.pop("rawData", None)
                m.pop("rawDataHistogram", None)
    json.dump(data, open(path, "w"), indent=1)
PY
for f in all gc parallelgc; do
  { grep -E "^\[(rwlock )?route changer" "$OUT/$f.txt" || true; sed -n '/^Benchmark /,$p' "$OUT/$f.txt"; } \
    > "$OUT/$f.summary.txt"
  rm "$OUT/$f.txt"
done
