//! The command line, as clap definitions only. Validation into typed settings happens in
//! [`crate::commands`] (one file per command), so no code past it sees an unchecked string.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::mock::FaultKind;

mod checks;
mod choices;
mod report;
mod settings;
pub use checks::{ChecksArgs, ClassArg};
pub use report::{AttacksArgs, BillingArgs, ReconcileArgs, ReportArgs, ReportCommand};

/// Audit TrustDecision face-liveness results: fetch each liveness id's result under the
/// vendor's rate limit, keep it in SQLite, and report what was billed and what was attacked.
#[derive(Debug, Parser)]
#[command(
    name = "liveaudit",
    version,
    about,
    long_about = None,
    max_term_width = 100,
    after_help = "Examples:
  liveaudit license
  liveaudit fetch --max-duration 2h --summary-file run.jsonl ids.csv
  liveaudit report billing --by month --price 0.035
  liveaudit export --cursor export.cursor -o changed.csv"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `-o -` is standard output, as `-` is standard input among fetch's files: an output flag
    /// of `-` becomes no file (it wrote a file named `-`).
    pub fn dash_is_stdout(mut self) -> Cli {
        let output = match &mut self.command {
            Command::Export(a) => &mut a.output,
            Command::Report(ReportCommand::Billing(a)) => &mut a.common.output,
            Command::Report(ReportCommand::Attacks(a)) => &mut a.common.output,
            Command::Reconcile(a) => &mut a.output,
            Command::Checks(a) => &mut a.output,
            _ => return self,
        };
        if output.as_deref() == Some(std::path::Path::new("-")) {
            *output = None;
        }
        self
    }
}

/// Options every command accepts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The database [env: LIVEAUDIT_DB] [default: ./liveaudit.db]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// A TOML config file [env: LIVEAUDIT_CONFIG] [default: the first of ./liveaudit.toml,
    /// $XDG_CONFIG_HOME/liveaudit/config.toml (~/.config/...), /etc/liveaudit/config.toml]
    // The variable is read past clap (`commands::config_path`), so an empty one is unset, as
    // every other LIVEAUDIT_* variable is.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A CSV of codes (code,message,charged,category,family) that adds to or overrides the
    /// built-in table [env: LIVEAUDIT_CODES]
    #[arg(long, global = true, value_name = "PATH")]
    pub codes_file: Option<PathBuf>,
    /// Log format on stderr: text for people, json for log collectors
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Colour on stderr: auto = only on a terminal and when NO_COLOR is unset or empty
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Only warnings and errors on stderr, no progress
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// When stderr gets colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where the vendor is and who we are to it.
#[derive(Debug, Args, Clone, Default)]
pub struct VendorArgs {
    /// The config file's account to use, `[accounts.NAME]` (its partner code, key, endpoints,
    /// zone, rate and prices)
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Partner code [env: TD_PARTNER_CODE]
    #[arg(long, value_name = "CODE")]
    pub partner_code: Option<String>,
    /// File holding the partner key (never given as a plain value) [env: TD_PARTNER_KEY holds
    /// the key itself]
    #[arg(long, value_name = "PATH")]
    pub partner_key_file: Option<PathBuf>,
    /// Result endpoint, without query string [env: TD_RESULT_URL]
    #[arg(long, value_name = "URL")]
    pub result_url: Option<String>,
    /// License endpoint, without query string [env: TD_LICENSE_URL]
    #[arg(long, value_name = "URL")]
    pub license_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub use choices::{DateByArg, ExportFormatArg, FormatArg, PeriodArg};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BadTimesArg {
    Stop,
    FetchTime,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch the result of every liveness id in FILE... (CSV, workbooks, folders, or - for stdin)
    /// into the database
    #[command(after_help = "Examples:
  liveaudit fetch ids.csv
  liveaudit fetch --max-duration 2h --summary-file runs.jsonl --metrics-file la.prom ids/*.csv
  liveaudit fetch --pending --max-duration 30m new.csv
  cat ids.txt | liveaudit fetch -")]
    Fetch(FetchArgs),
    /// The nightly job: per account, a credentials check, the inbox's files, a fetch of what is
    /// still open within a budget, billing reports of the days that changed, a new export file,
    /// the run summary and the metrics
    #[command(after_help = "Examples:
  liveaudit nightly --max-duration 4h
  liveaudit nightly --state /var/lib/liveaudit --until 05:30 --accounts id-app,ph-app
  liveaudit --log-format json nightly --inbox drop/ --out reports/")]
    Nightly(NightlyArgs),
    /// Write one row per liveness id in the database (CSV or JSON lines)
    #[command(after_help = "Examples:
  liveaudit export -o checks.csv
  liveaudit export --format jsonl | gzip > checks.jsonl.gz
  liveaudit export --cursor /var/lib/liveaudit/export.cursor -o changed.csv")]
    Export(ExportArgs),
    /// Billing (finance) and attack (fraud) reports from the database; never calls the vendor
    #[command(subcommand)]
    #[command(after_help = "Examples:
  liveaudit report billing --by month --price 0.035
  liveaudit report attacks --from 2024-05-01 --to 2024-05-31 --dimension channel
  liveaudit report attacks --from 2024-05-31 --to 2024-05-31 --fail-on-spike --format json")]
    Report(ReportCommand),
    /// List the checks behind a report's number, with the reports' own cuts (dates in the
    /// zone, code, family, category, class, input column, face)
    #[command(after_help = "Examples:
  liveaudit checks --tz Asia/Singapore --from 2026-10-21 --to 2026-10-21 --family injection
  liveaudit checks --class unknown_code --format csv -o unknown.csv
  liveaudit checks --attr channel=web --category attack --limit 20
  liveaudit checks --face dc9ea97974da6654 --format json")]
    Checks(ChecksArgs),
    /// Compare the vendor's statement (itemised or summary CSV) with our records; exit 5 on
    /// discrepancies
    #[command(after_help = "Examples:
  liveaudit reconcile --statement statement-2024-05.csv --price 0.035 --dispute dispute.xlsx
  liveaudit reconcile --statement summary.csv --tz Asia/Singapore --details discrepancies.csv
  liveaudit reconcile --statement id-app-2024-05.csv --account id-app
  liveaudit reconcile --statement utc-dated.csv --tz Asia/Singapore --statement-tz UTC")]
    Reconcile(ReconcileArgs),
    /// Retrieve a liveness license; doubles as a credentials check (exit 3 when refused)
    #[command(after_help = "Examples:
  liveaudit license
  liveaudit license --partner-key-file /run/credentials/liveaudit.service/partner-key")]
    License(LicenseArgs),
    /// Remove scores and face digests (biometric-derived data) of checks before a date, keeping
    /// codes, sequence ids and times for billing
    #[command(after_help = "Examples:
  liveaudit purge --before 2024-01-01 --dry-run
  liveaudit purge --before 2024-01-01 --tz Asia/Jakarta --images faces/")]
    Purge(PurgeArgs),
    /// Assign the checks recorded before accounts were (partner code `unknown`) to one account
    #[command(after_help = "Examples:
  liveaudit adopt --account id-app --dry-run
  liveaudit adopt --account id-app
  liveaudit adopt --partner-code acme-id")]
    Adopt(AdoptArgs),
    /// Print the code table in force (built-in plus --codes-file)
    #[command(after_help = "Examples:
  liveaudit codes
  liveaudit codes --format csv > my-codes.csv
  liveaudit --codes-file my-codes.csv codes")]
    Codes(CodesArgs),
    /// Run the embedded stand-in vendor
    #[command(after_help = "Examples:
  liveaudit mock
  liveaudit mock --listen 127.0.0.1:9000 --latency-ms 200
  liveaudit mock --fault-rate 0.1 --faults html500,too-many")]
    Mock(MockArgs),
    /// The whole job on sample_data/ against the embedded mock, in a temporary directory
    #[command(after_help = "Examples:
  liveaudit demo
  liveaudit demo --keep-db demo.db")]
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout
    #[command(after_help = "Examples:
  source <(liveaudit completions bash)
  liveaudit completions zsh > ~/.zfunc/_liveaudit
  liveaudit completions fish > ~/.config/fish/completions/liveaudit.fish")]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout
    #[command(after_help = "Examples:
  liveaudit man > /usr/local/share/man/man1/liveaudit.1
  liveaudit man | man -l -")]
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone)]
// Id files, --pending or both: each names the group (`what`) it belongs to.
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true)))]
pub struct FetchArgs {
    #[command(flatten)]
    pub vendor: VendorArgs,
    /// Id lists: CSV/TSV/text (UTF-8, or UTF-16 with a BOM; plain, gzip or zstd), workbooks
    /// (.xlsx .xls .ods), folders of those, FIFOs; - reads standard input
    #[arg(value_name = "FILE", group = "what")]
    pub files: Vec<PathBuf>,
    /// Also ask again every stored check of the account that still needs the vendor (pending,
    /// held at 11350, or failed), oldest first, without its original file
    #[arg(long, group = "what")]
    pub pending: bool,
    /// The id column's header [default: liveness_id, livenessId, id, ...; a headerless
    /// single-column file works too]
    #[arg(long, value_name = "NAME")]
    pub id_column: Option<String>,
    /// The time column's header [default: created_at, event_time, timestamp, time, date, ...]
    #[arg(long, value_name = "NAME")]
    pub time_column: Option<String>,
    /// Zone of input times written without an offset, and of workbook dates (IANA name or an
    /// offset such as +05:30) [config key input_tz, also per [accounts.NAME]] [default: UTC]
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub input_tz: Option<String>,
    /// Field delimiter: , ; | or tab [default: found from the header; tab for .tsv]
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// strftime format of the input's times, e.g. '%d/%m/%Y %H:%M' (repeatable, tried in order
    /// before the built-in forms)
    #[arg(long, value_name = "FMT")]
    pub time_format: Vec<String>,
    /// A time that cannot be read: stop before sending (stop), or date that check by its fetch
    /// time, marked per check and counted in the run (fetch-time)
    #[arg(long, value_enum, default_value_t = BadTimesArg::Stop)]
    pub bad_times: BadTimesArg,
    /// An id already stored with another event time than this input gives takes the input's
    /// (each change recorded per check); without it the stored time is kept and a warning counts
    /// them. The code and charge never change
    #[arg(long)]
    pub fix_times: bool,
    /// The workbook sheet to read [default: the first]
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Requests per second over all workers, retries included; 0 = no limit; auto = find the
    /// vendor's limit while running and keep just under it. The vendor publishes no limit: the
    /// default is deliberately modest [default: 10, or LIVEAUDIT_RATE, or rate in the config
    /// file]
    #[arg(long, value_name = "PER_SEC|auto", value_parser = parse_rate)]
    pub rate: Option<crate::config::RateValue>,
    /// With --rate auto: the rate it never goes above, per second
    #[arg(long, value_name = "PER_SEC", default_value_t = crate::fetch::adaptive::DEFAULT_MAX_RATE)]
    pub max_rate: u32,
    /// With --rate auto: the rate it never goes below, per second (a 429 there pauses every
    /// worker as at a fixed rate)
    #[arg(long, value_name = "PER_SEC", default_value_t = crate::fetch::adaptive::DEFAULT_MIN_RATE)]
    pub min_rate: u32,
    /// Requests that may leave back to back; 1 spreads them evenly
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub burst: u32,
    /// Requests in flight at most [default: the rate, between 8 and 1024, which keeps the
    /// rate with up to a second of vendor latency; 64 with --rate 0; with --rate auto, twice
    /// the rate times the measured latency, plus 8]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Seconds one request may take in all
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Retries per id after the first try (429s do not count; they pause every worker)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: usize,
    /// First back-off delay in milliseconds (after a fault it doubles per retry, after an 11350
    /// it stays this; both with jitter)
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub backoff_min_ms: u64,
    /// Longest back-off delay in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub backoff_max_ms: u64,
    /// Longest Retry-After honoured, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub max_retry_after: u64,
    /// Outage faults (5xx, timeouts, resets, garbage) and 429s that pause the run, in a row, that
    /// stop the run as "vendor down"
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub breaker: u32,
    /// Also write each face image (biometric data) into DIR; by default only its SHA-256 and
    /// size are kept
    #[arg(long, value_name = "DIR")]
    pub save_images: Option<PathBuf>,
    /// Largest answer body accepted, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 16)]
    pub max_body_mib: usize,
    #[command(flatten)]
    pub limits: InputLimitArgs,
    /// Time budget (e.g. 2h, 90m, 1h30m): then stop taking ids, let requests in flight land,
    /// save and exit 4; the next run continues
    #[arg(long, value_name = "DURATION", help_heading = "Schedule")]
    pub max_duration: Option<String>,
    /// Cut-off time of day (HH:MM in --tz; the next such time from now), same as
    /// --max-duration otherwise
    #[arg(long, value_name = "HH:MM", help_heading = "Schedule")]
    pub until: Option<String>,
    /// Time zone of --until (IANA name) [env: LIVEAUDIT_TZ] [default: UTC]
    #[arg(
        long,
        value_name = "ZONE",
        allow_hyphen_values = true,
        help_heading = "Schedule"
    )]
    pub tz: Option<String>,
    /// Append one JSON object describing the run (on every ending) to PATH
    #[arg(long, value_name = "PATH", help_heading = "Schedule")]
    pub summary_file: Option<PathBuf>,
    /// Write Prometheus text-format metrics to PATH (for node_exporter's textfile collector),
    /// replaced atomically on every ending
    #[arg(long, value_name = "PATH", help_heading = "Schedule")]
    pub metrics_file: Option<PathBuf>,
}

/// `liveaudit nightly`: each setting here beats the config file's `[nightly]` section.
#[derive(Debug, Args)]
pub struct NightlyArgs {
    /// The state directory: run summaries (runs.jsonl), metrics, the inbox and out folders by
    /// default [env: STATE_DIRECTORY, as systemd sets it] [default: .]
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Where id files are dropped (per account: INBOX/NAME) [default: STATE/inbox]
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// Where reports and export files go (per account: OUT/NAME) [default: STATE/out]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The metrics file (per account: its name with -NAME before .prom) [default:
    /// STATE/liveaudit.prom]
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// The config file's accounts to run, comma separated, one night each in this order
    /// [default: the one account of the settings]
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Time budget of the whole night, reading included (e.g. 2h, 90m, 5s)
    #[arg(long, value_name = "DURATION")]
    pub max_duration: Option<String>,
    /// Cut-off time of day (HH:MM in the billing zone); a night started more than 12 hours
    /// before it (it passed less than 12 hours ago) is over: no file read, no request, exit 4
    #[arg(long, value_name = "HH:MM")]
    pub until: Option<String>,
    /// A file changed less than this many seconds ago is still being written: it waits
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub settle_secs: u64,
    /// Requests per second (as fetch --rate) [default: the account's rate setting]
    #[arg(long, value_name = "PER_SEC|auto", value_parser = parse_rate)]
    pub rate: Option<crate::config::RateValue>,
    /// Retries per id after the first try (as fetch --max-retries)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_retries: usize,
    /// Longest back-off delay in milliseconds (as fetch --backoff-max-ms)
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub backoff_max_ms: u64,
    /// For testing and operations: the night's "now" (RFC 3339), which picks "yesterday" for
    /// the attack report and where --until falls [default: the clock]
    #[arg(long, value_name = "TIME", help_heading = "Testing")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format [default: from the --output file's extension (.csv, .jsonl), else csv]
    #[arg(long, value_enum)]
    pub format: Option<ExportFormatArg>,
    /// Write to FILE instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Export only checks changed since this cursor file was last written (all on first use),
    /// then advance it once the output is complete
    #[arg(long, value_name = "FILE")]
    pub cursor: Option<PathBuf>,
    /// Keep CSV cells that start with = + - @ as they are (by default they get a leading '
    /// so a spreadsheet does not run them as formulas)
    #[arg(long)]
    pub raw_cells: bool,
    /// Only the checks of this account: a config file account name, or a partner code
    /// (`unknown`: checks read before accounts were recorded)
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
}

#[derive(Debug, Args)]
pub struct LicenseArgs {
    #[command(flatten)]
    pub vendor: VendorArgs,
    /// License validity in seconds (1..=86400)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 600,
        allow_negative_numbers = true
    )]
    pub duration: i64,
    /// Seconds the request may take
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Purge checks dated before this day (YYYY-MM-DD, 00:00 in --tz)
    #[arg(long, value_name = "DATE")]
    pub before: String,
    /// Time zone of --before: the one tz setting of every report [env: LIVEAUDIT_TZ, config
    /// key tz] [default: UTC]
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub tz: Option<String>,
    /// Also delete the face images saved there with --save-images
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Only count what would be purged; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("whose").required(true).args(["account", "partner_code"])))]
pub struct AdoptArgs {
    /// The config file's account, [accounts.NAME], that gets them
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Or the partner code itself: one the config file names, or the unnamed account's
    /// (TD_PARTNER_CODE, partner_code in the file)
    #[arg(long, value_name = "CODE")]
    pub partner_code: Option<String>,
    /// Accept a --partner-code no setting names (letters, digits, '.', '_', '-' still)
    #[arg(long)]
    pub force: bool,
    /// Only count what would be adopted; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CodesArgs {
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    #[arg(long, default_value = "demo-partner")]
    pub partner_code: String,
    /// The key the mock accepts (a test stand-in, not a secret)
    #[arg(long, default_value = "demo-key")]
    pub partner_key: String,
    /// Fixed latency per answer, in milliseconds
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Extra random latency up to this many milliseconds
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Share of requests (0..1) answered with one of --faults instead
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Faults to inject, comma separated
    #[arg(long, value_enum, value_delimiter = ',')]
    pub faults: Vec<FaultKind>,
    // The help text is clap's, read as written (KIND=SHARE[xN] is no link).
    #[allow(rustdoc::broken_intra_doc_links)]
    /// Faults per id, on first attempts only, the same ids on every run: KIND=SHARE[xN],
    /// comma separated (e.g. html500=0.05,empty503=0.01x2,hang=0.006: 1% of ids get an empty
    /// 503 on their first two attempts)
    #[arg(long, value_name = "MIX", value_delimiter = ',')]
    pub fault_mix: Vec<crate::mock::MixedFault>,
    /// How long a `hang` fault holds its answer, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub hang_ms: u64,
    /// Answer 429 above this many requests per second
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Requests --rate-limit lets arrive back to back [default: a tenth of --rate-limit, at
    /// least 1]; never more than --rate-limit in any sliding second
    #[arg(long)]
    pub rate_burst: Option<u32>,
    /// After this many result calls, answer code 305 (daily maximum reached)
    #[arg(long)]
    pub stop_after: Option<u64>,
    /// Size of face images in bytes; 0 leaves them out
    #[arg(long, default_value_t = 24 * 1024)]
    pub image_bytes: usize,
    /// How the license endpoint misbehaves: empty503 (down), license500 / license410 (a
    /// license body under an error status), millis (expiry in milliseconds), expired
    #[arg(long, value_enum, value_name = "FAULT")]
    pub license_fault: Option<crate::mock::LicenseFault>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory of the sample data
    #[arg(long, default_value = "sample_data")]
    pub data: PathBuf,
    /// Keep the demo database here instead of a temporary directory
    #[arg(long, value_name = "PATH")]
    pub keep_db: Option<PathBuf>,
}

fn parse_rate(s: &str) -> Result<crate::config::RateValue, crate::config::RateError> {
    s.parse()
}

/// What one input may cost; over a limit the input is refused whole (exit 2), before anything
/// is sent. The defaults keep memory under about 300 MB.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Input limits")]
pub struct InputLimitArgs {
    /// Cells the sheets of an .ods or .xls may span (repeats and gaps included; ~100 bytes of
    /// memory each; .xlsx and .xlsb are streamed)
    #[arg(long, value_name = "N", default_value_t = crate::input::limits::DEFAULT_MAX_CELLS)]
    pub max_cells: u64,
    /// Bytes of one workbook cell, shared string or XML tag
    #[arg(long, value_name = "BYTES", default_value_t = crate::input::limits::DEFAULT_MAX_CELL_BYTES)]
    pub max_cell_bytes: u64,
    /// Entries of a workbook's shared-string table
    #[arg(long, value_name = "N", default_value_t = crate::input::limits::DEFAULT_MAX_SHARED_STRINGS)]
    pub max_shared_strings: u64,
    /// What one workbook part (a sheet, content.xml) may unpack to, in MiB
    #[arg(long, value_name = "MIB", default_value_t = crate::input::limits::DEFAULT_MAX_UNPACKED_MIB)]
    pub max_unpacked_mib: u64,
    /// Named columns besides the id and time a row keeps
    #[arg(long, value_name = "N", default_value_t = crate::input::limits::DEFAULT_MAX_COLUMNS)]
    pub max_columns: usize,
    /// Bytes of the other columns one row keeps
    #[arg(long, value_name = "BYTES", default_value_t = crate::input::limits::DEFAULT_MAX_ATTR_BYTES)]
    pub max_attr_bytes: usize,
}

impl InputLimitArgs {
    /// The limits these flags set.
    pub fn limits(&self) -> crate::input::Limits {
        crate::input::Limits {
            max_cells: self.max_cells,
            max_cell_bytes: self.max_cell_bytes,
            max_shared_strings: self.max_shared_strings,
            max_unpacked_mib: self.max_unpacked_mib,
            max_columns: self.max_columns,
            max_attr_bytes: self.max_attr_bytes,
        }
    }
}
