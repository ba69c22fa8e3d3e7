//! Output paths that are not regular files: a FIFO, a character device, a symlink. Each is
//! written in place and left as it was; a FIFO nobody reads ends the run by itself; a run file
//! that cannot be written is a non-zero exit. `/dev/null` is only ever written to (never
//! replaced): the test asserts it is still a character device.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::util::Env;

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

fn is_char_device(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

#[test]
fn run_files_on_a_fifo_a_device_or_a_symlink_are_written_in_place_never_replaced() {
    let env = Env::plain().ids(3);
    let fifo = env.path("summary.fifo");
    mkfifo(&fifo);
    // A reader on the FIFO gets the summary line; the FIFO stays a FIFO.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let target = env.write("metrics.prom", "old\n");
    std::os::unix::fs::symlink(&target, env.path("metrics.link")).unwrap();
    env.fetch("ids.csv")
        .quick()
        .flag("--summary-file", fifo.to_str().unwrap())
        .flag("--metrics-file", env.path("metrics.link").to_str().unwrap())
        .run()
        .expect(0);
    let line = reader.join().unwrap();
    let summary: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(summary["exit_status"], 0, "{line}");
    assert!(is_fifo(&fifo), "the FIFO was replaced");
    let link = std::fs::symlink_metadata(env.path("metrics.link")).unwrap();
    assert!(link.file_type().is_symlink(), "the symlink was replaced");
    let metrics = std::fs::read_to_string(&target).unwrap();
    assert!(
        metrics.contains("liveaudit_last_run_exit_status"),
        "{metrics}"
    );

    // A device is written directly (writing to /dev/null is harmless) and stays a device.
    env.fetch("ids.csv")
        .quick()
        .flag("--metrics-file", "/dev/null")
        .flag("--summary-file", "/dev/null")
        .run()
        .expect(0);
    assert!(is_char_device("/dev/null"));
}

#[test]
fn a_fifo_nobody_reads_ends_the_run_by_itself_with_a_non_zero_exit_naming_it() {
    let env = Env::plain().ids(2);
    let fifo = env.path("nobody.fifo");
    mkfifo(&fifo);
    let run = env
        .fetch("ids.csv")
        .quick()
        .flag("--summary-file", fifo.to_str().unwrap())
        .run();
    run.expect(1);
    run.stderr_has("nobody.fifo");
    run.stderr_has("FIFO nobody read");
    assert!(is_fifo(&fifo));
    // The run's work is saved all the same.
    assert_eq!(env.checks().len(), 2);
    env.assert_all_match_mock();
}

#[test]
fn a_run_file_that_cannot_be_written_is_a_non_zero_exit() {
    if !is_char_device("/dev/full") {
        return;
    }
    let env = Env::plain().ids(2);
    let run = env
        .fetch("ids.csv")
        .quick()
        .flag("--summary-file", "/dev/full")
        .run();
    run.expect(1);
    run.stderr_has("could not write the summary file");
    assert!(is_char_device("/dev/full"));
    env.assert_all_match_mock();
}
