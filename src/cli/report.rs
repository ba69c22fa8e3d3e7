//! The report commands' arguments: billing, attacks (their common window and output flags) and
//! reconcile. Clap definitions only; [`crate::commands`] checks them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{DateByArg, FormatArg, PeriodArg};

/// Options shared by every report.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Period length [default: day]; given, `--format csv` writes the periods table
    #[arg(long, value_enum)]
    pub by: Option<PeriodArg>,
    /// First day included (YYYY-MM-DD, in --tz)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day included (YYYY-MM-DD, in --tz)
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// The billing day's time zone (IANA name, e.g. Asia/Singapore): a setting of the account,
    /// shared by every report and reconcile [env: LIVEAUDIT_TZ, config key tz] [default: UTC]
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub tz: Option<String>,
    /// Which time dates a check: event (from the input; checks without one are "undated"),
    /// event-or-fetch, or fetch
    #[arg(long, value_enum, value_name = "TIME", default_value_t = DateByArg::Event)]
    pub date_by: DateByArg,
    /// Only the checks of this account: a config file's [accounts.NAME], else a partner code
    /// as recorded (`unknown`: checks whose account was never recorded); its tz and prices
    /// apply unless --tz/--prices/--price are given
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Group by account too: per-account totals and periods (each account priced on its own)
    #[arg(long)]
    pub by_account: bool,
    /// Output format [default: from the --output extension, else table on a terminal, csv
    /// otherwise]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// The table --format csv writes (totals, periods, codes, ...) [default: the one the flags
    /// ask for: periods with --by, the dimension with --dimension, else the first]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Write to FILE instead of stdout (its extension picks the format: .csv .xlsx .json .md
    /// .html .txt); with --format csv, a DIR/ (ending in /, or an existing directory) gets every
    /// table as its own NAME.csv
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep CSV cells that start with = + - @ as they are (by default they get a leading '
    /// so a spreadsheet does not run them as formulas)
    #[arg(long)]
    pub raw_cells: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Charged vs uncharged checks per period and per code, with amounts
    #[command(after_help = "Examples:
  liveaudit report billing --by month --price 0.035 --currency USD
  liveaudit report billing --from 2024-05-01 --to 2024-05-31 --tz Asia/Jakarta -o may.html
  liveaudit report billing --by month --by-account --format csv --table accounts
  liveaudit report billing --account id-app --by month -o id-app.xlsx")]
    Billing(BillingArgs),
    /// Attack codes and families per period, spikes, repeated faces, scores
    #[command(after_help = "Examples:
  liveaudit report attacks --dimension channel --top 5
  liveaudit report attacks --by week --format json -o attacks.json
  liveaudit report attacks --from 2024-05-31 --to 2024-05-31 --fail-on-spike
  liveaudit report attacks --by week --by-account")]
    Attacks(AttacksArgs),
}

#[derive(Debug, Args)]
pub struct BillingArgs {
    #[command(flatten)]
    pub common: ReportArgs,
    /// Price of one charged check (exact decimal, e.g. 0.035): a flat price for every check
    #[arg(long, value_name = "AMOUNT", conflicts_with = "prices")]
    pub price: Option<String>,
    /// Price list (TOML: periods by date, monthly volume tiers, per-code prices; see README,
    /// "Price lists") [config key prices]
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Currency shown with amounts (a price list names its own)
    #[arg(long, value_name = "CODE", default_value = "USD")]
    pub currency: String,
}

#[derive(Debug, Args)]
pub struct AttacksArgs {
    #[command(flatten)]
    pub common: ReportArgs,
    /// Group by this input column too (channel, app_version, country...)
    #[arg(long, value_name = "COLUMN")]
    pub dimension: Option<String>,
    /// Rows shown for --dimension before the rest is folded into "other"
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Spike rule: the lower end of the 95% interval (Wilson) of a family's share of checks in
    /// a period is at least FACTOR times its trailing baseline (mean share of the previous
    /// --baseline periods) ...
    #[arg(long, value_name = "FACTOR", default_value_t = 2.0)]
    pub spike_factor: f64,
    /// ... and at least this many attacks of that family in the period
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub spike_min: u64,
    /// Periods in the trailing baseline: the periods just before each one, before --from too
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub baseline: usize,
    /// Exit with status 6 when the report lists a spike (to page someone from a nightly job)
    #[arg(long)]
    pub fail_on_spike: bool,
    /// Input columns whose distinct values each reused face lists (comma-separated, e.g.
    /// user_id,channel) [default: every column the checks have]
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub face_columns: Vec<String>,
    /// Show each reused face's image in the HTML report, read from DIR, where `fetch
    /// --save-images DIR` saved them (off by default: faces are biometric data)
    #[arg(long, value_name = "DIR")]
    pub with_images: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The vendor's statement (CSV)
    #[arg(long, value_name = "FILE")]
    pub statement: PathBuf,
    /// The billing day's time zone (IANA name); also reads statement times written without an
    /// offset, unless --statement-tz [env: LIVEAUDIT_TZ, config key tz] [default: UTC]
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub tz: Option<String>,
    /// Which time dates our checks (as in `report billing`)
    #[arg(long, value_enum, value_name = "TIME", default_value_t = DateByArg::Event)]
    pub date_by: DateByArg,
    /// The zone the statement writes its times in, when they carry no offset (IANA name or an
    /// offset such as +05:30) [default: the --tz zone]
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub statement_tz: Option<String>,
    /// The account the statement bills: a config file's [accounts.NAME], else a partner code
    /// as recorded; only its checks are compared, and its tz and prices apply (required when
    /// the database holds checks of more than one account)
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// First day of the billed period (YYYY-MM-DD) [default: the statement's first day]
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day of the billed period (YYYY-MM-DD) [default: the statement's last day]
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Contract price of one charged check; lines billed at another amount are flagged
    #[arg(long, value_name = "AMOUNT", conflicts_with = "prices")]
    pub price: Option<String>,
    /// Price list (as `report billing --prices`): each line's amount is checked against the
    /// price the list gives its check [config key prices]
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    #[arg(long, value_name = "CODE", default_value = "USD")]
    pub currency: String,
    /// Discrepant lines allowed before exit status 5
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub tolerance: u64,
    /// Net amount difference allowed before exit status 5
    #[arg(long, value_name = "AMOUNT", default_value = "0")]
    pub amount_tolerance: String,
    /// Underbilled checks this close to the period's edge are noted as a likely time-zone shift
    #[arg(long, value_name = "HOURS", default_value_t = 12)]
    pub boundary_hours: u32,
    /// Write every discrepancy (ids, sequence ids, times, codes) to this CSV
    #[arg(long, value_name = "FILE")]
    pub details: Option<PathBuf>,
    /// Write the lines to dispute, with the evidence the vendor needs, to FILE.csv or FILE.xlsx
    /// (the workbook also holds the bridge and the period)
    #[arg(long, value_name = "FILE")]
    pub dispute: Option<PathBuf>,
    /// Statement column with the liveness id
    #[arg(long, value_name = "NAME")]
    pub statement_id_column: Option<String>,
    /// Statement column with the sequence id
    #[arg(long, value_name = "NAME")]
    pub statement_sequence_column: Option<String>,
    /// Statement column with the billing time
    #[arg(long, value_name = "NAME")]
    pub statement_time_column: Option<String>,
    /// Statement column with the result code
    #[arg(long, value_name = "NAME")]
    pub statement_code_column: Option<String>,
    /// Statement column with the partner code, for a statement of several accounts (found
    /// without it under partner_code, partner_id or partner)
    #[arg(long, value_name = "NAME")]
    pub statement_partner_column: Option<String>,
    /// Statement column with the currency (found without it under currency or ccy); a line
    /// in another currency than our prices' is refused (exit 2)
    #[arg(long, value_name = "NAME")]
    pub statement_currency_column: Option<String>,
    /// Statement column with the amount
    #[arg(long, value_name = "NAME")]
    pub statement_amount_column: Option<String>,
    /// Statement column with the count (summary statements)
    #[arg(long, value_name = "NAME")]
    pub statement_count_column: Option<String>,
    /// Statement column with the day or month (summary statements)
    #[arg(long, value_name = "NAME")]
    pub statement_period_column: Option<String>,
    /// Output format [default: from the --output extension, else table on a terminal, csv
    /// otherwise]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// The table --format csv writes (summary, discrepancies, ...) [default: the first]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Write to FILE instead of stdout (its extension picks the format, .xlsx a workbook);
    /// with --format csv, a DIR/ gets every table as NAME.csv
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep CSV cells that start with = + - @ as they are (by default they get a leading '
    /// so a spreadsheet does not run them as formulas)
    #[arg(long)]
    pub raw_cells: bool,
}
