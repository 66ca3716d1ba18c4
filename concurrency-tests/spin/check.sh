#!/usr/bin/env bash
# check.sh -- model-check the NetBSD low-priority xcall protocol (PR kern/51632)
# with spin. CI entry point:  bash concurrency-tests/spin/check.sh
#
# For NCPU in 2 3:
#   FIXED  (donep accounting): exhaustive search must report errors: 0
#          (assertions + invalid end states, i.e. no hang), search completed.
#   LEGACY (xc_tailp accounting): search must report errors: 1 (the
#          xc_wait property assertion); the trail is then shortened with
#          pan -i (pan built with -DREACH, which makes -i find the shortest
#          trail) and replayed with spin -t as a readable timeline.
# Exits non-zero if spin/gcc are missing (and cannot be installed) or any
# expectation fails. Build artefacts go to concurrency-tests/target/spin/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
SRC_DIR=$(pwd)
MODEL=xcall_lowpri.pml
OUT_DIR=$(cd .. && pwd)/target/spin
DEPTH=100000                 # -m: far above the ~170 steps the model needs
HASH=20                      # -w: 2^20 hash slots, plenty for <100k states (the
                             #     default 2^24 costs more time to allocate than the search)
CFLAGS=(-O1 -DSAFETY)        # exhaustive safety search (no BITSTATE); -O1: pan.c
                             # compiles 2x faster than -O2 and the search is sub-second

fail() { echo "check.sh: FAIL: $*" >&2; exit 1; }

# ---- tools ---------------------------------------------------------------
missing=()
command -v spin >/dev/null 2>&1 || missing+=(spin)
command -v gcc  >/dev/null 2>&1 || missing+=(gcc)
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing ${missing[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        fail "missing ${missing[*]}: install the Debian/Ubuntu package(s) '${missing[*]}' (apt-get install ${missing[*]}), or spin from https://spinroot.com, then re-run"
    fi
fi
command -v spin >/dev/null 2>&1 || fail "spin still not on PATH after install"
command -v gcc  >/dev/null 2>&1 || fail "gcc still not on PATH after install"
echo "== $(spin -V | head -n1); $(gcc --version | head -n1)"

t_start=$(date +%s.%N)
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"

# build <dir> <extra cc flags...>: spin -a + gcc in <dir>, spin defines in $DEFS
build() {
    local dir=$1; shift
    mkdir -p "$dir"
    cp "$SRC_DIR/$MODEL" "$dir/"
    (cd "$dir" && spin "${DEFS[@]}" -a "$MODEL" >spin-a.log 2>&1) \
        || { cat "$dir/spin-a.log"; fail "spin -a ${DEFS[*]}"; }
    (cd "$dir" && gcc "${CFLAGS[@]}" "$@" -o pan pan.c >gcc.log 2>&1) \
        || { cat "$dir/gcc.log"; fail "gcc ${DEFS[*]}"; }
}

# runpan <dir> <log> <pan args...>
runpan() {
    local dir=$1 log=$2; shift 2
    (cd "$dir" && ./pan "$@" >"$log" 2>&1) || true   # pan's exit code is not the verdict
    grep -q 'assertion violations	+' "$dir/$log" || fail "$dir/$log: assertions not checked"
    grep -q 'invalid end states	+'   "$dir/$log" || fail "$dir/$log: invalid end states not checked"
    if grep -qiE 'max search depth too small|out of memory|resolve hash collisions' "$dir/$log"; then
        cat "$dir/$log"; fail "$dir/$log: search truncated"
    fi
}

summary=()
for NCPU in 2 3; do
    # ---- FIXED ------------------------------------------------------------
    DEFS=(-DNCPU=$NCPU)
    d=$OUT_DIR/fixed-ncpu$NCPU
    echo
    echo "== FIXED  NCPU=$NCPU: spin ${DEFS[*]} -a $MODEL; gcc ${CFLAGS[*]}; ./pan -m$DEPTH -w$HASH"
    build "$d"
    runpan "$d" pan.out -m$DEPTH -w$HASH
    grep -E 'errors: [0-9]+' "$d/pan.out" | sed 's/^/   /'
    grep -E 'states, stored$' "$d/pan.out" | sed 's/^/   /'
    if ! grep -qE 'errors: 0$' "$d/pan.out" || grep -q 'Search not completed' "$d/pan.out"; then
        cat "$d/pan.out"
        fail "FIXED NCPU=$NCPU: expected an exhaustive search with errors: 0"
    fi
    states=$(grep -E 'states, stored$' "$d/pan.out" | awk '{print $1}')
    echo "   OK: exhaustive, no assertion violation, no invalid end state (no hang)"
    summary+=("FIXED  NCPU=$NCPU: errors 0, $states states stored (exhaustive)")

    # ---- LEGACY -----------------------------------------------------------
    DEFS=(-DLEGACY -DNCPU=$NCPU)
    d=$OUT_DIR/legacy-ncpu$NCPU
    echo
    echo "== LEGACY NCPU=$NCPU: spin ${DEFS[*]} -a $MODEL; gcc ${CFLAGS[*]} -DREACH; ./pan -m$DEPTH -w$HASH"
    build "$d" -DREACH
    runpan "$d" pan.out -m$DEPTH -w$HASH
    grep -E 'pan:1:|errors: [0-9]+' "$d/pan.out" | sed 's/^/   /'
    grep -qE 'errors: 1$' "$d/pan.out" \
        && grep -q 'assertion violated (finished\[job\]==sent\[job\])' "$d/pan.out" \
        || { cat "$d/pan.out"; fail "LEGACY NCPU=$NCPU: expected errors: 1 (xc_wait property violated)"; }

    # shortest counterexample: iterative shortening (-i), same binary
    ds=$d
    echo "   shortening: ./pan -i -m$DEPTH -w$HASH"
    rm -f "$ds/$MODEL.trail"
    runpan "$ds" pan-i.out -i -m$DEPTH -w$HASH
    [[ -s $ds/$MODEL.trail ]] || { cat "$ds/pan-i.out"; fail "LEGACY NCPU=$NCPU: no trail written"; }
    (cd "$ds" && spin -T "${DEFS[@]}" -t "$MODEL" >replay.out 2>&1) || true
    grep -q 'assertion violated' "$ds/replay.out" \
        || { cat "$ds/replay.out"; fail "LEGACY NCPU=$NCPU: trail replay does not end in the assertion"; }
    steps=$(sed -n 's/.*trail ends after \([0-9]*\) steps.*/\1/p' "$ds/replay.out")
    [[ -n $steps ]] || fail "LEGACY NCPU=$NCPU: cannot read trail length"
    echo "   OK: counterexample found; shortest trail = $steps steps. Timeline (model printf's):"
    # printf lines of the replay start in column 0; spin's own lines start with
    # 'spin:', '#processes', a tab/space (variable dump) or 'N processes created'
    grep -vE '^(spin:|#processes|[[:space:]]|[0-9]+ processes created)' "$ds/replay.out" \
        | nl -w4 -s'. ' | tee "$ds/timeline.txt"
    grep -E '^spin: (text of failed assertion|trail ends)' "$ds/replay.out" | sed 's/^/      /'
    summary+=("LEGACY NCPU=$NCPU: errors 1 (assertion), shortest trail $steps steps")
done

t_end=$(date +%s.%N)
echo
echo "== summary"
printf '   %s\n' "${summary[@]}"
awk -v a="$t_start" -v b="$t_end" -v d="$OUT_DIR" 'BEGIN { printf "   total %.1f s; artefacts in %s\n", b - a, d }'
echo "== spin check PASSED"
