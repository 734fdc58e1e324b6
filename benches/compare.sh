#!/usr/bin/env bash
# Speed of `ledger` against its peers, as whole processes, in one run, beside issue 10's targets.
#
# Usage: benches/compare.sh N [--runs R] [--peers DIR]
#
# Generates the peers' workload (N `incident.reported` events with the fields of
# ../shared/peers/pg_chain.sh and 360 bytes of notes, every third one corrected) as NDJSON,
# builds `ledger` in release, and in each of R rounds (default 5) runs, one after the other:
# ledger (append of the whole file as one batch, verify, `project regions --format csv
# --rebuild`, `project incidents --rebuild` and `export --dir --rebuild`, each under
# /usr/bin/time -v for wall time and peak memory; the ledger directory's disk use after the
# append and its caches after the export), then pg_chain.sh N and py_eventsourcing.py N from
# the peers directory (default ../shared/peers beside the repository). It prints the median of
# each step per system, ledger's peak memory and disk, and each target of issue 10 with the
# figure measured for it and PASS or FAIL. Ratios are peer median / ledger median: above 1
# means ledger is faster. The machine is shared and noisy: quote ratios from one run, not
# absolute times from different runs.
#
# Writes only in a temporary directory (removed on exit) and in the cargo target directory;
# pg_chain.sh makes and removes its own /tmp/pgpeer.* directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=compare
synopsis="N [--runs R] [--peers DIR]"
# shellcheck source=benches/common.sh
source "$root/benches/common.sh"
n=""
runs=5
peers="$root/../shared/peers"
while (($#)); do
    case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --peers) peers=${2:?--peers needs a directory}; shift 2 ;;
    -h | --help) usage ;;
    *) [[ -z "$n" ]] || usage; n=$1; shift ;;
    esac
done
[[ "$n" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || usage

make_tmp

# Which peers can run here; a missing one is named once and left out.
run_pg=0
run_py=0
if [[ ! -d "$peers" ]]; then
    log "no peers directory at $peers (pass --peers DIR), so only ledger runs."
else
    peers=$(cd "$peers" && pwd)
    if [[ ! -f "$peers/pg_chain.sh" ]]; then
        log "$peers has no pg_chain.sh; skipping the PostgreSQL peer."
    elif ((EUID != 0)) || [[ ! -x /usr/lib/postgresql/15/bin/initdb ]]; then
        log "pg_chain.sh needs root and PostgreSQL 15 in /usr/lib/postgresql/15/bin; skipping it."
    else
        run_pg=1
    fi
    if [[ ! -f "$peers/py_eventsourcing.py" ]]; then
        log "$peers has no py_eventsourcing.py; skipping the eventsourcing peer."
    elif ! python3 -c 'import eventsourcing' 2>/dev/null; then
        log "py_eventsourcing.py needs the Python package eventsourcing (pip install eventsourcing); skipping it."
    else
        run_py=1
    fi
fi

build_ledger "$root"

work="$tmp/work.ndjson"
workload 1 "$n" >"$work"
corrections=$((n / 3))
work_mb=$(awk -v b="$(wc -c <"$work")" 'BEGIN { printf "%.1f", b / 1e6 }')
log "workload: $n incidents + $corrections corrections, $work_mb MB of NDJSON"

# results.tsv: system, step, value (seconds, or MB for memory and disk, or a plain ratio).
results="$tmp/results.tsv"
: >"$results"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"; }

# Runs "$@" as ledger's STEP, recording its wall seconds and peak memory.
timed() {
    local step=$1; shift
    measure "$@"
    record ledger "$step" "$wall"
    record ledger "$step.mem" "$peak_mb"
}

run_ledger() {
    local d="$tmp/ledger-run" entries
    rm -rf "$d" "$d.keys" "$tmp/export"
    new_ledger "$d"
    timed append "$ledger" --ledger "$d" append --key "$d.keys/inv.key" "$work"
    log "ledger append: $(head -n 1 "$tmp/quiet.out")"
    # The log and derived state as the append left them (readers do not grow them in the
    # segment layout; sled did); the caches after every view was rebuilt.
    disk_split "$d"
    record ledger disk.log "$disk_log"
    record ledger disk.derived "$disk_derived"
    record ledger disk.stored "$disk_stored"
    local stored=$stored_bytes canonical
    timed verify "$ledger" --ledger "$d" verify --format json
    entries=$(verified_entries)
    canonical=$(canonical_bytes "$d" "$entries")
    [[ "$canonical" == n/a ]] || record ledger canonical "$(mb "$canonical")"
    record ledger disk.ratio "$(disk_ratio "$stored" "$canonical")"
    timed project "$ledger" --ledger "$d" project regions --format csv --rebuild
    timed incidents "$ledger" --ledger "$d" project incidents --format csv --rebuild
    timed export "$ledger" --ledger "$d" export --dir "$tmp/export" --rebuild
    record ledger disk.cache "$(mb "$(disk_bytes "$d/cache")")"
    rm -rf "$d" "$d.keys" "$tmp/export"
}

# Picks KEY=VALUE out of a peer's one-line report.
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 + 0 }'; }

run_pg_chain() {
    local line
    line=$(bash "$peers/pg_chain.sh" "$n" | tail -n 1) || { log "pg_chain.sh $n failed"; exit 2; }
    [[ "$(field bad "$line")" == 0 ]] || log "pg_chain reported bad rows: $line"
    record pg_chain append "$(field append_s "$line")"
    record pg_chain verify "$(field verify_s "$line")"
    record pg_chain project "$(field project_s "$line")"
}

run_py_eventsourcing() {
    local line
    mkdir -p "$tmp/py"
    # The peer makes its SQLite file with tempfile.mkdtemp() and leaves it: keep it in $tmp.
    line=$(cd "$tmp/py" && TMPDIR="$tmp/py" python3 "$peers/py_eventsourcing.py" "$n" | tail -n 1) ||
        { log "py_eventsourcing.py $n failed"; exit 2; }
    rm -rf "$tmp/py"
    record py_eventsourcing append "$(field append_s "$line")"
    record py_eventsourcing project "$(field project_s "$line")"
}

for ((round = 1; round <= runs; round++)); do
    log "round $round of $runs: ledger"
    run_ledger
    if ((run_pg)); then
        log "round $round of $runs: pg_chain"
        run_pg_chain
    fi
    if ((run_py)); then
        log "round $round of $runs: py_eventsourcing"
        run_py_eventsourcing
    fi
done

# The median of SYSTEM's STEP over the rounds (printf FORMAT, default %.3f), or "-" when that
# system has no such step; values that are not numbers ("n/a", "-") are left out.
median() {
    awk -F'\t' -v s="$1" -v k="$2" '$1 == s && $2 == k && $3 ~ /^[0-9.]+$/ { print $3 }' "$results" |
        median_of "${3:-%.3f}"
}

systems=(ledger)
((run_pg)) && systems+=(pg_chain)
((run_py)) && systems+=(py_eventsourcing)

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "benches/compare.sh $n: medians of $runs runs, whole processes (ledger at $commit)"
machine
echo "workload: $n incidents (360-byte notes) + $corrections corrections = $((n + corrections)) events, $work_mb MB NDJSON;"
echo "  ledger appends all $((n + corrections)) in one batch; pg_chain has no corrections ($n rows); py_eventsourcing has them"
echo
printf '%-18s %10s %10s %10s\n' system append_s verify_s project_s
for s in "${systems[@]}"; do
    printf '%-18s %10s %10s %10s\n' "$s" "$(median "$s" append)" "$(median "$s" verify)" "$(median "$s" project)"
done
echo "(project: regions --format csv --rebuild; pg_chain verifies hashes and links only, and"
echo " py_eventsourcing has no verify)"
printf 'ledger also: project incidents --rebuild %s s, export --dir --rebuild %s s\n' \
    "$(median ledger incidents)" "$(median ledger export)"
echo
printf 'ledger peak memory (MB): append %s, verify %s, project regions %s, project incidents %s, export %s\n' \
    "$(median ledger append.mem %.0f)" "$(median ledger verify.mem %.0f)" "$(median ledger project.mem %.0f)" \
    "$(median ledger incidents.mem %.0f)" "$(median ledger export.mem %.0f)"
derived=$(median ledger disk.derived %.1f)
if [[ "$derived" == - ]]; then
    printf 'ledger disk (MB): log and derived state in sled %s (the earlier layout);' "$(median ledger disk.log %.1f)"
else
    printf 'ledger disk (MB): log files %s, derived state %s;' "$(median ledger disk.log %.1f)" "$derived"
fi
printf ' caches %s after every view was rebuilt\n' "$(median ledger disk.cache %.1f)"
canonical=$(median ledger canonical %.1f)
disk_ratio=$(median ledger disk.ratio %.2f)
if [[ "$canonical" == - ]]; then
    canonical=n/a disk_ratio=n/a
else
    canonical="$canonical MB"
fi
printf '  all but caches %s MB; canonical entry bytes %s; ratio %s\n' \
    "$(median ledger disk.stored %.1f)" "$canonical" "$disk_ratio"

echo
echo "issue 10's targets (ratio = peer median / ledger median; a peer that did not run gives -)"
targets_header
speedup() { ratio "$(median "$1" "$2")" "$(median ledger "$2")"; }
target "append vs pg_chain" "$(speedup pg_chain append)" ">=" 1.5 x
target "append vs py_eventsourcing" "$(speedup py_eventsourcing append)" ">=" 20 x
target "verify vs pg_chain's hash-only verify" "$(speedup pg_chain verify)" ">=" 1 x
target "project regions vs pg_chain" "$(speedup pg_chain project)" ">=" 1 x
target "project regions vs py_eventsourcing" "$(speedup py_eventsourcing project)" ">=" 15 x
for step in append verify project incidents export; do
    name=$step
    [[ $step == project ]] && name="project regions"
    [[ $step == incidents ]] && name="project incidents"
    target "peak memory, $name" "$(median ledger "$step.mem" %.0f)" "<=" 200 " MB"
done
target "disk (caches apart) / canonical bytes" "$disk_ratio" "<=" 1.5 x
