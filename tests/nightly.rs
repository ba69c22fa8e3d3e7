//! Unattended nightly runs: clean logs, the time budget, summary and metrics files, spike
//! alerts, incremental export, and the CLI conventions (completions, man, help examples).

use crate::util;

use std::io::BufRead;

use liveaudit::mock::MockOptions;
use util::{Env, id_csv};

fn sample_checks() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/checks.csv")
}

/// One sample: metric name, sorted labels, value.
type MetricSample = (String, Vec<(String, String)>, f64);

/// Parses a metrics file with a Prometheus text parser.
fn metrics(path: &std::path::Path) -> Vec<MetricSample> {
    let text = std::fs::read_to_string(path).unwrap();
    // Every sample line is `name{labels} value` or `name value`, with HELP/TYPE before it.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        assert!(name.starts_with("liveaudit_"), "{line}");
    }
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(!scrape.samples.is_empty());
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Gauge(v) => v,
                other => panic!("{} is not a gauge: {other:?}", s.metric),
            };
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            (s.metric, labels, value)
        })
        .collect()
}

fn metric(m: &[MetricSample], name: &str) -> f64 {
    let found: Vec<f64> = m.iter().filter(|s| s.0 == name).map(|s| s.2).collect();
    assert_eq!(found.len(), 1, "{name} in {m:?}");
    found[0]
}

// ---------------------------------------------------------------- logs

#[test]
fn stderr_to_a_file_has_no_escape_byte_unless_colour_is_forced() {
    let env = Env::plain().ids(20);
    let log = env.path("job.log");
    let file = std::fs::File::create(&log).unwrap();
    let status = env
        .cmd()
        .args(["fetch", "--rate", "0", "ids.csv"])
        .stderr(file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read(&log).unwrap();
    assert!(text.len() > 100, "{}", String::from_utf8_lossy(&text));
    assert!(!text.contains(&0x1b), "{}", String::from_utf8_lossy(&text));

    // The check can fail: forced colour does write escapes.
    let forced = env.run(&["--color", "always", "fetch", "--rate", "0", "ids.csv"]);
    forced.expect(0);
    forced.stderr_has("\x1b");
    // NO_COLOR does not override an explicit --color always, and is harmless otherwise.
    let run = util::Run::from(
        env.cmd()
            .env("NO_COLOR", "1")
            .args(["fetch", "--rate", "0", "ids.csv"])
            .output()
            .unwrap(),
    );
    run.expect(0);
    assert!(!run.stderr.contains('\x1b'), "{}", run.stderr);
}

#[test]
fn on_a_terminal_colour_is_on_unless_no_color_is_set() {
    // util-linux `script` gives the command a pseudo-terminal; skipped where it is missing.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: script (util-linux) is not installed");
        return;
    }
    let env = Env::plain().ids(5);
    let bin = assert_cmd::cargo::cargo_bin("liveaudit");
    let on_tty = |no_color: Option<&str>| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec"])
            .arg(format!("{} fetch --rate 0 ids.csv", bin.display()))
            .arg("/dev/null");
        for (name, value) in env.cmd().get_envs() {
            match value {
                Some(v) => c.env(name, v),
                None => c.env_remove(name),
            };
        }
        c.current_dir(env.dir.path()).env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Log levels are green on a terminal (the progress bar's own escapes are not colour).
    assert!(on_tty(None).contains("\x1b[32m"));
    assert!(
        on_tty(Some("")).contains("\x1b[32m"),
        "an empty NO_COLOR is unset"
    );
    let plain = on_tty(Some("1"));
    assert!(plain.contains("run "), "{plain}");
    // The progress bar may still draw (it is not colour); log lines carry no colour codes.
    assert!(
        !plain.contains("\x1b[32m") && !plain.contains("\x1b[3m"),
        "{plain:?}"
    );
}

#[test]
fn under_json_logs_every_stderr_line_is_json_and_the_last_carries_the_exit_status() {
    let env = Env::plain().ids(10);
    let cases: [(&[&str], i32); 6] = [
        (&["fetch", "--rate", "0", "ids.csv"], 0),
        (&["fetch", "missing.csv"], 2),
        (&["-q", "fetch", "missing.csv"], 2),
        (&["fetch", "--no-such-flag", "ids.csv"], 2),
        (&["fetch", "--bogus", "x"], 2),
        (&["fetch", "--max-duration", "soon", "ids.csv"], 2),
    ];
    for (args, want) in cases {
        let mut all = vec!["--log-format", "json"];
        all.extend_from_slice(args);
        let run = env.run(&all);
        run.expect(want);
        let lines: Vec<serde_json::Value> = run
            .stderr
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {l}"))
            })
            .collect();
        let last = lines.last().unwrap();
        assert_eq!(last["exit_status"], want, "{args:?}: {}", run.stderr);
        // Usage errors included: the run always ends with the `exit` line.
        assert_eq!(last["message"], "exit", "{args:?}: {}", run.stderr);
        if want != 0 {
            assert!(
                lines.iter().any(|l| l["level"] == "ERROR"),
                "{args:?}: {}",
                run.stderr
            );
        }
    }
}

// ---------------------------------------------------------------- time budget

#[test]
fn a_time_budget_cuts_the_run_off_with_exit_4_and_the_next_run_completes_every_id() {
    // 40 ids at 300 ms each, two at a time, need 6 s: a 3 s budget must cut the run off.
    let env = Env::with_latency(300).ids(40);
    let summary = env.path("runs.jsonl");
    let prom = env.path("liveaudit.prom");
    let cut = env
        .fetch("ids.csv")
        .backoff(5)
        .unlimited()
        .concurrency(2)
        .flag("--max-duration", "3s")
        .file("--summary-file", &summary)
        .file("--metrics-file", &prom)
        .run();
    cut.expect(4);
    let left = env.checks().iter().filter(|c| c.1 != "done").count();
    assert!(left > 0 && left < 40, "{left} left");
    cut.stderr_has(&format!("cut off: {left} ids left for the next run"));
    // Nothing fetched was lost: every done id holds the mock's answer.
    for (id, status, code) in env.checks() {
        if status == "done" {
            assert_eq!(code, Some(liveaudit::mock::expected_code(&id)), "{id}");
        }
    }
    let m = metrics(&prom);
    assert_eq!(metric(&m, "liveaudit_last_run_exit_status"), 4.0);
    assert_eq!(metric(&m, "liveaudit_last_run_ids_left"), left as f64);
    for file in [&summary, &prom] {
        assert!(!std::fs::read_to_string(file).unwrap().contains(util::KEY));
    }
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&summary).unwrap().trim()).unwrap();
    assert_eq!(line["exit_status"], 4);
    assert_eq!(line["outcome"], "cut_off");
    assert_eq!(line["input_after"]["ids_left"], left as i64);
    assert!(line["cutoff_at"].is_string(), "{line}");

    // The next run (no budget) continues with the ids left and finishes.
    let rest = env
        .fetch("ids.csv")
        .backoff(5)
        .unlimited()
        .concurrency(64)
        .file("--summary-file", &summary)
        .file("--metrics-file", &prom)
        .run();
    rest.expect(0);
    env.assert_all_match_mock();
    let m = metrics(&prom);
    assert_eq!(metric(&m, "liveaudit_last_run_exit_status"), 0.0);
    let text = std::fs::read_to_string(&summary).unwrap();
    let runs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["exit_status"], 0);
    assert_eq!(runs[1]["this_run"]["resolved"], left as i64);
}

#[test]
fn bad_budgets_are_refused_before_anything_is_sent() {
    let env = Env::plain().ids(3);
    for (flag, value) in [
        ("--max-duration", "0s"),
        ("--max-duration", "two hours"),
        ("--until", "5:30"),
        ("--until", "25:00"),
    ] {
        let run = env.run(&["fetch", flag, value, "ids.csv"]);
        run.expect(2);
        run.stderr_has(flag);
    }
    let run = env.run(&["fetch", "--until", "05:30", "--tz", "Mars/Base", "ids.csv"]);
    run.expect(2);
    run.stderr_has("Mars/Base");
    assert_eq!(env.mock.stats().result_requests, 0);
}

// ---------------------------------------------------------------- metrics

#[test]
fn metrics_parse_and_tell_the_exit_status_on_every_ending() {
    let env = Env::plain().ids(30);
    let prom = env.path("liveaudit.prom");
    let ok = env
        .fetch("ids.csv")
        .backoff(5)
        .unlimited()
        .file("--metrics-file", &prom)
        .run();
    ok.expect(0);
    let m = metrics(&prom);
    assert_eq!(metric(&m, "liveaudit_last_run_exit_status"), 0.0);
    // Ids the next run asks for again: none failed or pending, but the vendor's 11350s.
    let again: i64 = env.one("SELECT count(*) FROM checks WHERE status <> 'done' OR code = 11350");
    assert_eq!(metric(&m, "liveaudit_ids_pending"), again as f64);
    let requests: f64 = m
        .iter()
        .filter(|s| s.0 == "liveaudit_last_run_requests")
        .map(|s| s.2)
        .sum();
    assert_eq!(requests, env.mock.stats().result_requests as f64);
    // Checks by class add up to every check in the database.
    let classes: f64 = m
        .iter()
        .filter(|s| s.0 == "liveaudit_checks")
        .map(|s| s.2)
        .sum();
    assert_eq!(classes, 30.0);

    // A refused input (exit 2) rewrites the file with its own status.
    let bad = env.fetch("missing.csv").file("--metrics-file", &prom).run();
    bad.expect(2);
    assert_eq!(
        metric(&metrics(&prom), "liveaudit_last_run_exit_status"),
        2.0
    );
    // No temporary file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

// ---------------------------------------------------------------- alerts

#[test]
fn fail_on_spike_exits_6_on_the_sample_data_and_0_on_a_quiet_window() {
    let env = Env::plain();
    let sample = sample_checks();
    env.fetch(sample.to_str().unwrap())
        .backoff(5)
        .unlimited()
        .concurrency(64)
        .run()
        .expect(0);
    let spike = env.run(&["report", "attacks", "--fail-on-spike", "--format", "json"]);
    spike.expect(6);
    let doc = spike.json();
    let listed = doc["alert"]["spikes"].as_array().unwrap();
    assert!(!listed.is_empty(), "{}", spike.stdout);
    assert_eq!(doc["alert"]["exit_status"], 6);
    let day = listed[0]["period"].as_str().unwrap().to_string();
    spike.stderr_has("attack spike");

    // One quiet day of the sample, alone: judged against the days before it (outside the
    // window), nothing fires.
    let doc =
        env.json("report attacks --fail-on-spike --from 2026-10-10 --to 2026-10-10 --format json");
    assert_eq!(doc["alert"]["spikes"].as_array().unwrap().len(), 0);
    assert_ne!(day, "2026-10-10");
    // Without the flag the same spike is reported, with status 0.
    env.run(&["report", "attacks", "--format", "json"])
        .expect(0);
}

// ---------------------------------------------------------------- incremental export

fn exported_ids(csv_text: &str) -> Vec<String> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let mut ids: Vec<String> = r.records().map(|rec| rec.unwrap()[0].to_string()).collect();
    ids.sort();
    ids
}

#[test]
fn export_cursor_returns_exactly_the_checks_changed_by_a_second_fetch() {
    // The first vendor stops answering after 5 results: 5 ids done, 5 left pending.
    let stopping = Env::new(MockOptions {
        stop_after: Some(5),
        ..MockOptions::default()
    });
    let healthy = Env::plain();
    let first = id_csv(10);
    stopping.write("a.csv", &first);
    stopping
        .run(&["fetch", "--rate", "0", "--concurrency", "1", "a.csv"])
        .expect(3);
    let done_first: Vec<String> = stopping
        .checks()
        .into_iter()
        .filter(|c| c.1 == "done")
        .map(|c| c.0)
        .collect();
    assert_eq!(done_first.len(), 5);

    let cursor = stopping.path("export.cursor");
    let export = |env: &Env| {
        let run = env.run(&["export", "--cursor", cursor.to_str().unwrap()]);
        run.expect(0);
        exported_ids(&run.stdout)
    };
    assert_eq!(export(&stopping).len(), 10, "first use exports everything");
    assert!(export(&stopping).is_empty(), "nothing changed since");

    // A second fetch (a healthy vendor) of the same ten plus three new ids.
    let mut second = first.clone();
    for i in 0..3 {
        second.push_str(&format!("new-{i}\n"));
    }
    stopping.write("b.csv", &second);
    util::Run::from(
        stopping
            .cmd()
            .env("TD_RESULT_URL", healthy.mock.result_url())
            .args(["fetch", "--rate", "0", "b.csv"])
            .output()
            .unwrap(),
    )
    .expect(0);
    let mut want: Vec<String> = stopping
        .checks()
        .into_iter()
        .map(|c| c.0)
        .filter(|id| !done_first.contains(id))
        .collect();
    want.sort();
    assert_eq!(want.len(), 8);
    assert_eq!(export(&stopping), want);
    assert!(export(&stopping).is_empty());
}

#[test]
fn a_cursor_from_another_database_is_refused_and_left_alone() {
    let env = Env::plain().ids(3);
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    let cursor = env.write("export.cursor", "{\"change_seq\":999999}\n");
    let run = env.run(&["export", "--cursor", cursor.to_str().unwrap()]);
    run.expect(2);
    run.stderr_has("another database");
    assert_eq!(
        std::fs::read_to_string(&cursor).unwrap(),
        "{\"change_seq\":999999}\n"
    );
    // An export whose output fails leaves the cursor where it was.
    let fresh = env.path("fresh.cursor");
    env.run(&["export", "--cursor", fresh.to_str().unwrap()])
        .expect(0);
    let kept = std::fs::read_to_string(&fresh).unwrap();
    env.write("more.csv", "liveness_id\nextra-1\n");
    env.run(&["fetch", "--rate", "0", "more.csv"]).expect(0);
    if std::path::Path::new("/dev/full").exists() {
        let failed = env.run(&[
            "export",
            "--cursor",
            fresh.to_str().unwrap(),
            "-o",
            "/dev/full",
        ]);
        assert_ne!(failed.status, Some(0), "{}", failed.stderr);
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), kept);
    }
    let next = env.run(&["export", "--cursor", fresh.to_str().unwrap()]);
    next.expect(0);
    assert_eq!(exported_ids(&next.stdout), ["extra-1"]);
    let garbage = env.write("garbage.cursor", "not json");
    env.run(&["export", "--cursor", garbage.to_str().unwrap()])
        .expect(2);
    let negative = env.write("negative.cursor", "{\"change_seq\":-5}\n");
    let run = env.run(&["export", "--cursor", negative.to_str().unwrap()]);
    run.expect(2);
    run.stderr_has("never negative");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(&negative).unwrap(),
        "{\"change_seq\":-5}\n"
    );
}

// ---------------------------------------------------------------- CLI conventions

#[test]
fn completions_for_bash_source_cleanly() {
    let env = Env::plain();
    let run = env.run(&["completions", "bash"]);
    run.expect(0);
    let script = env.write("liveaudit.bash", &run.stdout);
    let bash = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; source {}; complete -p liveaudit",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(
        bash.status.success(),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    assert!(
        bash.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    assert!(String::from_utf8_lossy(&bash.stdout).contains("liveaudit"));
    for shell in ["zsh", "fish", "powershell"] {
        let run = env.run(&["completions", shell]);
        run.expect(0);
        assert!(run.stdout.contains("liveaudit"), "{shell}");
    }
}

/// `liveaudit completions bash | head -1` is normal use: a closed stdout ends the command
/// quietly (clap_complete itself panics on a write error).
#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    let env = Env::plain();
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let mut cmd = env.cmd();
        cmd.args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // The reading end closes before the program writes: its writes meet a broken pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn man_page_starts_with_its_title() {
    let env = Env::plain();
    let run = env.run(&["man"]);
    run.expect(0);
    assert!(
        run.stdout.starts_with(".TH liveaudit 1"),
        "{}",
        &run.stdout[..80]
    );
    assert!(run.stdout.contains("fetch"));
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    let env = Env::plain();
    let root = <liveaudit::cli::Cli as clap::CommandFactory>::command();
    let mut paths: Vec<Vec<String>> = Vec::new();
    for sub in root.get_subcommands() {
        let name = sub.get_name().to_string();
        if name == "help" {
            continue;
        }
        paths.push(vec![name.clone()]);
        for nested in sub.get_subcommands() {
            paths.push(vec![name.clone(), nested.get_name().to_string()]);
        }
    }
    assert!(paths.len() >= 12, "{paths:?}");
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = env.run(&args);
        run.expect(0);
        let tail = run.stdout.rsplit("Examples:").next().unwrap();
        assert!(run.stdout.contains("Examples:"), "{path:?}");
        // Each example is a command line that parses: the `liveaudit ...` part of the line,
        // up to a pipe, redirection or the end of a process substitution.
        let examples: Vec<&str> = tail
            .lines()
            .filter_map(|l| l.find("liveaudit ").map(|i| &l[i..]))
            .map(|cmd| cmd.split(['|', '>', ')']).next().unwrap().trim())
            .collect();
        assert!((2..=4).contains(&examples.len()), "{path:?}: {tail}");
        for example in examples {
            let words = example.split_whitespace();
            if let Err(e) = <liveaudit::cli::Cli as clap::Parser>::try_parse_from(words) {
                panic!("{path:?}: example `{example}` does not parse: {e}");
            }
        }
        assert!(run.stdout.contains("Global options:"), "{path:?}");
    }
}

#[test]
fn mock_prints_the_lines_to_paste() {
    let env = Env::plain();
    let mut child = env
        .cmd()
        .args(["mock", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut exports = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("export ") {
            exports.push(rest.to_string());
            if rest.starts_with("TD_LICENSE_URL=") {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let names: Vec<&str> = exports
        .iter()
        .map(|e| e.split_once('=').unwrap().0)
        .collect();
    assert_eq!(
        names,
        [
            "TD_PARTNER_CODE",
            "TD_PARTNER_KEY",
            "TD_RESULT_URL",
            "TD_LICENSE_URL"
        ]
    );
    let url = exports[2].split_once('=').unwrap().1;
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0/"),
        "{url}"
    );
}

#[test]
fn purge_dry_run_counts_and_changes_nothing() {
    let env = Env::plain().ids(12);
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    let scored = |env: &Env| -> i64 {
        env.one("SELECT count(*) FROM checks WHERE score IS NOT NULL OR image_sha256 IS NOT NULL")
    };
    let before = scored(&env);
    assert!(before > 0);
    let dry = env.run(&["purge", "--before", "2999-01-01", "--dry-run"]);
    dry.expect(0);
    dry.stdout_has(&format!(
        "would purge scores and face digests of {before} checks"
    ));
    assert_eq!(scored(&env), before);
    env.run(&["purge", "--before", "2999-01-01"]).expect(0);
    assert_eq!(scored(&env), 0);
}

#[test]
fn a_config_file_is_found_under_xdg_config_home() {
    let env = Env::plain();
    let dir = env.path("xdg/liveaudit");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "db = \"from-xdg.db\"\n").unwrap();
    let run = util::Run::from(
        env.cmd()
            .env_remove("LIVEAUDIT_DB")
            .env("XDG_CONFIG_HOME", env.path("xdg"))
            .args(["export"])
            .output()
            .unwrap(),
    );
    run.expect(2);
    // The file's relative db path is taken relative to the file.
    run.stderr_has(&dir.join("from-xdg.db").display().to_string());
}

#[test]
fn sigterm_still_writes_the_summary_and_metrics_with_status_130() {
    let env = Env::with_latency(20).ids(400);
    let summary = env.path("runs.jsonl");
    let prom = env.path("liveaudit.prom");
    let child = env
        .fetch("ids.csv")
        .backoff(5)
        .unlimited()
        .concurrency(4)
        .file("--summary-file", &summary)
        .file("--metrics-file", &prom)
        .spawn();
    env.rt.block_on(env.mock.wait_for_requests(20));
    let run = util::sigterm(child);
    run.expect(130);
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&summary).unwrap().trim()).unwrap();
    assert_eq!(line["exit_status"], 130);
    assert_eq!(line["outcome"], "interrupted");
    assert_eq!(
        metric(&metrics(&prom), "liveaudit_last_run_exit_status"),
        130.0
    );
}

#[test]
fn the_systemd_units_verify_where_systemd_is_installed() {
    let Ok(probe) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    assert!(probe.status.success());
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // The unit as shipped, with the binary where this build put it instead of /usr/local/bin.
    let shipped = std::fs::read_to_string(repo.join("contrib/systemd/liveaudit.service")).unwrap();
    assert!(
        shipped.contains("ExecStart=/usr/local/bin/liveaudit "),
        "{shipped}"
    );
    let unit = shipped.replace(
        "/usr/local/bin/liveaudit",
        assert_cmd::cargo::cargo_bin("liveaudit").to_str().unwrap(),
    );
    std::fs::write(dir.path().join("liveaudit.service"), unit).unwrap();
    std::fs::copy(
        repo.join("contrib/systemd/liveaudit.timer"),
        dir.path().join("liveaudit.timer"),
    )
    .unwrap();
    // Documentation=man:liveaudit(1) is checked only where the man page is installed.
    let man_installed = std::process::Command::new("man")
        .args(["-w", "liveaudit"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut verify = std::process::Command::new("systemd-analyze");
    verify.arg("verify");
    if !man_installed {
        eprintln!("the liveaudit man page is not installed: verifying with --man=no");
        verify.arg("--man=no");
    }
    let out = verify
        .args(["./liveaudit.service", "./liveaudit.timer"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn contrib_holds_units_and_no_script() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(!repo.join("contrib/nightly.sh").exists());
    for unit in [
        "contrib/systemd/liveaudit.service",
        "contrib/cron/liveaudit",
    ] {
        let text = std::fs::read_to_string(repo.join(unit)).unwrap();
        assert!(
            text.contains("liveaudit --log-format json nightly"),
            "{unit}"
        );
    }
}
