//! The settings a user gives, named as data.
//!
//! Policy: a library error or note that tells the user which setting to change carries a
//! [`Setting`], never its spelling. How a setting is written on the command line (its flag) is
//! the command line's word, given where the flags are defined (`src/cli/settings.rs`), so a
//! message names the flag that changes it (a limit's error, the flag that raises it) while the
//! library knows nothing of the command line, and a renamed flag cannot leave a stale message.

/// A setting a message can tell the user to give or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Setting {
    // Where things are.
    Db,
    Output,
    Format,
    Table,
    Details,
    Dispute,
    SaveImages,
    CodesFile,
    // The vendor.
    PartnerCode,
    PartnerKeyFile,
    ResultUrl,
    LicenseUrl,
    // Accounts.
    Account,
    ByAccount,
    // Reading an input.
    IdColumn,
    TimeColumn,
    Delimiter,
    Sheet,
    TimeFormat,
    BadTimes,
    InputTz,
    FixTimes,
    MaxCells,
    MaxCellBytes,
    MaxSharedStrings,
    MaxUnpackedMib,
    MaxColumns,
    MaxAttrBytes,
    // Fetching.
    Rate,
    MaxRate,
    Pending,
    MaxDuration,
    Until,
    // Reports.
    Tz,
    DateBy,
    From,
    To,
    By,
    Price,
    Prices,
    Currency,
    Dimension,
    Limit,
    Undated,
    Code,
    Family,
    Category,
    Class,
    Attr,
    NoAttr,
    Face,
    // Statements.
    StatementTz,
    StatementCountColumn,
    StatementPeriodColumn,
}

impl Setting {
    /// Every setting, for the test that each has a flag of that spelling.
    pub const ALL: &'static [Setting] = &[
        Setting::Db,
        Setting::Output,
        Setting::Format,
        Setting::Table,
        Setting::Details,
        Setting::Dispute,
        Setting::SaveImages,
        Setting::CodesFile,
        Setting::PartnerCode,
        Setting::PartnerKeyFile,
        Setting::ResultUrl,
        Setting::LicenseUrl,
        Setting::Account,
        Setting::ByAccount,
        Setting::IdColumn,
        Setting::TimeColumn,
        Setting::Delimiter,
        Setting::Sheet,
        Setting::TimeFormat,
        Setting::BadTimes,
        Setting::InputTz,
        Setting::FixTimes,
        Setting::MaxCells,
        Setting::MaxCellBytes,
        Setting::MaxSharedStrings,
        Setting::MaxUnpackedMib,
        Setting::MaxColumns,
        Setting::MaxAttrBytes,
        Setting::Rate,
        Setting::MaxRate,
        Setting::Pending,
        Setting::MaxDuration,
        Setting::Until,
        Setting::Tz,
        Setting::DateBy,
        Setting::From,
        Setting::To,
        Setting::By,
        Setting::Price,
        Setting::Prices,
        Setting::Currency,
        Setting::Dimension,
        Setting::Limit,
        Setting::Undated,
        Setting::Code,
        Setting::Family,
        Setting::Category,
        Setting::Class,
        Setting::Attr,
        Setting::NoAttr,
        Setting::Face,
        Setting::StatementTz,
        Setting::StatementCountColumn,
        Setting::StatementPeriodColumn,
    ];
}
