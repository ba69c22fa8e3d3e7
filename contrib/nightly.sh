#!/bin/sh
# liveaudit's nightly job, for the systemd unit (contrib/systemd) or cron (contrib/cron):
#   credentials check -> fetch with a time budget -> reports -> incremental export -> metrics.
#
# Input: CSV files of liveness ids dropped into $INBOX by whatever exports them. A file stays
# there until a fetch of it ends with status 0 (a cut-off night leaves it, and the next night's
# run continues with the ids left), then moves to $INBOX/done.
# Output: yesterday's billing and attack reports and the checks changed since the last export,
# in $OUT; one JSON line per run in $STATE/runs.jsonl; Prometheus metrics in $METRICS.
# Exit status: the fetch's if not 0 (3 refused, 4 cut off or incomplete, 130 stopped), else 6
# when the attack report lists a spike, else the export's.
#
# Settings (environment): LIVEAUDIT_DB, LIVEAUDIT_TZ (report days and --until; it wins over
# `tz` in the config file, so give it the same zone, or leave both unset for UTC), TD_* or
# /etc/liveaudit/config.toml for the vendor; LIVEAUDIT_UNTIL (default 05:30),
# LIVEAUDIT_INBOX, LIVEAUDIT_OUT, LIVEAUDIT_METRICS, LIVEAUDIT_BIN.
set -u

STATE=${STATE_DIRECTORY:-/var/lib/liveaudit}
INBOX=${LIVEAUDIT_INBOX:-$STATE/inbox}
OUT=${LIVEAUDIT_OUT:-$STATE/out}
METRICS=${LIVEAUDIT_METRICS:-$STATE/liveaudit.prom}
UNTIL=${LIVEAUDIT_UNTIL:-05:30}
BIN=${LIVEAUDIT_BIN:-liveaudit}
export LIVEAUDIT_DB="${LIVEAUDIT_DB:-$STATE/liveaudit.db}"
ZONE=${LIVEAUDIT_TZ:-UTC}

# Under systemd the key comes as a credential (LoadCredential=partner-key:...).
if [ -n "${CREDENTIALS_DIRECTORY:-}" ] && [ -r "$CREDENTIALS_DIRECTORY/partner-key" ]; then
    set -- --partner-key-file "$CREDENTIALS_DIRECTORY/partner-key"
else
    set --
fi

la() { "$BIN" --log-format json "$@"; }

mkdir -p "$INBOX/done" "$OUT" || exit 2

# 1. Credentials: a refused key stops the night here (exit 3), before anything is fetched.
la license "$@" --duration 60 >/dev/null || exit $?

# 2. Fetch what the inbox holds, within the budget.
fetch_status=0
files=$(find "$INBOX" -maxdepth 1 -type f -name '*.csv' | sort)
if [ -n "$files" ]; then
    # shellcheck disable=SC2086 # one file per line, names without blanks (the inbox's rule)
    la fetch "$@" --tz "$ZONE" --until "$UNTIL" \
        --summary-file "$STATE/runs.jsonl" --metrics-file "$METRICS" $files
    fetch_status=$?
    if [ "$fetch_status" -eq 0 ]; then
        # shellcheck disable=SC2086
        mv $files "$INBOX/done/"
    fi
fi

# 3. Yesterday's reports, in the zone the business counts days in.
day=$(TZ="$ZONE" date -d yesterday +%F)
la report billing --tz "$ZONE" --from "$day" --to "$day" -o "$OUT/billing-$day.csv"
la report attacks --tz "$ZONE" --from "$day" --to "$day" --fail-on-spike \
    -o "$OUT/attacks-$day.json"
attacks_status=$?

# 4. What changed since the last export, for the warehouse.
la export --cursor "$STATE/export.cursor" -o "$OUT/changed-$day.csv"
export_status=$?

if [ "$fetch_status" -ne 0 ]; then exit "$fetch_status"; fi
if [ "$attacks_status" -ne 0 ]; then exit "$attacks_status"; fi
exit "$export_status"
