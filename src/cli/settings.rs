//! How each library [`Setting`] is written on the command line: its flag. Library messages
//! carry the setting as data and show it through this `Display`, so the flag a message names
//! is spelt here, beside the flags' definitions, once (a test checks each is a real flag).

use std::fmt;

use crate::setting::Setting;

impl Setting {
    /// The flag that gives this setting (`--max-cells`).
    pub fn flag(self) -> &'static str {
        match self {
            Setting::Db => "--db",
            Setting::Output => "--output",
            Setting::Format => "--format",
            Setting::Table => "--table",
            Setting::Details => "--details",
            Setting::Dispute => "--dispute",
            Setting::SaveImages => "--save-images",
            Setting::CodesFile => "--codes-file",
            Setting::PartnerCode => "--partner-code",
            Setting::PartnerKeyFile => "--partner-key-file",
            Setting::ResultUrl => "--result-url",
            Setting::LicenseUrl => "--license-url",
            Setting::Account => "--account",
            Setting::ByAccount => "--by-account",
            Setting::IdColumn => "--id-column",
            Setting::TimeColumn => "--time-column",
            Setting::Delimiter => "--delimiter",
            Setting::Sheet => "--sheet",
            Setting::TimeFormat => "--time-format",
            Setting::BadTimes => "--bad-times",
            Setting::InputTz => "--input-tz",
            Setting::FixTimes => "--fix-times",
            Setting::MaxCells => "--max-cells",
            Setting::MaxCellBytes => "--max-cell-bytes",
            Setting::MaxSharedStrings => "--max-shared-strings",
            Setting::MaxUnpackedMib => "--max-unpacked-mib",
            Setting::MaxColumns => "--max-columns",
            Setting::MaxAttrBytes => "--max-attr-bytes",
            Setting::Rate => "--rate",
            Setting::MaxRate => "--max-rate",
            Setting::Pending => "--pending",
            Setting::MaxDuration => "--max-duration",
            Setting::Until => "--until",
            Setting::Tz => "--tz",
            Setting::DateBy => "--date-by",
            Setting::From => "--from",
            Setting::To => "--to",
            Setting::By => "--by",
            Setting::Price => "--price",
            Setting::Prices => "--prices",
            Setting::Currency => "--currency",
            Setting::Dimension => "--dimension",
            Setting::Limit => "--limit",
            Setting::Undated => "--undated",
            Setting::Code => "--code",
            Setting::Family => "--family",
            Setting::Category => "--category",
            Setting::Class => "--class",
            Setting::Attr => "--attr",
            Setting::NoAttr => "--no-attr",
            Setting::Face => "--face",
            Setting::StatementTz => "--statement-tz",
            Setting::StatementCountColumn => "--statement-count-column",
            Setting::StatementPeriodColumn => "--statement-period-column",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.flag())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every setting's spelling is a long flag of some command, so no message names a flag the
    /// command line does not have.
    #[test]
    fn every_setting_is_spelt_as_a_real_flag() {
        fn longs(cmd: &clap::Command, out: &mut Vec<String>) {
            out.extend(
                cmd.get_arguments()
                    .filter_map(|a| a.get_long())
                    .map(|l| format!("--{l}")),
            );
            for sub in cmd.get_subcommands() {
                longs(sub, out);
            }
        }
        let mut flags = Vec::new();
        longs(&crate::cli::Cli::command(), &mut flags);
        assert!(flags.len() > 50, "{flags:?}");
        let missing: Vec<&str> = Setting::ALL
            .iter()
            .map(|s| s.flag())
            .filter(|f| !flags.iter().any(|l| l == f))
            .collect();
        assert!(missing.is_empty(), "not flags of any command: {missing:?}");
    }
}
