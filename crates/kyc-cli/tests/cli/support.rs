//! Running the binary with a deadline, and the simulator it talks to.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kyc_mock::{MockConfig, MockServer};
use serde_json::Value;

/// The client secret the test simulator accepts: distinctive, so a leak is found by a search.
pub(crate) const CLIENT_SECRET: &str = "cli-test-client-secret-Zq81x";
/// A webhook signing secret (base64 of "kyc-cli test webhook secret!").
pub(crate) const WEBHOOK_SECRET: &str = "a3ljLWNsaSB0ZXN0IHdlYmhvb2sgc2VjcmV0IQ==";
/// Strings no command may ever print (outside `--reveal` and `kyc mock`'s own start line).
pub(crate) const SECRETS: [&str; 2] = [CLIENT_SECRET, WEBHOOK_SECRET];
/// Longest any single command may take in these tests.
const DEADLINE: Duration = Duration::from_secs(60);

/// What a run of `kyc` produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts exit 0 and an empty stderr, and returns stdout parsed as one JSON document.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        assert_eq!(self.code, 0, "{self:#?}");
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:#?}"))
    }

    /// Asserts a failure: `exit`, nothing on stdout, and a first stderr line
    /// `error[kind]: ...`; returns the message after the prefix.
    #[track_caller]
    pub(crate) fn failure(&self, kind: &str, exit: i32) -> String {
        assert_eq!(self.code, exit, "{self:#?}");
        assert!(self.stdout.is_empty(), "stdout must be empty: {self:#?}");
        let first = self.stderr.lines().next().unwrap_or_default();
        let prefix = format!("error[{kind}]: ");
        assert!(first.starts_with(&prefix), "expected {prefix:?}: {self:#?}");
        first[prefix.len()..].to_owned()
    }

    /// Everything the run printed.
    pub(crate) fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `kyc args` with no `POMELO_*` variable but those in `env`, feeding `stdin`, and asserts
/// that no known secret appears in its output.
#[track_caller]
pub(crate) fn kyc_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    let run = run_unchecked(args, env, stdin);
    let printed = run.all_output();
    for secret in SECRETS {
        assert!(!printed.contains(secret), "a secret leaked: {run:#?}");
    }
    run
}

/// `kyc args` with a clean environment.
#[track_caller]
pub(crate) fn kyc(args: &[&str]) -> Run {
    kyc_with(args, &[], None)
}

/// Runs the binary without looking for secrets in its output.
pub(crate) fn run_unchecked(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kyc"));
    command.args(args);
    for name in [
        "POMELO_ENV",
        "POMELO_BASE_URL",
        "POMELO_AUDIENCE",
        "POMELO_CLIENT_ID",
        "POMELO_CLIENT_SECRET",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the kyc binary starts");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).unwrap();
    }
    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    let code = wait(&mut child, DEADLINE);
    Run {
        code,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    })
}

/// Waits for `child` at most `limit`, killing it (and failing the test) past that.
pub(crate) fn wait(child: &mut Child, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kyc did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A simulator on loopback that accepts [`CLIENT_SECRET`], deciding outcomes at once.
pub(crate) struct Sim {
    pub(crate) server: MockServer,
}

impl Sim {
    pub(crate) fn start() -> Self {
        Self::with(MockConfig::new())
    }

    pub(crate) fn with(config: MockConfig) -> Self {
        let server = MockServer::start(
            config
                .client_secret(CLIENT_SECRET)
                .processing_delay(Duration::ZERO),
        )
        .unwrap();
        Self { server }
    }

    /// The global options that point `kyc` at this simulator.
    pub(crate) fn globals(&self) -> Vec<String> {
        [
            "--env",
            "sandbox",
            "--base-url",
            self.server.base_url(),
            "--audience",
            self.server.audience(),
            "--client-id",
            self.server.client_id(),
            "--client-secret",
            CLIENT_SECRET,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// `kyc <globals> args`.
    #[track_caller]
    pub(crate) fn kyc(&self, args: &[&str]) -> Run {
        self.kyc_stdin(args, None)
    }

    /// `kyc <globals> args` with `stdin`.
    #[track_caller]
    pub(crate) fn kyc_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let globals = self.globals();
        let mut all: Vec<&str> = globals.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        kyc_with(&all, &[], stdin)
    }

    /// Creates a session for `user_id` in `country` through the CLI; returns its id.
    #[track_caller]
    pub(crate) fn create(&self, user_id: &str, country: &str) -> String {
        let created = self
            .kyc(&[
                "session",
                "create",
                "--country",
                country,
                "--user-id",
                user_id,
            ])
            .json();
        created["id"].as_str().unwrap().to_owned()
    }

    /// Paths of the requests the simulator received so far.
    pub(crate) fn paths(&self) -> Vec<String> {
        self.server.requests().into_iter().map(|r| r.path).collect()
    }
}

/// A sample document shipped with the CLI (the ones `kyc demo` uploads).
pub(crate) fn sample(name: &str) -> String {
    format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A fresh empty directory for a test's files.
pub(crate) fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kyc-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether `text` is RFC 3339 UTC with whole seconds, `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}
