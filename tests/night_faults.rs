//! The nightly job and the license call when things go wrong: the vendor down at the license
//! step, license answers under an error status or with odd expiries, an interrupt in the middle
//! of a night, inputs the billing files depend on changing, and an inbox holding what it
//! cannot read.

use crate::util;

use liveaudit::mock::{LicenseFault, MockOptions};
use util::{Env, Run};

/// A mock whose license endpoint misbehaves as `fault` says.
fn license_fault(fault: LicenseFault) -> Env {
    Env::new(MockOptions {
        license_fault: Some(fault),
        ..MockOptions::default()
    })
}

/// Runs `nightly` on the night of 2026-12-01 ([`util::night`]) with `more` flags.
fn nightly(cmd: std::process::Command, more: &[&str]) -> Run {
    util::night(cmd, "2026-12-01T02:00:00Z", more)
}

/// The `nightly step` lines of a JSON log: (step, status).
fn steps(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "nightly step")
        .map(|v| {
            (
                v["step"].as_str().unwrap_or("").to_string(),
                v["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The last `"command":"nightly"` line of `runs.jsonl`.
fn last_night(env: &Env) -> serde_json::Value {
    let text = std::fs::read_to_string(env.path("st").join("runs.jsonl")).unwrap();
    text.lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["command"] == "nightly")
        .unwrap()
}

/// `n` ids dated over 2026-11-20.
fn dated(prefix: &str, n: usize) -> String {
    let mut s = String::from("liveness_id,created_at\n");
    for i in 0..n {
        s.push_str(&format!(
            "{prefix}-{i:05},2026-11-20T{:02}:00:00Z\n",
            i % 24
        ));
    }
    s
}

#[test]
fn a_license_under_an_error_status_or_no_answer_is_an_outage_exit_4() {
    for fault in [
        LicenseFault::Empty503,
        LicenseFault::License500,
        LicenseFault::License410,
    ] {
        let env = license_fault(fault);
        let run = env.run(&["license"]);
        run.expect(4).stderr_has("the vendor looked down");
        assert!(
            !run.stdout.contains("license:"),
            "{fault:?}: {}",
            run.stdout
        );
    }
    // Nobody listening: a refused connection is an outage too.
    let env = Env::plain();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/verification/kyc/sdk/liveness/license/v1",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let run = Run::from(
        env.cmd()
            .env("TD_LICENSE_URL", url)
            .arg("license")
            .output()
            .unwrap(),
    );
    run.expect(4).stderr_has("could not connect");
}

#[test]
fn an_expiry_in_milliseconds_is_read_and_an_expired_license_is_exit_4() {
    let env = license_fault(LicenseFault::Millis);
    let run = env.run(&["license", "--duration", "3600"]);
    run.expect(0).stderr_has("milliseconds");
    let year = jiff::Timestamp::now().strftime("%Y").to_string();
    run.stdout_has(&format!("expires UTC: {year}"));

    let env = license_fault(LicenseFault::Expired);
    let run = env.run(&["license"]);
    run.expect(4).stderr_has("the license expired at");
    run.stdout_has("expires UTC:");
}

#[test]
fn the_vendor_down_at_the_license_step_still_registers_the_inbox_and_exits_4() {
    let env = license_fault(LicenseFault::Empty503);
    let inbox = env.path("st").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("a.csv"), dated("a", 20)).unwrap();
    let run = nightly(env.cmd(), &[]);
    run.expect(4);
    let steps = steps(&run.stderr);
    assert_eq!(steps[0], ("license".into(), "down".into()), "{steps:?}");
    assert!(steps.contains(&("inbox".into(), "ok".into())), "{steps:?}");
    assert!(inbox.join("done/a.csv").is_file());
    // The result endpoint answers: the fetch tried, and resolved the ids.
    assert!(steps.iter().any(|(s, _)| s == "fetch"), "{steps:?}");
    assert_eq!(env.checks().len(), 20);
    let line = last_night(&env);
    assert_eq!(line["exit_status"], 4);
    assert_eq!(line["files_registered"].as_array().unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn an_interrupt_during_the_fetch_stops_the_night_after_it_with_130() {
    let env = Env::with_latency(20);
    let inbox = env.path("st").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("a.csv"), dated("a", 400)).unwrap();
    let mut args: Vec<&str> = vec!["--log-format", "json", "nightly", "--state", "st"];
    // At 50/s the fetch of 400 ids lasts 8 s: the signal comes well within it.
    args.extend([
        "--settle-secs",
        "0",
        "--rate",
        "50",
        "--now",
        "2026-12-01T02:00:00Z",
    ]);
    let child = env
        .cmd()
        .args(&args)
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("STATE_DIRECTORY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // 20 answers served: the night is in its fetch step.
    env.rt.block_on(env.mock.wait_for_requests(20));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run = Run::from(child.wait_with_output().unwrap());
    run.expect(130);
    let steps = steps(&run.stderr);
    assert!(
        steps.contains(&("fetch".into(), "interrupted".into())),
        "{steps:?}"
    );
    for later in ["billing", "attacks", "export"] {
        assert!(!steps.iter().any(|(s, _)| s == later), "{later}: {steps:?}");
    }
    let out: Vec<String> = std::fs::read_dir(env.path("st").join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(last_night(&env)["exit_status"], 130);
}

/// `report billing` of the night's day (2026-11-20) for the test's account, into `file`.
fn billing_of_the_day(mut cmd: std::process::Command, file: &str) -> Run {
    cmd.args([
        "report",
        "billing",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-20",
    ])
    .args(["--account", util::CODE, "--output", file]);
    Run::from(cmd.output().unwrap())
}
#[test]
fn a_changed_code_table_or_price_list_writes_every_billing_day_again_as_report_billing_does() {
    let env = Env::plain();
    let inbox = env.path("st").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // No id the mock holds at 11350: no check changes after the first night.
    let ids: String = dated("c", 300)
        .lines()
        .filter(|l| liveaudit::mock::expected_code(l.split(',').next().unwrap()) != 11350)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        ids.lines()
            .skip(1)
            .any(|l| liveaudit::mock::expected_code(l.split(',').next().unwrap()) == 12299),
        "no id the mock answers 12299"
    );
    std::fs::write(inbox.join("c.csv"), ids).unwrap();
    let day_file = env.path("st").join("out").join("billing-2026-11-20.csv");
    nightly(env.cmd(), &[]).expect(0);
    let before = std::fs::read_to_string(&day_file).unwrap();
    nightly(env.cmd(), &[]).expect(0);

    // 12299 becomes a charged attack: the day's file must say so, as `report billing` does.
    let codes = env.write(
        "newcodes.csv",
        "code,message,charged,category,family\n12299,New attack type,yes,attack,injection\n",
    );
    let mut cmd = env.cmd();
    cmd.env("LIVEAUDIT_CODES", &codes);
    let run = nightly(cmd, &[]);
    run.expect(0).stderr_has("every day computed again");
    let mut fresh = env.cmd();
    fresh.env("LIVEAUDIT_CODES", &codes);
    billing_of_the_day(fresh, "fresh.csv").expect(0);
    let after = std::fs::read_to_string(&day_file).unwrap();
    assert_ne!(after, before);
    assert_eq!(
        after,
        std::fs::read_to_string(env.path("fresh.csv")).unwrap()
    );
    let written = last_night(&env)["billing_written"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(written, 1);

    // The same inputs again: only the days that changed, none.
    let mut cmd = env.cmd();
    cmd.env("LIVEAUDIT_CODES", &codes);
    let run = nightly(cmd, &[]);
    run.expect(0)
        .stderr_has("0 days changed, 0 day files written");

    // A price list added to the config: the day gets its amounts.
    env.write(
        "prices.toml",
        "currency = \"USD\"\n\n[[period]]\nfrom = \"2026-01-01\"\ntiers = [ { price = \"0.035\" } ]\n",
    );
    let config = env.write("config.toml", "prices = \"prices.toml\"\n");
    let with_prices = |mut cmd: std::process::Command| {
        cmd.env("LIVEAUDIT_CODES", &codes)
            .env("LIVEAUDIT_CONFIG", &config);
        cmd
    };
    nightly(with_prices(env.cmd()), &[])
        .expect(0)
        .stderr_has("every day computed again");
    billing_of_the_day(with_prices(env.cmd()), "priced.csv").expect(0);
    let priced = std::fs::read_to_string(&day_file).unwrap();
    assert_ne!(priced, after);
    assert_eq!(
        priced,
        std::fs::read_to_string(env.path("priced.csv")).unwrap()
    );
}

#[cfg(unix)]
#[test]
fn folders_and_fifos_in_the_inbox_are_named_and_the_night_exits_2() {
    let env = Env::plain();
    let inbox = env.path("st").join("inbox");
    let folder = inbox.join("exports-2026-12");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.csv"), dated("f", 5)).unwrap();
    std::fs::write(inbox.join("b.csv"), dated("b", 5)).unwrap();
    let fifo = inbox.join("pipe.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for _night in 0..2 {
        let run = nightly(env.cmd(), &[]);
        run.expect(2);
        run.stderr_has("exports-2026-12 skipped: a folder")
            .stderr_has("pipe.csv skipped: not a regular file");
        let line = last_night(&env);
        let skipped: Vec<&str> = line["files_skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].ends_with("exports-2026-12"), "{skipped:?}");
        assert!(skipped[1].ends_with("pipe.csv"), "{skipped:?}");
    }
    // The inbox's own file was read; the folder's was left where it is.
    assert!(inbox.join("done/b.csv").is_file());
    assert!(folder.join("a.csv").is_file());
    assert_eq!(env.checks().len(), 5);
}

#[test]
fn a_file_with_a_future_modification_time_is_warned_about() {
    let env = Env::plain();
    let inbox = env.path("st").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let file = inbox.join("skewed.csv");
    std::fs::write(&file, dated("s", 5)).unwrap();
    let ahead = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(ahead)
        .unwrap();
    let run = Run::from(
        env.cmd()
            .args([
                "--log-format",
                "json",
                "nightly",
                "--state",
                "st",
                "--rate",
                "0",
            ])
            .args(["--now", "2026-12-01T02:00:00Z"])
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("STATE_DIRECTORY")
            .output()
            .unwrap(),
    );
    // Written here just now: it waits the settle time, but the log says why it is odd.
    run.expect(0)
        .stderr_has("modification time is in the future")
        .stderr_has("skewed.csv");
    let line = last_night(&env);
    assert_eq!(line["files_waiting"].as_array().unwrap().len(), 1);
}
