//! The one JSON document a successful command prints on stdout.

use std::io::Write as _;

use serde::Serialize;

use crate::failure::Failure;

/// Prints `value` as pretty JSON and a newline on stdout, then flushes. A reader that stopped
/// reading (`kyc ... | head`) is not an error: the command did its work.
pub(crate) fn json(value: &impl Serialize) -> Result<(), Failure> {
    // Rendered whole first, so a value that cannot be serialised leaves stdout empty.
    let text = serde_json::to_string_pretty(value).map_err(|e| {
        Failure::io(
            "cannot render the result as JSON",
            &std::io::Error::other(e),
        )
    })?;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::io("cannot write the result to stdout", &e))
        }
        _ => Ok(()),
    }
}
