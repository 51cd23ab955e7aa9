//! The upload progress bar: indicatif on stderr, drawn only when stderr is a terminal.

use std::io::Read;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar for an upload of `len` bytes named `label` (the file name, control characters escaped).
pub(crate) fn upload_bar(len: u64, label: &str) -> ProgressBar {
    bar_on(ProgressDrawTarget::stderr(), len, label)
}

fn bar_on(target: ProgressDrawTarget, len: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:20}] {binary_bytes} / {binary_total_bytes} {percent:>3}%",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("#> ");
    bar.set_style(style);
    bar.set_message(crate::failure::printable(label));
    bar
}

/// `reader` counted by `bar`, from zero: each attempt of an upload reads the file from its start.
pub(crate) fn observed(bar: &ProgressBar, reader: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    bar.set_position(0);
    Box::new(bar.wrap_read(reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_passes_through_and_is_counted_from_zero_on_each_attempt() {
        let data: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let bar = bar_on(ProgressDrawTarget::hidden(), data.len() as u64, "doc\n.png");
        for _ in 0..2 {
            let mut copy = Vec::new();
            let mut reader = observed(&bar, Box::new(std::io::Cursor::new(data.clone())));
            reader.read_to_end(&mut copy).unwrap();
            assert_eq!(copy, data);
            assert_eq!(bar.position(), data.len() as u64);
        }
        assert_eq!(bar.length(), Some(data.len() as u64));
        assert!(!bar.message().contains('\n'), "{:?}", bar.message());
    }
}
