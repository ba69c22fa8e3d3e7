//! `liveaudit completions` and `liveaudit man`: the shell completions and the manual page,
//! generated from the same clap definition the program parses with.

use std::io::Write;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::output::write_failure;

/// Writes the completion script of `args.shell` to stdout.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<ExitStatus, Failure> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Generated into memory first: clap_complete panics on a write error, and a closed pipe
    // (`liveaudit completions bash | head`) is normal use that ends quietly.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "liveaudit", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(write_failure)?;
    Ok(ExitStatus::Ok)
}

/// Writes the manual page (roff) to stdout.
pub(crate) fn man() -> Result<ExitStatus, Failure> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut page)
        .map_err(Failure::internal)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&title_first(&page))
        .and_then(|()| out.flush())
        .map_err(write_failure)?;
    Ok(ExitStatus::Ok)
}

/// The manual page with its `.TH` title line first (clap_mangen puts string definitions
/// before it; `man`, `whatis` and packagers look for the title at the top).
fn title_first(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let title = lines.remove(i);
        lines.insert(0, title);
    }
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_title_moves_to_the_top() {
        let page = b".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH liveaudit 1\n.SH NAME\n";
        let out = String::from_utf8(title_first(page)).unwrap();
        assert!(out.starts_with(".TH liveaudit 1\n.ie"), "{out}");
        assert!(out.ends_with(".SH NAME\n"));
    }
}
