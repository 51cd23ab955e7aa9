//! Measures how much a streamed 50 MB upload raises the process's peak memory.
//!
//! ```text
//! cargo run --release -p kyc-bench --bin upload_rss
//! ```
//!
//! Starts a sink server on 127.0.0.1 (it answers the token request and reads every upload body to
//! the end, keeping nothing), writes a 50 MB file that starts with JPEG magic bytes, warms the
//! client up with a small upload, then reads the peak resident set size (`VmHWM` in
//! `/proc/self/status`) before and after uploading the big file with `Client::upload_path`.
//! For contrast it then uploads the same bytes held in memory with `Client::upload` with `Source::bytes`.
//! Linux only (it reads `/proc`).

use kyc_ureq::kyc_core::{Config, Credentials, DocumentType, Environment, UploadFile};
use kyc_ureq::{Client, Source};

const FILE_LEN: u64 = 50 * 1000 * 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url = kyc_bench::spawn_server(|content_length| {
        (
            201,
            format!(r#"{{"data":{{"id":"fil-rss","size":{content_length}}}}}"#),
        )
    })?;

    let path = kyc_bench::write_big_file("kyc-ureq-rss", FILE_LEN)?;
    let config = Config::builder(Environment::Sandbox)
        .base_url(&base_url)
        .max_upload_bytes(64 * 1024 * 1024)
        .build()?;
    let client = Client::new(config, Credentials::new("rss-client", "rss-secret"));

    // Warm-up: token, connection pool, TLS-free code paths all touched once.
    let warm = UploadFile::new("iss-rss", "usr-rss", DocumentType::Selfie).file_name("warm.jpg");
    client.upload(&warm, Source::bytes(&b"\xFF\xD8\xFFwarm"[..]))?;

    let before = kyc_bench::peak_rss_kib()?;
    let info = client.upload_path("iss-rss", "usr-rss", DocumentType::Selfie, &path)?;
    let after = kyc_bench::peak_rss_kib()?;
    println!(
        "streamed upload of a {}-byte file (the server read a {}-byte multipart body)",
        FILE_LEN,
        info.size_bytes().unwrap_or_default()
    );
    println!("peak RSS before: {before} KiB, after: {after} KiB");
    println!(
        "peak RSS increase, streamed from a path: {} KiB ({:.1} MiB; target < 16 MiB)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / 1024.0
    );

    let bytes = std::fs::read(&path)?;
    let before = kyc_bench::peak_rss_kib()?;
    let big = UploadFile::new("iss-rss", "usr-rss", DocumentType::Selfie).file_name("big.jpg");
    client.upload(&big, Source::bytes(bytes))?;
    let after = kyc_bench::peak_rss_kib()?;
    println!(
        "for contrast, peak RSS increase with the bytes in memory: {:.1} MiB",
        after.saturating_sub(before) as f64 / 1024.0
    );
    std::fs::remove_file(&path)?;
    Ok(())
}
