#!/usr/bin/env bash
# The memory and time of `ledger import ucdp` at dataset size, as whole processes: a local
# benchmark, not for CI (1,000,000 rows take some 1.5 GB of CSV and 1.5 GB of ledger on disk).
#
# Usage: benches/import.sh [--runs R] [N]   (N rows, default 100000; R runs of each, default 3)
#
# Builds `ledger` in release and writes N synthetic UCDP GED rows (GED's 49 columns, shaped like
# the real extract in tests/data/ucdp-ged-23.1-car: some 700 bytes a row, text with commas in
# quotes, four countries) and a revision of them, in which every tenth row has another death
# count and every hundredth row is gone. Then, each under /usr/bin/time -v: a first import of
# the release into a new ledger, a re-import of the same file (nothing changes), and an import
# of the revision (N/10 corrections, N/100 withdrawals), each R times on a copy of the ledger
# as it was before. Prints the median wall time and peak memory of each, its summary line, and
# PASS or FAIL against issue 10's 200 MB target.
#
# Writes only in a temporary directory (removed on exit, also on failure or Ctrl-C) and in the
# cargo target directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=import
synopsis="[--runs R] [N]"
# shellcheck source=benches/common.sh
source "$root/benches/common.sh"
runs=3
rows=100000
while (($#)); do
    case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    -*) usage ;;
    *) rows=$1; shift ;;
    esac
done
[[ "$rows" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || usage

make_tmp
free=$(($(df -B1 --output=avail "$tmp" | tail -n 1)))
need=$((rows * 4800))
((free >= need)) ||
    log "$tmp has $(mb "$free") MB free and the run may need some $(mb "$need") MB (set TMPDIR elsewhere?)"

build_ledger "$root"

# Prints N rows of a GED release; REVISED 1 gives the revision. Streams: nothing is held.
ged() {
    awk -v n="$1" -v revised="$2" 'BEGIN {
        print "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,conflict_new_id,conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,side_a_new_id,side_a,side_b_dset_id,side_b_new_id,side_b,number_of_sources,source_article,source_office,source_date,source_headline,source_original,where_prec,where_coordinates,where_description,adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,country_id,region,event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob"
        split("Central African Republic|Mali|Sudan|Somalia", countries, "|")
        split("482|432|625|520", country_ids, "|")
        split("Government of Central African Republic|Government of Mali|Government of Sudan|Government of Somalia", govs, "|")
        split("LRA|JNIM|RSF|Al-Shabaab", rebels, "|")
        split("Haute-Kotto prefecture|Mopti region|North Darfur state|Lower Shabelle region", adm1s, "|")
        split("Bria sub-prefecture|Djenne cercle|El Fasher locality|Marka district", adm2s, "|")
        split("31 28 31 30 31 30 31 31 30 31 30 31", mdays, " ")
        article = "\"Reuters, 2019-03-14; Agence France Presse, 2019-03-15; BBC Monitoring Africa, 2019-03-16; local radio report on the clashes near the market, with casualty figures from a hospital source and a statement by the armed group\""
        headline = "\"Fighting near the market leaves several dead, officials say; residents flee to the nearby town\""
        for (i = 1; i <= n; i++) {
            if (revised && i % 100 == 57) continue
            c = i % 4 + 1
            v = i % 3 + 1
            best = i % 13
            if (revised && i % 10 == 3) best++
            d = i % 365; m = 1
            while (d >= mdays[m]) { d -= mdays[m]; m++ }
            date = sprintf("%d-%02d-%02d", 1989 + i % 34, m, d + 1)
            lat = sprintf("%.6f", 2 + (i % 1000) / 100)
            lon = sprintf("%.6f", 15 + (i % 777) / 100)
            side_b = (v == 3) ? "Civilians" : rebels[c]
            printf "%d,0,%d,1,Clear,%d,%d,%d,%s: Government,%d,%d,%s - %s,%d,%d,%s,%d,%d,%s,-1,%s,,,%s,anonymous source,%d,%s town,%s town (near the market),%s,%s,%s,%s,POINT (%s %s),%d,%s,%s,Africa,1,1,%s,%s,0,%d,0,0,%d,%d,%d,%s,\n", \
                i, 1989 + i % 34, v, 300 + c, 300 + c, countries[c], 600 + c, 600 + c, govs[c], side_b, \
                80 + c, 80 + c, govs[c], 9000 + c, 9000 + c, side_b, article, headline, i % 7 + 1, \
                adm2s[c], adm2s[c], adm1s[c], adm2s[c], lat, lon, lon, lat, 130000 + i % 9999, countries[c], \
                country_ids[c], date, date, best, best, best + 2, best, country_ids[c]
        }
    }'
}

log "generating $rows rows of a release and its revision"
ged "$rows" 0 >"$tmp/release.csv"
ged "$rows" 1 >"$tmp/revision.csv"
log "release: $(mb "$(stat -c %s "$tmp/release.csv")") MB"

dir=$tmp/ledger
new_ledger "$dir"
cp -r "$dir" "$tmp/empty"
limit=200
echo "$(machine)"
echo "import of $rows synthetic UCDP GED rows ($(mb "$(stat -c %s "$tmp/release.csv")") MB), whole processes, median of $runs runs"
printf '%-28s %9s %9s  %s\n' run "wall s" "peak MB" summary
declare -a peaks=()
# Each run starts from a copy of the ledger as the previous step left it (an empty one for the
# first import); the last run's ledger is the next step's.
for step in "first import:release.csv:23.1" "re-import, no change:release.csv:23.1" \
    "revision (1/10, 1/100):revision.csv:24.1"; do
    IFS=: read -r name file label <<<"$step"
    rm -rf "$tmp/before"
    if [[ "$name" == first* ]]; then mv "$tmp/empty" "$tmp/before"; else mv "$dir" "$tmp/before"; fi
    walls=() mbs=()
    for ((run = 1; run <= runs; run++)); do
        rm -rf "$dir"
        cp -r "$tmp/before" "$dir"
        measure "$ledger" --ledger "$dir" import ucdp "$tmp/$file" --key "$dir.keys/inv.key" \
            --release "$label"
        walls+=("$wall") mbs+=("$peak_mb")
    done
    peak=$(printf '%s\n' "${mbs[@]}" | median_of %.1f)
    printf '%-28s %9.2f %9.1f  %s\n' "$name" "$(printf '%s\n' "${walls[@]}" | median_of %.2f)" \
        "$peak" "$(head -n 1 "$tmp/quiet.out" | sed 's/.*: //')"
    peaks+=("$name:$peak")
done
echo
targets_header
for p in "${peaks[@]}"; do
    target "peak memory, ${p%%:*}" "${p##*:}" "<=" "$limit" " MB"
done
