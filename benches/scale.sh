#!/usr/bin/env bash
# How `ledger`'s costs grow with the log, as whole processes: a local benchmark, not for CI (the
# default sizes take a long time and several GB of disk).
#
# Usage: benches/scale.sh [--sizes LIST] [--batch LINES] [--one-batch LINES] [--runs R]
#
#   --sizes LIST       ledger sizes in entries, comma-separated (default 100000,1000000; add
#                      10000000 for issue 10's 1.3x target, which needs some 11 GB of disk)
#   --batch LINES      lines per `ledger append` while the ledger grows (default 100000)
#   --one-batch LINES  also append this many lines as one batch into a new ledger, for the
#                      memory target of a large batch (default 1000000; 0 skips it)
#   --runs R           runs of each small command at each size (default 11)
#
# Builds `ledger` in release. First, if asked, appends --one-batch lines of the peers' workload
# (benches/common.sh: incidents with 360 bytes of notes, every third one corrected) to a new
# ledger in one `ledger append` and removes that ledger. Then grows one ledger to each size in
# turn, appending the workload in batches of --batch lines, each batch generated into a file
# first (streamed by awk, so neither generator nor file outgrows one batch) and appended by a
# whole `ledger append` process under /usr/bin/time -v. At each size it prints: per-entry cost
# of the append (the batches that grew the ledger from the previous size), of `verify` and of
# `project regions --format csv --rebuild`, with each one's peak memory; at sizes up to
# 1,000,000, the peak memory and wall time of `project incidents --rebuild` and `export --rebuild`; the disk
# split as in compare.sh; and the median of R runs of `ledger append` of one event and of `ledger show 0`.
# Then each of issue 10's targets that it measures, with PASS or FAIL: peak memory at most
# 200 MB, disk at most 1.5x the canonical entry bytes, one append at most 30 ms and `show 0`
# at most 20 ms at 1,000,000 entries, and the per-entry costs at the largest size within 1.3x of
# those at the smallest (the target is 10,000,000 against 100,000).
#
# Writes only in a temporary directory (removed on exit, also on failure or Ctrl-C) and in the
# cargo target directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=scale
synopsis="[--sizes LIST] [--batch LINES] [--one-batch LINES] [--runs R]"
# shellcheck source=benches/common.sh
source "$root/benches/common.sh"
sizes=100000,1000000
batch=100000
one_batch=1000000
runs=11
while (($#)); do
    case "$1" in
    --sizes) sizes=${2:?--sizes needs a list}; shift 2 ;;
    --batch) batch=${2:?--batch needs a number}; shift 2 ;;
    --one-batch) one_batch=${2:?--one-batch needs a number}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    *) usage ;;
    esac
done
[[ "$sizes" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ && "$batch" =~ ^[1-9][0-9]*$ &&
    "$one_batch" =~ ^[0-9]+$ && "$runs" =~ ^[1-9][0-9]*$ ]] || usage
mapfile -t sizes < <(tr , '\n' <<<"$sizes" | sort -n -u)

make_tmp

# The log and derived state take some 1 KB of disk per entry of this workload (measured: 9.8 GB
# at 10,000,000); a batch file some 450 B a line. Warn rather than refuse: the estimate is rough.
largest=${sizes[-1]}
need=$(((largest > one_batch ? largest : one_batch) * 1100 + batch * 450))
free=$(($(df -B1 --output=avail "$tmp" | tail -n 1)))
((free >= need)) ||
    log "$tmp has $(mb "$free") MB free and the largest ledger may need some $(mb "$need") MB (set TMPDIR elsewhere?)"

build_ledger "$root"

# Appends LINES lines of the workload, from incident `next_incident` on, to ledger DIR as one
# `ledger append`; adds to `appended` the lines it appended. Sets wall and peak_mb.
append_lines() {
    local dir=$1 lines=$2 file="$tmp/batch.ndjson" incidents
    # Each incident is a line and each third one a correction too: 3/4 of the lines are incidents.
    incidents=$(((lines * 3 + 3) / 4))
    workload "$next_incident" $((next_incident + incidents - 1)) >"$file"
    next_incident=$((next_incident + incidents))
    appended=$((appended + $(wc -l <"$file")))
    measure "$ledger" --ledger "$dir" append --key "$dir.keys/inv.key" "$file"
    rm -f "$file"
}

per_entry_us() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.2f", s / n * 1e6 }'; }
median_ms() { printf '%s\n' "$@" | median_of %.4f | awk '{ printf "%.1f", $1 * 1000 }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
report="$tmp/report.txt"
{
    echo "benches/scale.sh --sizes $(IFS=,; echo "${sizes[*]}") --batch $batch --one-batch $one_batch --runs $runs (ledger at $commit)"
    machine
    echo "workload: incidents with 360-byte notes, every third one corrected (benches/common.sh); whole processes"
} >"$report"

if ((one_batch > 0)); then
    log "appending $one_batch lines as one batch"
    next_incident=1 appended=0
    new_ledger "$tmp/one"
    append_lines "$tmp/one" "$one_batch"
    one_wall=$wall one_peak=$peak_mb one_lines=$appended
    rm -rf "$tmp/one" "$tmp/one.keys"
fi

# rows.tsv: one line per size, fields in the order of the header below.
rows="$tmp/rows.tsv"
: >"$rows"
dir="$tmp/grow"
new_ledger "$dir"
next_incident=1 appended=0
for size in "${sizes[@]}"; do
    grown_from=$appended grow_wall=0 grow_peak=0
    while ((appended < size)); do
        lines=$((size - appended < batch ? size - appended : batch))
        log "appending $lines lines at $appended of $size"
        append_lines "$dir" "$lines"
        grow_wall=$(awk -v a="$grow_wall" -v b="$wall" 'BEGIN { print a + b }')
        grow_peak=$(max "$grow_peak" "$peak_mb")
    done
    disk_split "$dir"
    stored=$stored_bytes
    log "verify and project at $appended lines"
    measure "$ledger" --ledger "$dir" verify --format json
    entries=$(verified_entries) verify_wall=$wall verify_peak=$peak_mb
    measure "$ledger" --ledger "$dir" project regions --format csv --rebuild
    project_wall=$wall project_peak=$peak_mb
    disk_vs_canonical=$(disk_ratio "$stored" "$(canonical_bytes "$dir" "$entries")")
    cache=$(mb "$(disk_bytes "$dir/cache")")
    # The memory target covers every view and the export at up to 1,000,000 entries; past that
    # they take minutes, and are left out.
    incidents_peak=- export_peak=- incidents_s=- export_s=-
    if ((size <= 1000000)); then
        log "project incidents and export at $appended lines"
        measure "$ledger" --ledger "$dir" project incidents --format csv --rebuild
        incidents_peak=$peak_mb incidents_s=$(printf '%.2f' "$wall")
        measure "$ledger" --ledger "$dir" export --dir "$tmp/export" --rebuild
        export_peak=$peak_mb export_s=$(printf '%.2f' "$wall")
        # Only project regions' cache is reported at the next size.
        rm -rf "$tmp/export" "$dir/cache"
    fi
    log "$runs single appends and show 0 at $entries entries"
    singles=()
    for ((i = 1; i <= runs; i++)); do
        printf '{"type":"incident.reported","data":{"incident_id":"ONE-%s-%s","event_type":"Battles","actor1":"JNIM","admin1":"Gao","fatalities":1,"event_date":"2023-05-01","notes":"one more"}}\n' \
            "$size" "$i" >"$tmp/one.json"
        measure "$ledger" --ledger "$dir" append --key "$dir.keys/inv.key" "$tmp/one.json"
        singles+=("$wall")
    done
    shows=()
    for ((i = 1; i <= runs; i++)); do
        measure "$ledger" --ledger "$dir" show 0
        shows+=("$wall")
    done
    printf '%s\t' "$size" "$entries" \
        "$(per_entry_us "$grow_wall" $((appended - grown_from)))" "$grow_peak" \
        "$(per_entry_us "$verify_wall" "$entries")" "$verify_peak" \
        "$(per_entry_us "$project_wall" "$entries")" "$project_peak" \
        "$disk_log" "$disk_derived" "$cache" "$disk_vs_canonical" \
        "$(median_ms "${singles[@]}")" "$(median_ms "${shows[@]}")" \
        "$incidents_peak" "$export_peak" "$incidents_s" "$export_s" >>"$rows"
    echo >>"$rows"
done

# Field NAME of the row of SIZE.
columns=(size entries append_us append_mb verify_us verify_mb project_us project_mb log_mb derived_mb cache_mb disk_ratio append1_ms show0_ms incidents_mb export_mb incidents_s export_s)
get() {
    local i
    for i in "${!columns[@]}"; do
        [[ "${columns[$i]}" == "$2" ]] && awk -F'\t' -v s="$1" -v c=$((i + 1)) '$1 == s { print $c }' "$rows"
    done
}

{
    echo
    echo "per-entry cost in microseconds (append: the batches of $batch lines since the previous size) and peak memory in MB"
    printf '%10s %10s %12s %11s %10s %11s %11s %11s\n' size entries append_us/e append_MB verify_us/e verify_MB project_us/e project_MB
    for s in "${sizes[@]}"; do
        printf '%10s %10s %12s %11s %10s %11s %11s %11s\n' "$s" "$(get "$s" entries)" \
            "$(get "$s" append_us)" "$(get "$s" append_mb)" "$(get "$s" verify_us)" "$(get "$s" verify_mb)" \
            "$(get "$s" project_us)" "$(get "$s" project_mb)"
    done
    echo
    echo "disk in MB (log files, or sled on the earlier layout; derived state; caches after project regions),"
    echo "disk but caches / canonical entry bytes, and medians of $runs runs of one-event append and show 0 in ms"
    printf '%10s %10s %11s %10s %10s %12s %9s\n' size log_MB derived_MB cache_MB disk/canon append1_ms show0_ms
    for s in "${sizes[@]}"; do
        printf '%10s %10s %11s %10s %10s %12s %9s\n' "$s" "$(get "$s" log_mb)" "$(get "$s" derived_mb)" \
            "$(get "$s" cache_mb)" "$(get "$s" disk_ratio)" "$(get "$s" append1_ms)" "$(get "$s" show0_ms)"
    done
    echo
    echo "peak memory in MB and wall time in s of project incidents --rebuild and export --rebuild (- past 1000000 entries)"
    printf '%10s %12s %10s %12s %10s\n' size incidents_MB export_MB incidents_s export_s
    for s in "${sizes[@]}"; do
        printf '%10s %12s %10s %12s %10s\n' "$s" "$(get "$s" incidents_mb)" "$(get "$s" export_mb)" \
            "$(get "$s" incidents_s)" "$(get "$s" export_s)"
    done
    if ((one_batch > 0)); then
        echo
        printf 'one batch of %s lines into a new ledger: %.2f s (%s us per entry), peak memory %s MB\n' \
            "$one_lines" "$one_wall" "$(per_entry_us "$one_wall" "$one_lines")" "$one_peak"
    fi

    echo
    echo "issue 10's targets"
    targets_header
    if ((one_batch > 0)); then
        target "peak memory, one batch of $one_lines lines" "$one_peak" "<=" 200 " MB"
    fi
    for s in "${sizes[@]}"; do
        peak=$(max "$(max "$(get "$s" append_mb)" "$(get "$s" verify_mb)")" "$(get "$s" project_mb)")
        target "peak memory at $s, append/verify/project" "$peak" "<=" 200 " MB"
        if [[ "$(get "$s" incidents_mb)" != - ]]; then
            peak=$(max "$(get "$s" incidents_mb)" "$(get "$s" export_mb)")
            target "peak memory at $s, project incidents/export" "$peak" "<=" 200 " MB"
        fi
        target "disk but caches / canonical bytes at $s" "$(get "$s" disk_ratio)" "<=" 1.5 x
    done
    # The latency targets are set at 1,000,000 entries; at other sizes they are shown, not judged.
    at=1000000
    if [[ -z "$(get "$at" size)" ]]; then
        echo "(one-event append and show 0 are judged at 1000000 entries, which --sizes left out)"
    else
        target "one-event append at $at" "$(get "$at" append1_ms)" "<=" 30 " ms"
        target "show 0 at $at" "$(get "$at" show0_ms)" "<=" 20 " ms"
    fi
    if ((${#sizes[@]} > 1)); then
        first=${sizes[0]} last=${sizes[-1]}
        for cost in append verify project; do
            growth=$(ratio "$(get "$last" "${cost}_us")" "$(get "$first" "${cost}_us")")
            target "$cost per entry, $last against $first" "$growth" "<=" 1.3 x
        done
    fi
} >>"$report"
cat "$report"
