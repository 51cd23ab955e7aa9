//! Measures how much a streamed 50 MB upload through kyc-reqwest raises the process's peak memory.
//!
//! ```text
//! cargo run --release -p kyc-bench --bin upload_rss_reqwest
//! ```
//!
//! The same measurement as `upload_rss`, with the same loopback sink server:
//! it answers the token request and reads every upload body to the end, keeping nothing. The file
//! starts with JPEG magic bytes; the client is warmed up with a small upload first, then the peak
//! resident set size (`VmHWM` in `/proc/self/status`) is read before and after
//! `Client::upload_path`. Linux only (it reads `/proc`).

use kyc_core::{Config, Credentials, DocumentType, Environment, UploadFile};
use kyc_reqwest::{Client, Source};

const FILE_LEN: u64 = 50 * 1000 * 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url = kyc_bench::spawn_server(|content_length| {
        (
            201,
            format!(r#"{{"data":{{"id":"fil-rss","size":{content_length}}}}}"#),
        )
    })?;
    let path = kyc_bench::write_big_file("kyc-reqwest-rss", FILE_LEN)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let config = Config::builder(Environment::Sandbox)
            .base_url(&base_url)
            .max_upload_bytes(64 * 1024 * 1024)
            .build()?;
        let client = Client::new(config, Credentials::new("rss-client", "rss-secret"));
        let warm =
            UploadFile::new("iss-rss", "usr-rss", DocumentType::Selfie).file_name("warm.jpg");
        client
            .upload(&warm, Source::bytes(&b"\xFF\xD8\xFFwarm"[..]))
            .await?;
        let before = kyc_bench::peak_rss_kib()?;
        let info = client
            .upload_path("iss-rss", "usr-rss", DocumentType::Selfie, &path)
            .await?;
        let after = kyc_bench::peak_rss_kib()?;
        println!(
            "streamed upload of a {FILE_LEN}-byte file (the server read a {}-byte multipart body)",
            info.size_bytes().unwrap_or_default()
        );
        println!("peak RSS before: {before} KiB, after: {after} KiB");
        println!(
            "peak RSS increase, streamed from a path: {} KiB ({:.1} MiB; target < 16 MiB)",
            after.saturating_sub(before),
            after.saturating_sub(before) as f64 / 1024.0
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    std::fs::remove_file(&path)?;
    result
}
