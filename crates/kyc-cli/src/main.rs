//! `kyc`: the command-line tool for Pomelo's Identity (KYC) API.
//!
//! Operators and scripts look at sessions, upload documents, clear test users, check webhooks,
//! run the local simulator and watch the whole flow, from a shell:
//!
//! ```text
//! kyc session get iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR
//! kyc webhook verify --secret "$KEY:$SECRET" --header "X-Api-Key: $KEY" ... --body event.json
//! kyc demo
//! ```
//!
//! # Contract
//!
//! - On success, one JSON document on stdout (the API's `data`, unwrapped); `kyc demo` prints
//!   readable lines instead, and `kyc mock` one JSON line, then serves.
//! - On failure, nothing on stdout; stderr's first line is `error[KIND]: MESSAGE`.
//! - Exit codes: 0 success; 1 API error or transport failure (after retries); 2 invalid usage or
//!   input rejected before any request; 3 webhook rejected.
//!
//! This crate holds no protocol logic: arguments become `kyc-core` request types and `kyc-ureq`
//! calls, and results and errors become JSON and exit codes. Secrets (the client secret, access
//! tokens unless `kyc token --reveal`, webhook secrets) never appear in its output or errors.

#![forbid(unsafe_code)]

mod api;
mod capture;
mod cli;
mod demo;
mod doctor;
mod failure;
mod input;
mod mock;
mod output;
mod progress;
mod time;
mod track;
mod webhook;

use std::process::ExitCode;

use clap::Parser as _;
use kyc_core::{CancelSession, GetReport, GetSession};

use crate::cli::{Cli, Command, SessionCommand, TrackCommand, WebhookCommand};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return failure::usage(&e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let global = cli.global;
    match cli.command {
        Command::Token(args) => api::token(&global, &args),
        Command::Revoke => api::revoke(&global),
        Command::Session(command) => match command {
            SessionCommand::Create(args) => api::create_session(&global, &args),
            SessionCommand::Get(args) => api::print(&global, &GetSession::new(args.id)),
            SessionCommand::Cancel(args) => api::print(&global, &CancelSession::new(args.id)),
            SessionCommand::Report(args) => api::print(&global, &GetReport::new(args.id)),
            SessionCommand::Search(args) => api::search(&global, &args),
        },
        Command::Upload(args) => api::upload(&global, &args),
        Command::Clean(args) => api::clean(&global, &args),
        Command::Webhook(command) => match command {
            WebhookCommand::Verify(args) => webhook::verify(&args),
            WebhookCommand::Sign(args) => webhook::sign(&args),
        },
        Command::Mock(args) => mock::run(&args),
        Command::Openapi => output::document(kyc_mock::OPENAPI),
        Command::Demo => demo::run(),
        Command::Doctor(args) => doctor::run(&global, &args),
        Command::Track(command) => match command {
            TrackCommand::Serve(args) => track::serve(&global, &args),
            TrackCommand::Add(args) => track::add(&args),
            TrackCommand::List(args) => track::list(&args),
            TrackCommand::Show(args) => track::show(&args),
            TrackCommand::Verdicts(args) => track::verdicts(&args),
        },
        Command::Completions(args) => {
            use clap::CommandFactory as _;
            let mut command = Cli::command();
            clap_complete::generate(args.shell, &mut command, "kyc", &mut std::io::stdout());
            Ok(())
        }
    }
}
