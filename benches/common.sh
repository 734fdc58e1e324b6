# Shared by benches/compare.sh and benches/scale.sh (sourced, not run): the peers' workload,
# the release build, a new ledger with an enrolled investigator, whole-process measurement and
# the split of a ledger directory's disk use. Callers set `bench` to their name and `synopsis` to
# their arguments before sourcing it, and call make_tmp before anything that writes.

# Decimal points in EPOCHREALTIME and awk's output must not depend on the caller's locale.
export LC_ALL=C

log() { echo "$bench: $*" >&2; }
usage() {
    echo "usage: benches/$bench.sh $synopsis" >&2
    exit 2
}

# Sets `tmp` to a new temporary directory, removed when the script exits however it exits.
make_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/ledger-$bench.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
}

# Runs "$@" with its output kept in $tmp/quiet.out, shown only if it fails.
quiet() {
    if ! "$@" >"$tmp/quiet.out" 2>&1; then
        log "$* failed:"
        cat "$tmp/quiet.out" >&2
        exit 2
    fi
}

# Builds `ledger` in release from the repository at $1 and sets `ledger` to the binary.
build_ledger() {
    log "building ledger (cargo build --release)"
    (cd "$1" && cargo build --release --quiet)
    local target=${CARGO_TARGET_DIR:-target}
    [[ "$target" == /* ]] || target="$1/$target"
    ledger="$target/release/ledger"
}

# Prints the peers' workload as NDJSON: incidents FIRST to LAST in ../shared/peers/pg_chain.sh's
# rotation with 360 bytes of notes, each third one followed by its correction (as in
# py_eventsourcing.py). Streams: nothing is held in memory. 2023 is not a leap year, so g%365
# days from 1 January stay in 2023.
workload() {
    awk -v first="$1" -v last="$2" 'BEGIN {
        split("Battles|Violence against civilians|Explosions/Remote violence|Strategic developments", types, "|")
        split("Islamic State (Sahel)|JNIM|Military Forces of Mali|Wagner Group", actors, "|")
        split("Menaka|Gao|Kidal|Mopti", regions, "|")
        split("31 28 31 30 31 30 31 31 30 31 30 31", mdays, " ")
        notes = ""
        for (i = 0; i < 30; i++) notes = notes "report text "
        for (g = first; g <= last; g++) {
            d = g % 365; m = 1
            while (d >= mdays[m]) { d -= mdays[m]; m++ }
            printf "{\"type\":\"incident.reported\",\"data\":{\"incident_id\":\"MLI%d\",\"event_type\":\"%s\",\"actor1\":\"%s\",\"admin1\":\"%s\",\"fatalities\":%d,\"event_date\":\"2023-%02d-%02d\",\"notes\":\"%s\"}}\n", \
                g, types[g % 4 + 1], actors[g % 4 + 1], regions[g % 4 + 1], g % 7, m, d + 1, notes
            if (g % 3 == 0)
                printf "{\"type\":\"incident.corrected\",\"data\":{\"incident_id\":\"MLI%d\",\"changes\":{\"fatalities\":%d},\"reason\":\"revised casualty count\"}}\n", g, g % 5
        }
    }'
}

# Creates a ledger at DIR (keys beside it in DIR.keys/) whose investigator key DIR.keys/inv.key
# may append incidents.
new_ledger() {
    local dir=$1 keys=$1.keys inv
    mkdir -p "$keys"
    quiet "$ledger" key generate --out "$keys/admin.key" --name admin
    quiet "$ledger" key generate --out "$keys/inv.key" --name inv
    inv=$(grep -o 'ed25519:[0-9a-f]*' "$tmp/quiet.out")
    quiet "$ledger" --ledger "$dir" init --admin-key "$keys/admin.key" --origin "bench/$bench"
    quiet "$ledger" --ledger "$dir" key enroll --key "$keys/admin.key" --public "$inv" \
        --name inv --role investigator
}

# Runs "$@" as a whole process under /usr/bin/time -v and sets `wall` (seconds, from bash's
# microsecond clock, since time's own figure has 10 ms steps) and `peak_mb` (its "Maximum
# resident set size" in MB). The command's output is in $tmp/quiet.out.
measure() {
    local t0=$EPOCHREALTIME
    quiet /usr/bin/time -v -o "$tmp/time.out" "$@"
    local t1=$EPOCHREALTIME
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    peak_mb=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 * 1024 / 1e6 }' "$tmp/time.out")
}

# The entry count `ledger verify --format json` printed into $tmp/quiet.out.
verified_entries() {
    awk -F'[:,]' '/"entries"/ { gsub(/ /, "", $2); print $2; exit }' "$tmp/quiet.out"
}

# The median of the numbers on standard input, printed with printf FORMAT (default %.3f), or
# "-" when there are none.
median_of() {
    sort -g | awk -v f="${1:-%.3f}" '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf f "\n", m
    }'
}

# Prints A / B with two decimals, or "-" when either is missing.
ratio() {
    awk -v p="$1" -v l="$2" 'BEGIN {
        if (p == "-" || l == "-" || l + 0 == 0) print "-"; else printf "%.2f\n", p / l
    }'
}

# The head of a table of targets, and one row of it: NAME MEASURED OP LIMIT [UNIT], where OP is
# <= or >=, judged PASS or FAIL, or "-" when nothing was measured.
targets_header() { printf '%-50s %12s %12s  %s\n' target measured limit verdict; }
target() {
    local shown=$2 judged
    judged=$(awk -v m="$2" -v op="$3" -v l="$4" 'BEGIN {
        if (m == "-" || m == "n/a" || m == "") { print "-"; exit }
        print ((op == "<=") ? (m + 0 <= l + 0) : (m + 0 >= l + 0)) ? "PASS" : "FAIL"
    }')
    [[ "$judged" == - ]] || shown=$2${5:-}
    printf '%-50s %12s %12s  %s\n' "$1" "$shown" "$3 $4${5:-}" "$judged"
}

# MB are 10^6 bytes throughout, the unit of issue 10's targets.
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
# Bytes allocated on disk under PATH (0 when it does not exist).
disk_bytes() { if [[ -e "$1" ]]; then du -sB1 "$1" | cut -f1; else echo 0; fi; }

# Sets disk_log, disk_derived, disk_cache and disk_stored (MB on disk) and stored_bytes for the
# ledger at DIR. The log's canonical files are DIR/log/ in the segment-file layout and sled in
# the earlier one, where sled holds the derived state too (disk_derived is then "-"). Stored
# means everything but the caches (DIR/cache), which are conveniences rebuilt on demand.
disk_split() {
    local dir=$1 cache
    cache=$(disk_bytes "$dir/cache")
    stored_bytes=$(($(disk_bytes "$dir") - cache))
    disk_cache=$(mb "$cache")
    disk_stored=$(mb "$stored_bytes")
    if [[ -d "$dir/log" ]]; then
        disk_log=$(mb "$(disk_bytes "$dir/log")")
        disk_derived=$(mb "$(disk_bytes "$dir/sled")")
    else
        disk_log=$(mb "$(disk_bytes "$dir/sled")")
        disk_derived=-
    fi
}

# Prints the canonical entry bytes (the sum of entry lengths) of the ledger at DIR holding
# ENTRIES entries: its segment files' sizes less the 2-byte length prefix of each entry
# (docs/FORMAT.md). sled's files do not show them, so on the earlier layout it prints "n/a".
canonical_bytes() {
    local segments
    # printf: awk prints a sum past 2^31 (a 10,000,000-entry log) as 9.0e+09, which bash cannot
    # read as a number.
    segments=$(find "$1/log" -name '*.seg' -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }')
    if ((segments > 0)); then echo $((segments - 2 * $2)); else echo n/a; fi
}

# Prints STORED / CANONICAL bytes, or "n/a" when the canonical bytes are not known.
disk_ratio() { if [[ "$2" == n/a ]]; then echo n/a; else ratio "$1" "$2"; fi; }

# One line naming the machine and the time, for the head of a report.
machine() {
    local model mem
    model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    mem=$(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576; exit }' /proc/meminfo 2>/dev/null || true)
    echo "machine: $(nproc) cores, ${model:-unknown CPU}, ${mem:-unknown RAM}, $(date -u '+%Y-%m-%d %H:%M UTC')"
}
