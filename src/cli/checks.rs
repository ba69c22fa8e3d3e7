//! The arguments of `liveaudit checks`: the reports' own cuts, as flags. Clap definitions only;
//! [`crate::commands`] checks them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{DateByArg, FormatArg};

/// A check class, as `--class` names it (see README, "Check classes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ClassArg {
    Charged,
    /// Uncharged, provisional included (as every report counts it)
    Uncharged,
    Provisional,
    UnknownCode,
    Unresolved,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// First day included (YYYY-MM-DD, in --tz)
    #[arg(long, value_name = "DATE", conflicts_with = "undated")]
    pub from: Option<String>,
    /// Last day included (YYYY-MM-DD, in --tz)
    #[arg(long, value_name = "DATE", conflicts_with = "undated")]
    pub to: Option<String>,
    /// Only the checks without a time under --date-by (the reports' period "undated")
    #[arg(long)]
    pub undated: bool,
    /// The zone of --from/--to and of the times listed (IANA name) [env: LIVEAUDIT_TZ, config
    /// key tz] [default: UTC]
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub tz: Option<String>,
    /// Which time dates a check (as in the reports)
    #[arg(long, value_enum, value_name = "TIME", default_value_t = DateByArg::Event)]
    pub date_by: DateByArg,
    /// Only the checks of this account: a config file's [accounts.NAME], else a partner code
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Only these result codes (repeatable, or comma-separated)
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub code: Vec<i64>,
    /// Only the attacks of this family, as the attack report counts them (presentation,
    /// injection, challenge; other: attack codes without a family)
    #[arg(long, value_name = "NAME")]
    pub family: Option<String>,
    /// Only the resolved checks whose code is in this category of the code table (success,
    /// attack, error, account, request_error, unknown)
    #[arg(long, value_name = "NAME")]
    pub category: Option<String>,
    /// Only the checks of this class
    #[arg(long, value_enum, value_name = "CLASS")]
    pub class: Option<ClassArg>,
    /// Only the checks whose input column NAME has VALUE (repeatable: all must hold)
    #[arg(long, value_name = "NAME=VALUE")]
    pub attr: Vec<String>,
    /// Only the checks without input column NAME (no such column, or null: the attack
    /// report's "(none)" row; repeatable)
    #[arg(long, value_name = "NAME")]
    pub no_attr: Vec<String>,
    /// Only the checks whose face image digest (SHA-256, hex) starts with this
    #[arg(long, value_name = "DIGEST-PREFIX")]
    pub face: Option<String>,
    /// List at most N checks (the count of all that match is still printed)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Output format (table, csv, json, xlsx...) [default: from the --output extension, else
    /// table on a terminal, csv otherwise]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write to FILE instead of stdout (its extension picks the format)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep CSV cells that start with = + - @ as they are
    #[arg(long)]
    pub raw_cells: bool,
}
