//! `kyc doctor`: read-only probes of a Pomelo account over the global options (`probe.rs`), the
//! verdicts on what they found (`checks.rs`), the report as JSON (and a table on a terminal), and
//! `--env-file` with the settings that fit.

mod checks;
mod probe;

use std::io::{IsTerminal as _, Write as _};

use probe::Options;
use serde::Serialize;

use crate::cli::{DoctorArgs, GlobalArgs};
use crate::failure::Failure;
use crate::{api, output, webhook};

#[derive(Serialize)]
struct Printed<'a> {
    checks: &'a [checks::Check],
}

pub(crate) fn run(global: &GlobalArgs, args: &DoctorArgs) -> Result<(), Failure> {
    let settings = api::settings(global)?;
    let mut options = Options::default();
    if let Some(session) = &args.session {
        options = options.session(session.as_str());
    }
    if let Some(path) = &args.webhook_file {
        options = options.webhook(webhook::capture(path)?, webhook::keys(&args.secrets)?);
    }
    let report = probe::run(&settings, &options);
    if let Some(path) = &args.env_file {
        let mut text = String::from("# Settings kyc doctor found to fit this Pomelo account.\n");
        for setting in report.settings() {
            text.push_str(setting);
            text.push('\n');
        }
        std::fs::write(path, text)
            .map_err(|e| Failure::io(&format!("cannot write {}", path.display()), &e))?;
    }
    if std::io::stderr().is_terminal() {
        let mut table = String::new();
        for check in &report.checks {
            let setting = check.setting.as_deref().unwrap_or("");
            table.push_str(&format!(
                "{:<8} {:<17} {setting}\n         {}\n",
                check.verdict.to_string(),
                check.name,
                crate::failure::printable(&check.detail)
            ));
        }
        let _ = std::io::stderr().write_all(table.as_bytes());
    }
    output::json(&Printed {
        checks: &report.checks,
    })?;
    if report.failed() {
        return Err(Failure::checks_failed());
    }
    Ok(())
}
