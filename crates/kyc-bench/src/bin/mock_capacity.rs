//! The simulator's own capacity (issue #13's target 6), for users who load-test their services
//! with it: requests per second of kyc-mock answering get-session over 64 concurrent keep-alive
//! connections, next to a bare hyper server answering the same bytes with the same runtime
//! settings (one current-thread tokio runtime, HTTP/1.1, `TCP_NODELAY`).
//!
//! ```text
//! cargo run --release -p kyc-bench --bin mock_capacity [SECONDS_PER_ROUND]
//! ```
//!
//! The load comes from 64 threads, one connection each, writing a raw request and reading its
//! answer in a loop (no HTTP client library in the way). Rounds alternate between the two
//! servers (5 of each); reported: the median round of each and the ratio. The simulator runs with
//! its defaults: it checks, records and notes every request as in a test.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kyc_ureq::kyc_core::{Config, Country, CreateSession, Credentials, Environment};

type Error = Box<dyn std::error::Error + Send + Sync>;

const CONNECTIONS: usize = 64;
const ROUNDS: usize = 5;

/// Reads one response: its status and body (by `Content-Length`).
fn read_response(reader: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> Result<u16, Error> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            }
        }
    }
    body.resize(length, 0);
    reader.read_exact(body)?;
    Ok(status)
}

/// 64 connections sending `request` for `seconds`; requests per second.
fn load(addr: SocketAddr, request: &[u8], seconds: f64) -> Result<f64, Error> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
                scope.spawn(move || -> Result<(), Error> {
                    let stream = TcpStream::connect(addr)?;
                    stream.set_nodelay(true)?;
                    let mut writer = stream.try_clone()?;
                    let mut reader = BufReader::new(stream);
                    let mut body = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        writer.write_all(request)?;
                        let status = read_response(&mut reader, &mut body)?;
                        if status != 200 {
                            return Err(format!("status {status}").into());
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        stop.store(true, Ordering::Relaxed);
        for handle in handles {
            handle.join().map_err(|_| "a load thread panicked")??;
        }
        Ok::<(), Error>(())
    })?;
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// A bare hyper server on its own current-thread runtime, answering every request with `body`.
fn bare_hyper(body: Bytes) -> Result<SocketAddr, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Named, so that a profile tells its samples from the load threads'.
    std::thread::Builder::new()
        .name("bare hyper".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    let body = body.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |_request| {
                            let body = body.clone();
                            async move {
                                let mut response = http::Response::new(Full::new(body));
                                response.headers_mut().insert(
                                    http::header::CONTENT_TYPE,
                                    http::HeaderValue::from_static("application/json"),
                                );
                                Ok::<_, Infallible>(response)
                            }
                        });
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })?;
    Ok(addr)
}

fn main() -> Result<(), Error> {
    let seconds: f64 = kyc_bench::arg(1, 3.0)?;
    let mock = kyc_mock::MockServer::start(kyc_mock::MockConfig::new())?;
    let config = Config::builder(Environment::Sandbox)
        .base_url(mock.base_url())
        .build()?;
    let client = kyc_ureq::Client::new(
        config,
        Credentials::new(mock.client_id(), mock.client_secret()),
    );
    let id = client
        .create_session(&CreateSession::new("usr-capacity", Country::Arg))?
        .id;
    let token = client.token()?.access_token;
    let request = format!(
        "GET /identity/v1/sessions/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Accept: application/json\r\n\r\n",
        id.as_str(),
        token.expose_secret()
    )
    .into_bytes();

    // The bare server answers with the simulator's own bytes for that request.
    let stream = TcpStream::connect(mock.local_addr())?;
    let mut writer = stream.try_clone()?;
    writer.write_all(&request)?;
    let mut body = Vec::new();
    read_response(&mut BufReader::new(stream), &mut body)?;
    let body_len = body.len();
    let bare = bare_hyper(Bytes::from(body))?;

    load(mock.local_addr(), &request, 0.5)?;
    load(bare, &request, 0.5)?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(load(mock.local_addr(), &request, seconds)?);
        theirs.push(load(bare, &request, seconds)?);
    }
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
    println!(
        "get-session ({body_len}-byte answer), {CONNECTIONS} keep-alive connections, {ROUNDS} rounds of {seconds} s each"
    );
    println!("kyc-mock:   {} req/s", kyc_bench::spread(&ours, 0));
    println!("bare hyper: {} req/s", kyc_bench::spread(&theirs, 0));
    let (mock_rps, bare_rps) = (kyc_bench::median(ours), kyc_bench::median(theirs));
    println!(
        "ratio of medians: {:.2}; per round pair: {}",
        mock_rps / bare_rps,
        kyc_bench::spread(&ratios, 2)
    );
    // The simulator ran with its defaults: every request checked, recorded (the newest 1,000
    // kept) and noted in its session's timeline.
    println!(
        "kyc-mock's request log: {} entries kept of {} requests",
        mock.requests().len(),
        mock.stats().requests
    );
    println!(
        "RESULT mock={mock_rps:.0} bare={bare_rps:.0} ratio={:.2}",
        mock_rps / bare_rps
    );
    Ok(())
}
