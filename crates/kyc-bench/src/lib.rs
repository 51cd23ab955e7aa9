//! Measurement programs for kyc-rs (`src/bin/`, run by `scripts/bench.sh`; never by the tests) and
//! what they share.
//!
//! A minimal HTTP/1.1 server on 127.0.0.1 shared by the measurement programs: it answers the token
//! request, reads (and drops) every request body, answers everything else with what `respond`
//! returns, and keeps connections alive. Not a simulator: no validation, no routing beyond
//! `/oauth/token`. Nothing in a measurement should wait on it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

/// Starts the server on a free loopback port and returns its base URL. `respond` receives the
/// request body's length and returns the status and JSON body to send.
pub fn spawn_server<F>(respond: F) -> std::io::Result<String>
where
    F: Fn(u64) -> (u16, String) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let respond = Arc::new(respond);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let respond = Arc::clone(&respond);
            std::thread::spawn(move || {
                // A broken connection ends that connection's thread, nothing else.
                let _ = serve(stream, &*respond);
            });
        }
    });
    Ok(base_url)
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: TcpStream, respond: &dyn Fn(u64) -> (u16, String)) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0u64;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut sink = [0u8; 64 * 1024];
        let mut left = content_length;
        while left > 0 {
            let want = left.min(sink.len() as u64) as usize;
            let n = reader.read(sink.get_mut(..want).unwrap_or_default())?;
            if n == 0 {
                return Ok(());
            }
            left -= n as u64;
        }
        let (status, body) = if request_line.contains("/oauth/token") {
            (
                200,
                r#"{"access_token":"bench-token","token_type":"Bearer","expires_in":3600}"#
                    .to_owned(),
            )
        } else {
            respond(content_length)
        };
        write!(
            writer,
            "HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )?;
        writer.flush()?;
    }
}

/// Writes a temporary file of `len` bytes (at least 4) starting with JPEG magic, 1 MiB at a time.
pub fn write_big_file(name: &str, len: u64) -> std::io::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("{name}-{}.jpg", std::process::id()));
    let mut file = std::fs::File::create(&path)?;
    let filler = vec![0x5Au8; 1024 * 1024];
    file.write_all(&[0xFF, 0xD8, 0xFF, 0xE0])?;
    let mut left = len.saturating_sub(4);
    while left > 0 {
        let n = left.min(filler.len() as u64) as usize;
        file.write_all(filler.get(..n).unwrap_or_default())?;
        left -= n as u64;
    }
    Ok(path)
}

/// Peak resident set size of this process, in KiB (Linux: `VmHWM` in `/proc/self/status`).
pub fn peak_rss_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status (Linux only)")?;
    Ok(line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}
