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
#
# Several accounts: LIVEAUDIT_ACCOUNTS="id-app ph-app" (names of [accounts.NAME] in the config
# file) runs the night once per account, in that order, each with --account NAME and its own
# inbox ($INBOX/NAME), reports ($OUT/NAME), export cursor (export-NAME.cursor) and metrics file
# (liveaudit-NAME.prom); the run summaries share runs.jsonl (each line names its account). One
# zone (LIVEAUDIT_TZ) counts the days of every account in the list.
set -u

STATE=${STATE_DIRECTORY:-/var/lib/liveaudit}
INBOX=${LIVEAUDIT_INBOX:-$STATE/inbox}
OUT=${LIVEAUDIT_OUT:-$STATE/out}
METRICS=${LIVEAUDIT_METRICS:-$STATE/liveaudit.prom}
UNTIL=${LIVEAUDIT_UNTIL:-05:30}
BIN=${LIVEAUDIT_BIN:-liveaudit}
export LIVEAUDIT_DB="${LIVEAUDIT_DB:-$STATE/liveaudit.db}"
ZONE=${LIVEAUDIT_TZ:-UTC}
ACCOUNTS=${LIVEAUDIT_ACCOUNTS:-}

la() { "$BIN" --log-format json "$@"; }

# One account's night: credentials check, fetch, reports, export. $1 is the account's name
# (empty: the one account the config or the environment gives); the rest are its key flags.
# Prints nothing; returns the night's status (see the header).
night() {
    account=$1
    shift
    if [ -n "$account" ]; then
        set -- --account "$account" "$@"
        inbox="$INBOX/$account"
        out="$OUT/$account"
        cursor="$STATE/export-$account.cursor"
        metrics="${METRICS%.prom}-$account.prom"
    else
        inbox=$INBOX
        out=$OUT
        cursor="$STATE/export.cursor"
        metrics=$METRICS
    fi
    mkdir -p "$inbox/done" "$out" || return 2

    # 1. Credentials: a refused key stops this account's night here (exit 3).
    la license "$@" --duration 60 >/dev/null || return $?

    # 2. Fetch what the inbox holds, within the budget.
    fetch_status=0
    files=$(find "$inbox" -maxdepth 1 -type f -name '*.csv' | sort)
    if [ -n "$files" ]; then
        # shellcheck disable=SC2086 # one file per line, names without blanks (the inbox's rule)
        la fetch "$@" --tz "$ZONE" --until "$UNTIL" \
            --summary-file "$STATE/runs.jsonl" --metrics-file "$metrics" $files
        fetch_status=$?
        if [ "$fetch_status" -eq 0 ]; then
            # shellcheck disable=SC2086
            mv $files "$inbox/done/"
        fi
    fi

    # 3. Yesterday's reports, in the zone the business counts days in. Reports take
    # --account, not the key flags: drop those.
    if [ -n "$account" ]; then
        set -- --account "$account"
    else
        set --
    fi
    day=$(TZ="$ZONE" date -d yesterday +%F)
    la report billing "$@" --tz "$ZONE" --from "$day" --to "$day" -o "$out/billing-$day.csv"
    la report attacks "$@" --tz "$ZONE" --from "$day" --to "$day" --fail-on-spike \
        -o "$out/attacks-$day.json"
    attacks_status=$?

    # 4. What changed since the last export, for the warehouse.
    la export "$@" --cursor "$cursor" -o "$out/changed-$day.csv"
    export_status=$?

    if [ "$fetch_status" -ne 0 ]; then return "$fetch_status"; fi
    if [ "$attacks_status" -ne 0 ]; then return "$attacks_status"; fi
    return "$export_status"
}

mkdir -p "$INBOX" "$OUT" || exit 2

if [ -z "$ACCOUNTS" ]; then
    # One account. Under systemd the key comes as a credential
    # (LoadCredential=partner-key:...).
    if [ -n "${CREDENTIALS_DIRECTORY:-}" ] && [ -r "$CREDENTIALS_DIRECTORY/partner-key" ]; then
        night "" --partner-key-file "$CREDENTIALS_DIRECTORY/partner-key"
    else
        night ""
    fi
    exit $?
fi

# Several accounts, one after another (one database takes one fetch at a time). Each account's
# key is the credential partner-key-NAME when the unit loads one, else its section's
# partner_key_file. Every account runs, whatever the one before it ended with, but an
# interrupted night (130) stops at once. The status is the first non-zero one, in the order of
# LIVEAUDIT_ACCOUNTS.
status=0
for account in $ACCOUNTS; do
    key="${CREDENTIALS_DIRECTORY:-/nonexistent}/partner-key-$account"
    if [ -r "$key" ]; then
        night "$account" --partner-key-file "$key"
    else
        night "$account"
    fi
    this=$?
    if [ "$this" -eq 130 ]; then exit 130; fi
    if [ "$status" -eq 0 ]; then status=$this; fi
done
exit "$status"
