//! The flags' fixed choices (`--by`, `--date-by`, `--format`): clap's value enums live here, in
//! the command line, and each maps into the library's own type, so the domain core never
//! depends on clap. Policy: a choice's spelling and help text are the command line's; what it
//! means is the library's.

use clap::ValueEnum;

use crate::check::{DateBy, Period};
use crate::export::ExportFormat;
use crate::report::render::Format;

/// `--by`: period length of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
    Month,
}

impl From<PeriodArg> for Period {
    fn from(p: PeriodArg) -> Period {
        match p {
            PeriodArg::Day => Period::Day,
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
        }
    }
}

/// `--date-by`: which time dates a check in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DateByArg {
    /// The event time from the input; checks without one are `undated`.
    #[default]
    Event,
    /// The event time, else the fetch time (checks without an event time are dated by when
    /// they were fetched).
    EventOrFetch,
    /// The fetch time for every check.
    Fetch,
}

impl From<DateByArg> for DateBy {
    fn from(d: DateByArg) -> DateBy {
        match d {
            DateByArg::Event => DateBy::Event,
            DateByArg::EventOrFetch => DateBy::EventOrFetch,
            DateByArg::Fetch => DateBy::Fetch,
        }
    }
}

/// `--format` of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Csv,
    Json,
    Markdown,
    Html,
    /// An Excel workbook, one sheet per table.
    Xlsx,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
            FormatArg::Xlsx => Format::Xlsx,
        }
    }
}

/// `--format` of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    Csv,
    Jsonl,
}

impl From<ExportFormatArg> for ExportFormat {
    fn from(f: ExportFormatArg) -> ExportFormat {
        match f {
            ExportFormatArg::Csv => ExportFormat::Csv,
            ExportFormatArg::Jsonl => ExportFormat::Jsonl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every choice's flag spelling maps to the library value of the same name, so moving the
    /// enums out of the domain changed no flag.
    #[test]
    fn each_choice_maps_to_the_library_value_it_names() {
        for p in PeriodArg::value_variants() {
            let name = p.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(format!("{:?}", Period::from(*p)).to_lowercase(), name);
        }
        for d in DateByArg::value_variants() {
            let name = d.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(DateBy::from(*d).as_str(), name);
        }
        for f in FormatArg::value_variants() {
            let name = f.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(format!("{:?}", Format::from(*f)).to_lowercase(), name);
        }
        for f in ExportFormatArg::value_variants() {
            let name = f.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(format!("{:?}", ExportFormat::from(*f)).to_lowercase(), name);
        }
    }
}
