//! Measures how much a streamed 50 MB upload raises the process's peak memory.
//!
//! ```text
//! cargo run --release -p kyc-ureq --example upload_rss
//! ```
//!
//! Starts a sink server on 127.0.0.1 (it answers the token request and reads every upload body to
//! the end, keeping nothing), writes a 50 MB file that starts with JPEG magic bytes, warms the
//! client up with a small upload, then reads the peak resident set size (`VmHWM` in
//! `/proc/self/status`) before and after uploading the big file with `Client::upload_path`.
//! For contrast it then uploads the same bytes held in memory with `Client::upload_bytes`.
//! Linux only (it reads `/proc`).

mod common;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use kyc_ureq::Client;
use kyc_ureq::kyc_core::{Config, Credentials, DocumentType, Environment};

const FILE_LEN: u64 = 50 * 1000 * 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url = common::spawn_server(|content_length| {
        (
            201,
            format!(r#"{{"data":{{"id":"fil-rss","size":{content_length}}}}}"#),
        )
    })?;

    let path = write_big_file()?;
    let config = Config::builder(Environment::Sandbox)
        .base_url(&base_url)
        .max_upload_bytes(64 * 1024 * 1024)
        .build()?;
    let client = Client::new(config, Credentials::new("rss-client", "rss-secret"));

    // Warm-up: token, connection pool, TLS-free code paths all touched once.
    client.upload_bytes(
        "iss-rss",
        "usr-rss",
        DocumentType::Selfie,
        "warm.jpg",
        b"\xFF\xD8\xFFwarm".to_vec(),
    )?;

    let before = peak_rss_kib()?;
    let info = client.upload_path("iss-rss", "usr-rss", DocumentType::Selfie, &path)?;
    let after = peak_rss_kib()?;
    println!(
        "streamed upload of a {}-byte file (the server read a {}-byte multipart body)",
        FILE_LEN,
        info.size.unwrap_or_default()
    );
    println!("peak RSS before: {before} KiB, after: {after} KiB");
    println!(
        "peak RSS increase, streamed from a path: {} KiB ({:.1} MiB; target < 16 MiB)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / 1024.0
    );

    let bytes = std::fs::read(&path)?;
    let before = peak_rss_kib()?;
    client.upload_bytes("iss-rss", "usr-rss", DocumentType::Selfie, "big.jpg", bytes)?;
    let after = peak_rss_kib()?;
    println!(
        "for contrast, peak RSS increase with the bytes in memory: {:.1} MiB",
        after.saturating_sub(before) as f64 / 1024.0
    );
    std::fs::remove_file(&path)?;
    Ok(())
}

/// Writes a file of `FILE_LEN` bytes starting with JPEG magic, 1 MiB at a time.
fn write_big_file() -> std::io::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("kyc-ureq-rss-{}.jpg", std::process::id()));
    let mut file = File::create(&path)?;
    let filler = vec![0x5Au8; 1024 * 1024];
    file.write_all(&[0xFF, 0xD8, 0xFF, 0xE0])?;
    let mut left = FILE_LEN - 4;
    while left > 0 {
        let n = left.min(filler.len() as u64) as usize;
        file.write_all(filler.get(..n).unwrap_or_default())?;
        left -= n as u64;
    }
    Ok(path)
}

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> Result<u64, Box<dyn std::error::Error>> {
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
