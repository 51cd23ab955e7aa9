//! `kyc mock`: the simulator in the foreground until Ctrl-C or SIGTERM.

use std::io::Write as _;

use kyc_mock::{MockServer, StartError, StopSignals};
use serde::Serialize;

use crate::cli::MockArgs;
use crate::failure::Failure;

/// The line printed on start: where the simulator is and how to call it.
#[derive(Serialize)]
struct Started<'a> {
    base_url: &'a str,
    audience: &'a str,
    /// The simulator's own test credentials (`kyc-mock-client` / `kyc-mock-secret`): printing
    /// them is the point, they open nothing else.
    client_id: &'a str,
    /// Printed only when it is the default; a secret given with `--client-secret` (or its file)
    /// is never echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    /// The first of `webhook_urls`, or none.
    webhook_url: Option<&'a str>,
    /// Every webhook target, taken in turn.
    webhook_urls: &'a [String],
    /// The seed of the webhook chaos's random choices: `--webhook-seed` replays them.
    webhook_seed: u64,
    webhook_api_key: &'a str,
    /// Printed only when it is the default (Pomelo's published example pair); a secret given with
    /// `--secret` is never echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<&'a str>,
    /// The description of the API it plays (OpenAPI 3.1).
    openapi_url: String,
    /// The console, its token included (it answers only on loopback).
    console_url: String,
    /// The admin API's token (`x-admin-token`).
    admin_token: &'a str,
}

pub(crate) fn run(args: &MockArgs) -> Result<(), Failure> {
    let simulator = &args.simulator;
    // Pomelo issues the key and the secret as a pair: one without the other is a mistake here.
    // (The kyc-mock program, for tests, takes either alone.)
    let custom_secret = simulator.secret.is_some() || simulator.secret_file.is_some();
    if simulator.api_key.is_some() != custom_secret {
        return Err(Failure::invalid_input(
            "--api-key and --secret (or --secret-file) go together",
        ));
    }
    let custom_client_secret =
        simulator.client.client_secret.is_some() || simulator.client.client_secret_file.is_some();
    // The secrets are checked by the simulator's start, whose messages never quote them.
    let config = simulator
        .config()
        .map_err(|e| Failure::invalid_input(e.to_string()))?;
    // Installed before the start line is printed, so a signal sent as soon as it appears is
    // handled.
    let signals = StopSignals::install().map_err(|e| Failure::io("cannot handle signals", &e))?;
    let server = MockServer::start(config).map_err(|e| match e {
        StartError::InvalidConfig { .. } => Failure::invalid_input(e.to_string()),
        other => Failure::io(
            "cannot start the simulator",
            &std::io::Error::other(other.to_string()),
        ),
    })?;
    let started = Started {
        base_url: server.base_url(),
        audience: server.audience(),
        client_id: server.client_id(),
        client_secret: (!custom_client_secret).then(|| server.client_secret()),
        webhook_url: server.webhook_url(),
        webhook_urls: server.webhook_urls(),
        webhook_seed: server.webhook_seed(),
        webhook_api_key: server.webhook_api_key(),
        webhook_secret: (!custom_secret).then(|| server.webhook_secret()),
        openapi_url: server.openapi_url(),
        console_url: server.console_url(),
        admin_token: server.admin_token(),
    };
    let line = serde_json::to_string(&started)
        .map_err(|e| Failure::io("cannot render the start line", &std::io::Error::other(e)))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|e| Failure::io("cannot write to stdout", &e))?;
    }
    eprintln!(
        "kyc mock: Pomelo Identity simulator on {}; console at {}; Ctrl-C to stop",
        server.base_url(),
        server.console_url()
    );
    let waited = signals.wait();
    server.shutdown();
    waited.map_err(|e| Failure::io("cannot wait for a stop signal", &e))?;
    eprintln!("kyc mock: stopped");
    Ok(())
}

/// Every option the documentation names for the simulator is taken by both of its entry points,
/// `kyc mock` and the `kyc-mock` program (issue #28: the README named `--strict-audience`, which
/// `kyc mock` refused), and every documented simulator command line parses in both.
#[cfg(test)]
mod tests {
    // A panic in a test is a failed test.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::collections::BTreeSet;

    use clap::error::ErrorKind;
    use clap::{Args as _, CommandFactory as _, FromArgMatches as _, Parser as _};
    use kyc_mock::SimulatorArgs;

    use crate::cli::Cli;

    /// The documents that talk about the simulator, from the workspace's root.
    const DOCUMENTS: [&str; 5] = [
        "README.md",
        "crates/kyc-mock/README.md",
        "crates/kyc-mock/src/lib.rs",
        "docs/wire-conventions.md",
        "ARCHITECTURE.md",
    ];

    /// `kyc mock ARGS`, as `kyc` parses it.
    fn kyc_mock(args: &[&str]) -> Result<(), ErrorKind> {
        let argv = ["kyc", "mock"].into_iter().chain(args.iter().copied());
        Cli::try_parse_from(argv).map(drop).map_err(|e| e.kind())
    }

    /// `kyc-mock ARGS`, as the program parses it (its `Program` flattens `SimulatorArgs` alone).
    fn program(args: &[&str]) -> Result<(), ErrorKind> {
        let command = SimulatorArgs::augment_args(clap::Command::new("kyc-mock").version("0"));
        let argv = std::iter::once("kyc-mock").chain(args.iter().copied());
        let matches = command.try_get_matches_from(argv).map_err(|e| e.kind())?;
        SimulatorArgs::from_arg_matches(&matches)
            .map(drop)
            .map_err(|e| e.kind())
    }

    /// The text of a document, a Rust file's `//!` lines as Markdown.
    fn document(path: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join(path)).unwrap();
        if !path.ends_with(".rs") {
            return text;
        }
        text.lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Lines, a line whose inline code span goes on joined with the next (`` `kyc mock ``
    /// ⏎ `` --alternative NAME` ``).
    fn logical_lines(text: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
            let fence = line.trim_start().starts_with("```");
            if fence || current.matches('`').count() % 2 == 0 {
                lines.push(std::mem::take(&mut current));
            }
        }
        lines.push(current);
        lines
    }

    /// The arguments after each `kyc mock`, `kyc-mock` or `kyc-mock --` on a line, up to the end
    /// of its code span, comment or table cell.
    fn command_lines(line: &str) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        for start in ["kyc mock", "kyc-mock"] {
            for (at, _) in line.match_indices(start) {
                let rest = &line[at + start.len()..];
                if !rest.is_empty() && !rest.starts_with(' ') {
                    continue;
                }
                let end = rest.find(['`', '|', '#', ')']).unwrap_or(rest.len());
                let args: Vec<String> = rest[..end]
                    .split_whitespace()
                    .skip_while(|a| *a == "--")
                    .map(str::to_owned)
                    .collect();
                if args.first().is_some_and(|a| a.starts_with("--")) {
                    found.push(args);
                }
            }
        }
        found
    }

    /// `--option` spellings in `text`.
    fn options_in(text: &str) -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.len() > 2 && w.starts_with("--") && !w.starts_with("---"))
            .map(str::to_owned)
            .collect()
    }

    /// The options and command lines the documents name for the simulator: after `kyc mock` or
    /// `kyc-mock`; in code spans under a heading about the simulator or its console; in a
    /// table's "Simulator" column.
    fn documented() -> (BTreeSet<String>, Vec<Vec<String>>) {
        let mut options = BTreeSet::new();
        let mut commands = Vec::new();
        let help = Cli::command()
            .find_subcommand_mut("mock")
            .unwrap()
            .render_long_help()
            .to_string();
        let texts = DOCUMENTS
            .iter()
            .map(|path| document(path))
            .chain([format!("{help}\n")]);
        for text in texts {
            let mut simulator_section = false;
            let mut simulator_column = None;
            for line in logical_lines(&text) {
                if line.starts_with('#') {
                    let heading = line.to_lowercase();
                    simulator_section = ["simulator", "console", "kyc-mock"]
                        .iter()
                        .any(|w| heading.contains(w));
                }
                let cells: Vec<&str> = line.split('|').collect();
                if line.starts_with('|') {
                    if let Some(column) = cells.iter().position(|c| c.contains("Simulator")) {
                        simulator_column = Some(column);
                    } else if let Some(cell) = simulator_column.and_then(|c| cells.get(c)) {
                        options.extend(options_in(cell));
                    }
                } else {
                    simulator_column = None;
                }
                for args in command_lines(&line) {
                    options.extend(args.iter().filter(|a| a.starts_with("--")).cloned());
                    commands.push(args);
                }
                if simulator_section {
                    for span in line.split('`').skip(1).step_by(2) {
                        options.extend(options_in(span));
                    }
                }
            }
        }
        (options, commands)
    }

    #[test]
    fn every_documented_simulator_option_is_taken_by_both_entry_points() {
        let (options, commands) = documented();
        for known in [
            "--port",
            "--manual",
            "--webhook-url",
            "--fault-rate",
            "--strict-audience",
            "--alternative",
            // Issue #25: the webhook chaos.
            "--notify-processing",
            "--webhook-seed",
            "--webhook-drop-rate",
            "--webhook-duplicate-rate",
            "--webhook-max-duplicates",
            "--webhook-max-delay-ms",
            "--webhook-keep-signature",
            "--webhook-omit-event-id",
            "--webhook-max-pending",
        ] {
            assert!(options.contains(known), "{known} not found in {options:?}");
        }
        for option in &options {
            // Without its value, an option is refused as incomplete, not as unknown.
            for (entry, parse) in [
                ("kyc mock", kyc_mock as fn(&[&str]) -> _),
                ("kyc-mock", program),
            ] {
                assert_ne!(
                    parse(&[option.as_str()]),
                    Err(ErrorKind::UnknownArgument),
                    "{entry} does not take {option}, which the documentation names"
                );
            }
        }
        // Documented command lines with real values (not placeholders such as NAME) parse.
        let concrete = commands.iter().filter(|args| {
            !args
                .iter()
                .any(|a| a.len() > 1 && a.chars().all(|c| c.is_ascii_uppercase()))
        });
        let mut parsed = 0;
        for args in concrete {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_eq!(kyc_mock(&args), Ok(()), "kyc mock {args:?}");
            assert_eq!(program(&args), Ok(()), "kyc-mock {args:?}");
            parsed += 1;
        }
        assert!(parsed >= 3, "{commands:?}");
    }

    #[test]
    fn an_unknown_option_is_refused_by_both() {
        assert_eq!(
            kyc_mock(&["--no-such-option"]),
            Err(ErrorKind::UnknownArgument)
        );
        assert_eq!(
            program(&["--no-such-option"]),
            Err(ErrorKind::UnknownArgument)
        );
    }
}
