#!/usr/bin/env bash
# Speed of `ledger` against its peers, as whole processes, in one run.
#
# Usage: benches/compare.sh N [--runs R] [--peers DIR]
#
# Generates the peers' workload (N `incident.reported` events with the fields of
# ../shared/peers/pg_chain.sh and 360 bytes of notes, every third one corrected) as NDJSON,
# builds `ledger` in release, and in each of R rounds (default 5) runs, one after the other:
# ledger (append, verify, `project regions --format csv --rebuild`, each under /usr/bin/time
# for wall time and peak memory, and the ledger directory's size after the append), then
# pg_chain.sh N and py_eventsourcing.py N from the peers directory (default ../shared/peers
# beside the repository). It prints the median of each step per system and the ratios
# (peer median / ledger median: above 1 means ledger is faster). The machine is shared and
# noisy: quote ratios from one run, not absolute times from different runs.
#
# Writes only in a temporary directory (removed on exit) and in the cargo target directory;
# pg_chain.sh makes and removes its own /tmp/pgpeer.* directory.
set -euo pipefail

usage() {
    echo "usage: benches/compare.sh N [--runs R] [--peers DIR]" >&2
    exit 2
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ledger-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log() { echo "compare: $*" >&2; }

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

log "building ledger (cargo build --release)"
(cd "$root" && cargo build --release --quiet)
target=${CARGO_TARGET_DIR:-target}
[[ "$target" == /* ]] || target="$root/$target"
ledger="$target/release/ledger"

# The workload, in pg_chain.sh's rotation; a correction follows its report, as in
# py_eventsourcing.py. 2023 is not a leap year, so g%365 days from 1 January stay in 2023.
work="$tmp/work.ndjson"
awk -v n="$n" 'BEGIN {
    split("Battles|Violence against civilians|Explosions/Remote violence|Strategic developments", types, "|")
    split("Islamic State (Sahel)|JNIM|Military Forces of Mali|Wagner Group", actors, "|")
    split("Menaka|Gao|Kidal|Mopti", regions, "|")
    split("31 28 31 30 31 30 31 31 30 31 30 31", mdays, " ")
    notes = ""
    for (i = 0; i < 30; i++) notes = notes "report text "
    for (g = 1; g <= n; g++) {
        d = g % 365; m = 1
        while (d >= mdays[m]) { d -= mdays[m]; m++ }
        printf "{\"type\":\"incident.reported\",\"data\":{\"incident_id\":\"MLI%d\",\"event_type\":\"%s\",\"actor1\":\"%s\",\"admin1\":\"%s\",\"fatalities\":%d,\"event_date\":\"2023-%02d-%02d\",\"notes\":\"%s\"}}\n", \
            g, types[g % 4 + 1], actors[g % 4 + 1], regions[g % 4 + 1], g % 7, m, d + 1, notes
        if (g % 3 == 0)
            printf "{\"type\":\"incident.corrected\",\"data\":{\"incident_id\":\"MLI%d\",\"changes\":{\"fatalities\":%d},\"reason\":\"revised casualty count\"}}\n", g, g % 5
    }
}' >"$work"
corrections=$((n / 3))
work_mb=$(awk -v b="$(wc -c <"$work")" 'BEGIN { printf "%.1f", b / 1e6 }')
log "workload: $n incidents + $corrections corrections, $work_mb MB of NDJSON"

# results.tsv: system, step, value (seconds, or MB for memory and disk).
results="$tmp/results.tsv"
: >"$results"
# Runs "$@" with its output kept aside, shown only if it fails.
quiet() {
    if ! "$@" >"$tmp/quiet.out" 2>&1; then
        log "$* failed:"
        cat "$tmp/quiet.out" >&2
        exit 2
    fi
}

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"; }

# Runs "$@" under /usr/bin/time; records its wall seconds and peak memory in MB as ledger's STEP.
timed() {
    local step=$1; shift
    quiet /usr/bin/time -f '%e %M' -o "$tmp/time.out" "$@"
    local secs kb
    read -r secs kb <"$tmp/time.out"
    record ledger "$step" "$secs"
    record ledger "$step.mem" "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')"
}

run_ledger() {
    local d="$tmp/ledger-run"
    rm -rf "$d"
    mkdir "$d"
    quiet "$ledger" key generate --out "$d/admin.key" --name admin
    quiet "$ledger" key generate --out "$d/inv.key" --name inv
    local inv
    inv=$(grep -o 'ed25519:[0-9a-f]*' "$tmp/quiet.out")
    quiet "$ledger" --ledger "$d/l" init --admin-key "$d/admin.key" --origin bench/compare
    quiet "$ledger" --ledger "$d/l" key enroll --key "$d/admin.key" --public "$inv" \
        --name inv --role investigator
    timed append "$ledger" --ledger "$d/l" append --key "$d/inv.key" "$work"
    log "ledger append: $(head -n 1 "$tmp/quiet.out")"
    record ledger disk "$(du -sk "$d/l" | awk '{ printf "%.1f", $1 / 1024 }')"
    timed verify "$ledger" --ledger "$d/l" verify
    timed project "$ledger" --ledger "$d/l" project regions --format csv --rebuild
    rm -rf "$d"
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
# system has no such step.
median() {
    awk -F'\t' -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' "$results" | sort -g |
        awk -v f="${3:-%.3f}" '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf f "\n", m
        }'
}
ratio() {
    awk -v p="$1" -v l="$2" 'BEGIN {
        if (p == "-" || l == "-" || l + 0 == 0) print "-"; else printf "%.2fx\n", p / l
    }'
}

systems=(ledger)
((run_pg)) && systems+=(pg_chain)
((run_py)) && systems+=(py_eventsourcing)

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "benches/compare.sh $n: medians of $runs runs, whole processes (ledger at $commit)"
mem=$(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576; exit }' /proc/meminfo 2>/dev/null || true)
echo "machine: $(nproc) cores, ${model:-unknown CPU}, ${mem:-unknown RAM}, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "workload: $n incidents (360-byte notes) + $corrections corrections = $((n + corrections)) events, $work_mb MB NDJSON;"
echo "  ledger appends all $((n + corrections)) in one batch; pg_chain has no corrections ($n rows); py_eventsourcing has them"
echo
printf '%-18s %10s %10s %10s\n' system append_s verify_s project_s
for s in "${systems[@]}"; do
    printf '%-18s %10s %10s %10s\n' "$s" "$(median "$s" append)" "$(median "$s" verify)" "$(median "$s" project)"
done
echo
printf 'ledger peak memory (MB): append %s, verify %s, project %s; ledger dir after append: %s MB\n' \
    "$(median ledger append.mem %.0f)" "$(median ledger verify.mem %.0f)" "$(median ledger project.mem %.0f)" \
    "$(median ledger disk %.1f)"
if ((${#systems[@]} > 1)); then
    echo
    echo "ratio = peer median / ledger median (above 1: ledger is faster)"
    printf '%-18s %10s %10s %10s\n' peer append verify project
    for s in "${systems[@]:1}"; do
        row=()
        for step in append verify project; do
            row+=("$(ratio "$(median "$s" "$step")" "$(median ledger "$step")")")
        done
        printf '%-18s %10s %10s %10s\n' "$s" "${row[@]}"
    done
fi
