//! The one error type of a command: an error with the exit status it ends the process with.
//!
//! Policy: every failure a command can meet maps to one documented [`ExitStatus`] here or where
//! it is raised; `main` prints the message and ends the process with [`Failure::exit_status`].
//! Nothing in the library ends the process itself.

use crate::config::ConfigError;
use crate::exit::ExitStatus;
use crate::report::ReportError;
use crate::store::StoreError;

/// An error with the exit status it ends the process with.
///
/// It is a command's error at the edge; a request's `Fault` or a run's `StopCause` is not
/// one, but the command's summary and exit status report them.
#[derive(Debug)]
pub struct Failure {
    /// The status the process ends with (see [`Failure::exit_status`]).
    pub status: ExitStatus,
    /// What went wrong, with the context that says where and how to fix it.
    pub error: anyhow::Error,
}

impl Failure {
    /// The status the process ends with.
    pub fn exit_status(&self) -> ExitStatus {
        self.status
    }

    /// The message for a person: the error and each cause, joined by `: `, leaving out a cause
    /// whose text the message already holds (an error that prints its source in its own text).
    pub fn message(&self) -> String {
        let mut message = String::new();
        for cause in self.error.chain() {
            let text = cause.to_string();
            if message.contains(&text) {
                continue;
            }
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        message
    }

    /// A usage, configuration or input error (status 2): nothing was sent.
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            status: ExitStatus::Usage,
            error: error.into(),
        }
    }

    /// An unexpected internal error (status 1).
    pub fn internal(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            status: ExitStatus::Internal,
            error: error.into(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::usage(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_read_only() {
            return Failure::usage(anyhow::Error::new(e).context(
                "the database cannot be written (read-only file or file system); give a \
                 writable --db or LIVEAUDIT_DB",
            ));
        }
        if e.is_corrupt() && matches!(e, StoreError::Query(_) | StoreError::Sqlite { .. }) {
            return Failure::usage(anyhow::Error::new(e).context(
                "the database is damaged (SQLite reports corruption); restore it from a backup, \
                 or give another --db and fetch again",
            ));
        }
        let status = match e {
            StoreError::NotADatabase { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Missing { .. }
            | StoreError::Foreign { .. }
            | StoreError::Uri { .. }
            | StoreError::NotAFilePath { .. }
            | StoreError::OutputIsDatabase { .. }
            | StoreError::Busy { .. } => ExitStatus::Usage,
            _ if e.is_corrupt() => ExitStatus::Usage,
            _ => ExitStatus::Internal,
        };
        Failure {
            status,
            error: e.into(),
        }
    }
}

impl From<crate::report::scope::ScopeError> for Failure {
    fn from(e: crate::report::scope::ScopeError) -> Self {
        use crate::report::scope::ScopeError;
        match e {
            ScopeError::Report(r) => r.into(),
            other => Failure::usage(other),
        }
    }
}

impl From<ReportError> for Failure {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Store(s) => s.into(),
            other => Failure::usage(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_message_already_holds_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let failure = Failure::usage(ConfigError::Read {
            what: "the partner key file",
            path: "k.key".into(),
            source: io,
        });
        assert_eq!(
            failure.message(),
            "cannot read the partner key file k.key: No such file"
        );
        let outer = anyhow::anyhow!("No such file").context("opening the input");
        assert_eq!(
            Failure::usage(outer).message(),
            "opening the input: No such file"
        );
    }
}
