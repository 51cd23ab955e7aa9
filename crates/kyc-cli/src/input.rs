//! Reading `FILE|-` arguments: a file's bytes, or standard input's with `-`.

use std::io::Read as _;

use crate::failure::Failure;

/// The bytes of `source`: standard input for `-`, else the file at that path. `what` names the
/// argument in error messages.
pub(crate) fn read(what: &str, source: &str) -> Result<Vec<u8>, Failure> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::invalid_input(format!("{what}: cannot read stdin: {e}")))?;
        Ok(bytes)
    } else {
        std::fs::read(source)
            .map_err(|e| Failure::invalid_input(format!("{what}: cannot read {source}: {e}")))
    }
}

/// The bytes of `source`, or none when the argument was not given.
pub(crate) fn read_or_empty(what: &str, source: Option<&str>) -> Result<Vec<u8>, Failure> {
    source.map_or_else(|| Ok(Vec::new()), |s| read(what, s))
}
