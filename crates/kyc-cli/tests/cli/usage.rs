//! Usage errors and help.

use crate::support::{CLIENT_SECRET, kyc, kyc_with};

#[test]
fn usage_errors_are_invalid_input_with_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["session"],
        &["session", "get"],
        &["token", "--no-such-flag"],
        &["--env", "moon", "token"],
        &["--timeout", "0", "token"],
        &["clean"],
        &["clean", "--user-id", "u", "--document-number", "1"],
        &["session", "search", "--all", "--page", "2"],
        &[
            "session",
            "create",
            "--country",
            "ARG",
            "--user-id",
            "u",
            "--terms-version",
            "v1",
        ],
        &[
            "session",
            "create",
            "--country",
            "ARG",
            "--user-id",
            "u",
            "--integration-method",
            "FAX",
        ],
        &["webhook", "verify", "--header", "X-Api-Key: k"],
        &["mock", "--api-key", "k"],
    ] {
        let run = kyc(args);
        run.failure("invalid_input", 2);
    }
}

#[test]
fn every_command_explains_itself_with_an_example() {
    for command in [
        &[][..],
        &["token"],
        &["session"],
        &["session", "create"],
        &["session", "get"],
        &["session", "cancel"],
        &["session", "report"],
        &["session", "search"],
        &["upload"],
        &["clean"],
        &["webhook"],
        &["webhook", "verify"],
        &["webhook", "sign"],
        &["mock"],
        &["demo"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let run = kyc(&args);
        assert_eq!(run.code, 0, "{run:#?}");
        assert!(run.stderr.is_empty(), "{run:#?}");
        assert!(run.stdout.contains("Example"), "{args:?}: {}", run.stdout);
        assert!(run.stdout.contains("kyc "), "{args:?}");
    }
}

#[test]
fn help_never_shows_the_secret_from_the_environment() {
    let env = [
        ("POMELO_CLIENT_SECRET", CLIENT_SECRET),
        ("POMELO_CLIENT_ID", "visible-id"),
    ];
    let run = kyc_with(&["token", "--help"], &env, None);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("POMELO_CLIENT_SECRET"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("visible-id"),
        "the client id is not a secret"
    );
}

#[test]
fn version_is_printed() {
    let run = kyc(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("kyc "), "{run:#?}");
}

#[test]
fn completions_are_generated_for_each_shell_and_name_the_commands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef kyc"),
        ("fish", "complete -c kyc"),
    ] {
        let run = kyc(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for expected in [marker, "session", "upload", "doctor"] {
            assert!(run.stdout.contains(expected), "{shell}: no `{expected}`");
        }
    }
    let run = kyc(&["completions", "tcsh"]);
    assert_eq!(run.code, 2, "an unknown shell is a usage error");
}
