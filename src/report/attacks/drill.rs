//! From a row of the attack report to its checks: the `liveaudit checks` line of every spike,
//! family, dimension value and reused face.
//!
//! Policy: a row that stands for a set of checks names the command listing exactly that set,
//! built by [`command_line`] from the report's own window (zone, dates, dating basis, account)
//! and the row's cut, so running it returns as many checks as the row counts: a family's or a
//! dimension value's attacks, a spike's attacks in its period (its days within the window), a
//! face's uses, the "(none)" row's attacks without the column (`--no-attr`). The folded row
//! ("other (N values)") stands for no one set and names none.

use super::*;
use crate::report::checks::{CheckFilter, command_line};

/// Sets the `checks_command` of every row that stands for a set of checks.
pub(crate) fn attach_commands(a: &mut Attacks, window: &Window) {
    for f in &mut a.families {
        f.checks_command = Some(command_line(window, &family(&f.family)));
    }
    for s in &mut a.spikes {
        s.checks_command = window
            .period_days(&s.period)
            .map(|(first, last)| command_line(&window.between(first, last), &family(&s.family)));
    }
    if let Some(dimension) = &a.dimension {
        for r in &mut a.by_dimension {
            if r.folded {
                continue;
            }
            let filter = if r.value == NO_VALUE {
                CheckFilter {
                    category: Some(Category::Attack),
                    without: vec![dimension.clone()],
                    ..CheckFilter::default()
                }
            } else {
                CheckFilter {
                    category: Some(Category::Attack),
                    attrs: vec![(dimension.clone(), r.value.clone())],
                    ..CheckFilter::default()
                }
            };
            r.checks_command = Some(command_line(window, &filter));
        }
    }
    for f in &mut a.repeated_faces {
        let filter = CheckFilter {
            face: Some(f.image_sha256.chars().take(16).collect()),
            ..CheckFilter::default()
        };
        f.checks_command = Some(command_line(window, &filter));
    }
}

fn family(name: &str) -> CheckFilter {
    CheckFilter {
        family: Some(name.to_string()),
        ..CheckFilter::default()
    }
}
