//! Test helpers: a temporary directory, the embedded mock vendor on an ephemeral loopback port,
//! and a builder for running the real `liveaudit` binary against it.

#![allow(dead_code)]

pub mod hostile;
pub mod source;
pub mod xls;

use std::path::{Path, PathBuf};
use std::process::Output;

use liveaudit::mock::{MockOptions, MockServer};

/// A key nobody would type by accident, so a leak is unmistakable in any output.
pub const KEY: &str = "sk-LEAKCHECK-7f3a9c2e-partner-key";
pub const CODE: &str = "test-partner";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub mock: MockServer,
}

impl Env {
    /// A mock with the given options (credentials set to the test's own).
    pub fn new(opts: MockOptions) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mock = start_mock(&rt, opts);
        Env {
            dir: tempfile::tempdir().unwrap(),
            rt,
            mock,
        }
    }

    pub fn plain() -> Env {
        Env::new(MockOptions::default())
    }

    /// A mock that answers each request after `ms` milliseconds.
    pub fn with_latency(ms: u64) -> Env {
        Env::new(MockOptions {
            latency: std::time::Duration::from_millis(ms),
            ..MockOptions::default()
        })
    }

    /// This test directory with `n` ids in `ids.csv` (as [`id_csv`] writes them).
    pub fn ids(self, n: usize) -> Env {
        self.write("ids.csv", id_csv(n));
        self
    }

    /// The send times (ms) of every attempt in the attempts log, in order.
    pub fn sent_times(&self) -> Vec<i64> {
        self.conn()
            .prepare("SELECT sent_at FROM attempts ORDER BY sent_at")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn db(&self) -> PathBuf {
        self.path("audit.db")
    }

    /// The binary with credentials, endpoints and database set through the environment.
    pub fn cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("liveaudit"));
        c.current_dir(self.dir.path())
            .env_remove("LIVEAUDIT_CONFIG")
            .env_remove("LIVEAUDIT_CODES")
            .env_remove("LIVEAUDIT_LOG")
            .env_remove("LIVEAUDIT_TZ")
            .env_remove("LIVEAUDIT_RATE")
            .env("TD_PARTNER_CODE", CODE)
            .env("TD_PARTNER_KEY", KEY)
            .env("TD_RESULT_URL", self.mock.result_url())
            .env("TD_LICENSE_URL", self.mock.license_url())
            .env("LIVEAUDIT_DB", self.db());
        c
    }

    /// Starts the binary in the background with stdin, stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.cmd()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.cmd().args(args).output().unwrap();
        Run::from(out)
    }

    /// Runs the command line `line`, its words split at white space (no word holds any):
    /// `env.run_line("report billing --price 0.035 --format json")`.
    pub fn run_line(&self, line: &str) -> Run {
        self.run(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// Runs the command line `line` ([`Env::run_line`]) and asserts exit 0.
    pub fn ok(&self, line: &str) -> Run {
        let run = self.run_line(line);
        run.expect(0);
        run
    }

    /// Runs the command line `line` ([`Env::run_line`]), asserts exit 0 and reads stdout as
    /// JSON.
    pub fn json(&self, line: &str) -> serde_json::Value {
        let run = self.run_line(line);
        run.expect(0);
        run.json()
    }

    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).unwrap()
    }

    /// The one value `sql` selects (e.g. `SELECT count(*) FROM checks WHERE ...`).
    pub fn one<T: rusqlite::types::FromSql>(&self, sql: &str) -> T {
        self.conn()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The outcome the last run recorded (`done`, `interrupted`, `cut_off`, ...).
    pub fn last_outcome(&self) -> String {
        self.one("SELECT outcome FROM runs ORDER BY id DESC LIMIT 1")
    }

    /// (liveness_id, status, code) of every check.
    pub fn checks(&self) -> Vec<(String, String, Option<i64>)> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT liveness_id, status, code FROM checks ORDER BY liveness_id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// How many ids the mock was asked more than once though their answer was final (any code
    /// but 11350, which is asked again by rule).
    pub fn final_asked_again(&self) -> usize {
        self.mock
            .requests_by_id()
            .iter()
            .filter(|(id, n)| **n > 1 && liveaudit::mock::expected_code(id) != 11350)
            .count()
    }

    /// Asserts every check holds the code the mock gives its id.
    pub fn assert_all_match_mock(&self) {
        let checks = self.checks();
        assert!(!checks.is_empty());
        for (id, status, code) in checks {
            assert_eq!(status, "done", "{id}");
            assert_eq!(code, Some(liveaudit::mock::expected_code(&id)), "{id}");
        }
    }
}

/// The embedded mock on an ephemeral loopback port, with the test's credentials and 2 KiB
/// face images.
fn start_mock(rt: &tokio::runtime::Runtime, opts: MockOptions) -> MockServer {
    rt.block_on(MockServer::start(
        MockOptions {
            partner_code: CODE.into(),
            partner_key: KEY.into(),
            image_bytes: 2048,
            ..opts
        },
        "127.0.0.1:0".parse().unwrap(),
    ))
    .unwrap()
}

pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.status,
            Some(code),
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stdout.contains(KEY) && !self.stderr.contains(KEY),
            "key leaked:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stderr holds `text`, showing stderr when it does not.
    pub fn stderr_has(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "{text:?} not in:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts that stdout holds `text`, showing stdout when it does not.
    pub fn stdout_has(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "{text:?} not in:\n{}",
            self.stdout
        );
        self
    }

    /// Its stdout read as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Sends SIGTERM to `child` (with `kill`) and waits for it to end: what it printed.
pub fn sigterm(child: std::process::Child) -> Run {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    Run::from(child.wait_with_output().unwrap())
}

/// The nightly job's flags of every night in these tests: state in `st/`, short waits.
pub const NIGHT: [&str; 9] = [
    "--log-format",
    "json",
    "nightly",
    "--state",
    "st",
    "--backoff-max-ms",
    "20",
    "--settle-secs",
    "0",
];

/// Runs one night with `more` flags after the common ones, against `cmd`'s mock.
pub fn night(mut cmd: std::process::Command, now: &str, more: &[&str]) -> Run {
    let mut args: Vec<&str> = NIGHT.to_vec();
    args.extend(["--max-retries", "1", "--now", now]);
    if !more.contains(&"--rate") {
        args.extend(["--rate", "0"]);
    }
    args.extend(more);
    Run::from(
        cmd.args(&args)
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("STATE_DIRECTORY")
            .output()
            .unwrap(),
    )
}

/// Asserts that `stream` (named `name`) holds `text`.
fn holds(name: &str, stream: &str, text: &str) {
    assert!(stream.contains(text), "{text:?} not in {name}:\n{stream}");
}

/// Asserts that no second (a window of 1000 ms from any send time) holds more than `most` of
/// `times`.
pub fn assert_at_most_per_second(times: &[i64], most: usize) {
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|u| **u < t + 1000).count();
        assert!(
            in_window <= most,
            "{in_window} requests in the second from {t}"
        );
    }
}

/// A tmpfs mounted for a test (root only), unmounted when dropped.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "2m") at `dir` (created).
    pub fn mount(dir: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir(&dir).unwrap();
        let fs = Tmpfs(dir);
        fs.mount_with(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]);
        fs
    }

    /// Runs `mount ARGS DIR` (e.g. to remount read-only).
    pub fn mount_with(&self, args: &[&str]) {
        let ok = std::process::Command::new("mount")
            .args(args)
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(
            ok.success(),
            "mount {args:?} (the tests marked `needs root` need root)"
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A fetch against the mock, built flag by flag:
/// `env.fetch("ids.csv").quick().flag("--concurrency", "4").run()`.
pub struct Fetch<'a> {
    env: &'a Env,
    input: String,
    flags: Vec<String>,
    /// Environment variables set (`Some`) or removed (`None`) for this run only.
    vars: Vec<(String, Option<String>)>,
}

impl Env {
    /// A `fetch` of `input` (a path under the test directory, or `-`).
    pub fn fetch(&self, input: &str) -> Fetch<'_> {
        Fetch {
            env: self,
            input: input.to_string(),
            flags: Vec::new(),
            vars: Vec::new(),
        }
    }
}

impl Fetch<'_> {
    /// No rate limit and back-off waits of at most 100 ms: the usual test run.
    pub fn quick(self) -> Self {
        self.backoff(100).unlimited()
    }

    /// Back-off waits of at most `ms` milliseconds.
    pub fn backoff(self, ms: u64) -> Self {
        self.flag("--backoff-max-ms", &ms.to_string())
    }

    /// No rate limit (`--rate 0`).
    pub fn unlimited(self) -> Self {
        self.flag("--rate", "0")
    }

    /// `n` requests in flight at once.
    pub fn concurrency(self, n: usize) -> Self {
        self.flag("--concurrency", &n.to_string())
    }

    /// One more flag with its value.
    pub fn flag(mut self, name: &str, value: &str) -> Self {
        self.flags.push(name.to_string());
        self.flags.push(value.to_string());
        self
    }

    /// One more flag whose value is a path.
    pub fn file(self, name: &str, path: &Path) -> Self {
        self.flag(name, &path.to_string_lossy())
    }

    /// More words as they are (flags without a value, or flag and value pairs).
    pub fn words(mut self, words: &[&str]) -> Self {
        self.flags.extend(words.iter().map(|w| w.to_string()));
        self
    }

    /// An environment variable set for this run (e.g. another `TD_RESULT_URL`).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_string(), Some(value.to_string())));
        self
    }

    /// An environment variable removed for this run (e.g. `TD_PARTNER_KEY`).
    pub fn without(mut self, name: &str) -> Self {
        self.vars.push((name.to_string(), None));
        self
    }

    /// The whole command line: `fetch`, the flags, then the input.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["fetch".to_string()];
        args.extend(self.flags.iter().cloned());
        args.push(self.input.clone());
        args
    }

    /// The binary with this command line, not started ([`Env::cmd`]).
    pub fn cmd(&self) -> std::process::Command {
        let mut c = self.env.cmd();
        for (name, value) in &self.vars {
            match value {
                Some(v) => c.env(name, v),
                None => c.env_remove(name),
            };
        }
        c.args(self.args());
        c
    }

    /// Runs it to the end.
    pub fn run(self) -> Run {
        Run::from(self.cmd().output().unwrap())
    }

    /// Starts it in the background with stdin, stdout and stderr piped ([`Env::spawn`]).
    pub fn spawn(self) -> std::process::Child {
        self.cmd()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// The words of `line`, split at white space (no word holds any): a command line written on
/// one line, `words("report billing --format json")`.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// `n` ids of the form `lv-00000042`, one per line, with a header.
pub fn id_csv(n: usize) -> String {
    let mut s = String::from("liveness_id\n");
    for i in 0..n {
        s.push_str(&format!("lv-{i:08}\n"));
    }
    s
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

impl Env {
    /// A second mock with the test's credentials (e.g. one that injects faults), on this
    /// test's runtime; point a command at it with [`Env::at`].
    pub fn another_mock(&self, opts: MockOptions) -> MockServer {
        start_mock(&self.rt, opts)
    }

    /// The binary as [`Env::cmd`], pointed at `mock` instead of the test's own.
    pub fn at(&self, mock: &MockServer) -> std::process::Command {
        let mut c = self.cmd();
        c.env("TD_RESULT_URL", mock.result_url())
            .env("TD_LICENSE_URL", mock.license_url());
        c
    }
}
