//! A progress line for uploads, redrawn with `\r` (on stderr) while the file is read.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Redraws at most this often (and always at the end).
const REDRAW: Duration = Duration::from_millis(100);

/// Counts the bytes read from `inner` and draws `front.png [#####     ] 12.3 KiB / 45.6 KiB  27%`
/// on `out`.
pub(crate) struct Progress<R> {
    inner: R,
    out: Box<dyn Write + Send>,
    read: u64,
    total: u64,
    label: String,
    last_draw: Option<Instant>,
    finished: bool,
}

impl<R: Read> Progress<R> {
    /// Wraps `inner`, which yields `total` bytes; `label` names what is sent (the file name).
    pub(crate) fn new(
        inner: R,
        total: u64,
        label: impl Into<String>,
        out: Box<dyn Write + Send>,
    ) -> Self {
        Self {
            inner,
            out,
            read: 0,
            total,
            label: label.into(),
            last_draw: None,
            finished: false,
        }
    }

    fn draw(&mut self) {
        let percent = (self.read.saturating_mul(100))
            .checked_div(self.total)
            .unwrap_or(100)
            .min(100);
        let filled = usize::try_from(percent / 5).unwrap_or(20);
        let bar = format!("{}{}", "#".repeat(filled), " ".repeat(20 - filled.min(20)));
        let _ = write!(
            self.out,
            // Cleared first: a shorter line must not keep the end of a longer one.
            "\r\x1b[2K{} [{bar}] {} / {} {percent:>3}%",
            self.label,
            human(self.read),
            human(self.total)
        );
        if self.read >= self.total && !self.finished {
            self.finished = true;
            let _ = writeln!(self.out);
        }
        let _ = self.out.flush();
        self.last_draw = Some(Instant::now());
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        let due = self.last_draw.is_none_or(|at| at.elapsed() >= REDRAW);
        if !self.finished && (due || self.read >= self.total) {
            self.draw();
        }
        Ok(n)
    }
}

impl<R> Drop for Progress<R> {
    fn drop(&mut self) {
        // An interrupted upload leaves the cursor at the end of the line: end it.
        if self.last_draw.is_some() && !self.finished {
            let _ = writeln!(self.out);
        }
    }
}

/// `1234567` → `1.2 MiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = "KiB";
    for next in UNITS.iter().skip(1) {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(16 * 1024 * 1024), "16.0 MiB");
    }

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_byte_passes_through_and_the_line_ends_at_100_percent() {
        let data: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let drawn = Shared::default();
        let mut wrapped = Progress::new(
            &data[..],
            data.len() as u64,
            "doc.png",
            Box::new(drawn.clone()),
        );
        let mut copy = Vec::new();
        wrapped.read_to_end(&mut copy).unwrap();
        drop(wrapped);
        assert_eq!(copy, data);
        let text = String::from_utf8(drawn.0.lock().unwrap().clone()).unwrap();
        // Each redraw clears the line first (a shorter line must not keep a longer one's end).
        assert!(text.starts_with("\r\x1b[2Kdoc.png ["), "{text:?}");
        assert!(
            text.ends_with("[####################] 9.8 KiB / 9.8 KiB 100%\n"),
            "{text:?}"
        );
        assert_eq!(text.matches('\n').count(), 1, "{text:?}");
    }
}
