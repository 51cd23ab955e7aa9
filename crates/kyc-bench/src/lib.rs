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
use std::sync::atomic::{AtomicU64, Ordering};

/// What the server counted.
#[derive(Debug, Default)]
pub struct Counts {
    /// Token requests answered.
    pub token_requests: AtomicU64,
    /// Other requests answered.
    pub requests: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
}

/// Starts the server on a free loopback port and returns its base URL. `respond` receives the
/// request body's length and returns the status and JSON body to send.
pub fn spawn_server<F>(respond: F) -> std::io::Result<String>
where
    F: Fn(u64) -> (u16, String) + Send + Sync + 'static,
{
    spawn_counting_server(respond).map(|(url, _)| url)
}

/// [`spawn_server`], also returning what it counts.
pub fn spawn_counting_server<F>(respond: F) -> std::io::Result<(String, Arc<Counts>)>
where
    F: Fn(u64) -> (u16, String) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let respond = Arc::new(respond);
    let counts = Arc::new(Counts::default());
    let counted = Arc::clone(&counts);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.connections.fetch_add(1, Ordering::Relaxed);
            let respond = Arc::clone(&respond);
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || {
                // A broken connection ends that connection's thread, nothing else.
                let _ = serve(stream, &*respond, &counted);
            });
        }
    });
    Ok((base_url, counts))
}

/// Answers requests on one connection until the client closes it.
fn serve(
    stream: TcpStream,
    respond: &dyn Fn(u64) -> (u16, String),
    counts: &Counts,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    // Once per connection: zeroing 64 KiB per request cost the clients a core's share.
    let mut sink = vec![0u8; 64 * 1024];
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
            counts.token_requests.fetch_add(1, Ordering::Relaxed);
            (
                200,
                r#"{"access_token":"bench-token","token_type":"Bearer","expires_in":3600}"#
                    .to_owned(),
            )
        } else {
            counts.requests.fetch_add(1, Ordering::Relaxed);
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

/// A ~2 KB get-session answer: eight steps, three files and a vendor object the models keep in
/// `extra`.
pub fn session_json() -> String {
    let files: Vec<String> = ["selfie", "identity-card-front", "identity-card-back"]
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            format!(
                r#"{{"id":"fil-2lG0Yvy1fqyFX1ghT6kiAhrc2f{i}","entity_id":"usr-2HPUYx0n9USSNwSkP5G0gY1I2TO","type_document":"{doc}","file_name":"{doc}.jpg","content_type":"image/jpeg","size":18342{i},"created_at":"2021-07-27T14:0{i}:40-03:00"}}"#
            )
        })
        .collect();
    let steps: Vec<String> = [
        "terms_acceptance",
        "proof_of_life",
        "selfie_document_match",
        "ocr",
        "form_completed",
        "data_validation",
        "photo_validation",
        "risk_validation",
    ]
    .iter()
    .map(|s| format!(r#"{{"name":"{s}","status":"SUCCESS"}}"#))
    .collect();
    format!(
        r#"{{"data":{{"id":"iss-bench","user_id":"usr-2HPUYx0n9USSNwSkP5G0gY1I2TO","flow_type":"kyc-accounts","country":"ARG","integration_method":"API","status":"VALIDATED","reason":null,"created_at":"2021-07-27T14:04:31-03:00","updated_at":"2021-07-27T14:09:31-03:00","expiration_at":"2021-07-28T14:04:31-03:00","url":"https://identity.pomelo.com/session/iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR","steps":[{}],"files":[{}],"risk":{{"score":0.12,"provider":"acme","labels":["low","verified"]}}}}}}"#,
        steps.join(","),
        files.join(",")
    )
}

/// The median of `v` (the upper one of an even count); 0 for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// `median (min–max)` of `v`, each with `decimals` decimals.
pub fn spread(v: &[f64], decimals: usize) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.decimals$} ({min:.decimals$}–{max:.decimals$})",
        median(v.to_vec())
    )
}

/// The program's `index`-th argument (from 1) parsed as a `T`, or `default` when absent.
///
/// # Errors
/// The argument, when it does not parse.
pub fn arg<T: std::str::FromStr>(index: usize, default: T) -> Result<T, String> {
    match std::env::args().nth(index) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("argument {index}: `{text}` is not a valid value")),
    }
}
