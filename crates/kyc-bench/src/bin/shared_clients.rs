//! One client shared by many callers: 16 threads sharing one kyc-ureq `Client` against 16 threads
//! sharing one `ureq::Agent`, and 256 tokio tasks sharing one kyc-reqwest `Client` against 256
//! tasks sharing one `reqwest::Client` (issue #13's target 2), each doing keep-alive get-session
//! requests against a minimal loopback server.
//!
//! ```text
//! cargo run --release -p kyc-bench --bin shared_clients [REQUESTS_PER_ROUND] [blocking|async|both]
//! ```
//!
//! Rounds alternate between the kyc client and the bare one; each round is `REQUESTS_PER_ROUND`
//! requests in all, split among the callers. Reported: the median round of each side, the
//! ratio (target ≥ 0.9), and the token requests the server saw for each kyc client's whole run
//! (target: exactly 1, the shared token slot's single flight).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use kyc_ureq::kyc_core::{Config, Credentials, Environment};

const ROUNDS: usize = 5;
const THREADS: usize = 16;
const TASKS: usize = 256;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn config(base_url: &str) -> Result<Config, Error> {
    Ok(Config::builder(Environment::Sandbox)
        .base_url(base_url)
        .build()?)
}

/// Runs `call` `per_caller` times on each of `threads` threads at once; requests per second.
fn threaded(
    threads: usize,
    per_caller: usize,
    call: impl Fn() -> Result<(), Error> + Sync,
) -> Result<f64, Error> {
    let start = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..per_caller {
                        call()?;
                    }
                    Ok::<(), Error>(())
                })
            })
            .collect();
        for handle in handles {
            handle.join().map_err(|_| "a caller panicked")??;
        }
        Ok::<(), Error>(())
    })?;
    Ok((threads * per_caller) as f64 / start.elapsed().as_secs_f64())
}

fn blocking(per_round: usize) -> Result<(), Error> {
    let body = kyc_bench::session_json();
    let (base_url, counts) = kyc_bench::spawn_counting_server(move |_| (200, body.clone()))?;
    let client = kyc_ureq::Client::new(
        config(&base_url)?,
        Credentials::new("bench-client", "bench-secret"),
    );
    // The same pool as kyc-ureq's own agent, so the ratio is what kyc-ureq adds; the same
    // with ureq's default pool (3 idle connections per host) is reported too.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(kyc_ureq::DEFAULT_MAX_IDLE_CONNECTIONS)
        .max_idle_connections_per_host(kyc_ureq::DEFAULT_MAX_IDLE_CONNECTIONS)
        .build()
        .into();
    let default_pool: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base_url}/identity/v1/sessions/iss-bench");
    let bearer = "Bearer bench-token";
    let ours = || -> Result<(), Error> {
        std::hint::black_box(client.get_session("iss-bench")?);
        Ok(())
    };
    let bare = |agent: &ureq::Agent| -> Result<(), Error> {
        let mut response = agent
            .get(&url)
            .header("authorization", bearer)
            .header("accept", "application/json")
            .call()?;
        let bytes = response.body_mut().read_to_vec()?;
        std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&bytes)?);
        Ok(())
    };
    let theirs = || bare(&agent);
    let per_caller = per_round / THREADS;
    // Warm-up: the first calls of 16 threads at once share one token request.
    threaded(THREADS, 20, ours)?;
    threaded(THREADS, 20, theirs)?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut connections = [0u64; 2];
    let opened = || counts.connections.load(Ordering::Relaxed);
    for _ in 0..ROUNDS {
        let before = opened();
        a.push(threaded(THREADS, per_caller, ours)?);
        let middle = opened();
        b.push(threaded(THREADS, per_caller, theirs)?);
        connections[0] += middle - before;
        connections[1] += opened() - middle;
    }
    report(
        &format!("{THREADS} threads, one kyc-ureq Client vs one ureq Agent with the same pool"),
        &a,
        &b,
        counts.token_requests.load(Ordering::Relaxed),
        connections,
    );
    let before = opened();
    let mut c = Vec::new();
    for _ in 0..ROUNDS {
        c.push(threaded(THREADS, per_caller, || bare(&default_pool))?);
    }
    let default_pool = kyc_bench::median(c);
    println!(
        "  for comparison, ureq's default pool (3 idle per host): {default_pool:.0} req/s, {} connections",
        opened() - before
    );
    println!("RESULT default_pool={default_pool:.0}");
    Ok(())
}

fn asynchronous(per_round: usize) -> Result<(), Error> {
    let body = kyc_bench::session_json();
    let (base_url, counts) = kyc_bench::spawn_counting_server(move |_| (200, body.clone()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client = kyc_reqwest::Client::new(
            config(&base_url)?,
            Credentials::new("bench-client", "bench-secret"),
        );
        let bare = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let url: Arc<str> = Arc::from(format!("{base_url}/identity/v1/sessions/iss-bench"));
        let per_task = per_round / TASKS;

        // `tasks` tasks at once, each `per_task` calls; requests per second.
        async fn tasks<F, Fut>(count: usize, per_task: usize, call: F) -> Result<f64, Error>
        where
            F: Fn() -> Fut + Clone + Send + 'static,
            Fut: std::future::Future<Output = Result<(), Error>> + Send,
        {
            let start = Instant::now();
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..count {
                let call = call.clone();
                set.spawn(async move {
                    for _ in 0..per_task {
                        call().await?;
                    }
                    Ok::<(), Error>(())
                });
            }
            while let Some(done) = set.join_next().await {
                done??;
            }
            Ok((count * per_task) as f64 / start.elapsed().as_secs_f64())
        }
        let ours = {
            let client = client.clone();
            move || {
                let client = client.clone();
                async move {
                    std::hint::black_box(client.get_session("iss-bench").await?);
                    Ok::<(), Error>(())
                }
            }
        };
        let theirs = {
            let bare = bare.clone();
            let url = Arc::clone(&url);
            move || {
                let bare = bare.clone();
                let url = Arc::clone(&url);
                async move {
                    let response = bare
                        .get(&*url)
                        .header("authorization", "Bearer bench-token")
                        .header("accept", "application/json")
                        .send()
                        .await?;
                    let bytes = response.bytes().await?;
                    std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&bytes)?);
                    Ok::<(), Error>(())
                }
            }
        };
        tasks(TASKS, 4, ours.clone()).await?;
        tasks(TASKS, 4, theirs.clone()).await?;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut connections = [0u64; 2];
        let opened = || counts.connections.load(Ordering::Relaxed);
        for _ in 0..ROUNDS {
            let before = opened();
            a.push(tasks(TASKS, per_task, ours.clone()).await?);
            let middle = opened();
            b.push(tasks(TASKS, per_task, theirs.clone()).await?);
            connections[0] += middle - before;
            connections[1] += opened() - middle;
        }
        report(
            &format!("{TASKS} tasks, one kyc-reqwest Client vs one reqwest Client (2 workers)"),
            &a,
            &b,
            counts.token_requests.load(Ordering::Relaxed),
            connections,
        );
        Ok::<(), Error>(())
    })
}

fn report(title: &str, ours: &[f64], theirs: &[f64], tokens: u64, connections: [u64; 2]) {
    let ratios: Vec<f64> = ours.iter().zip(theirs).map(|(a, b)| a / b).collect();
    let (a, b) = (
        kyc_bench::median(ours.to_vec()),
        kyc_bench::median(theirs.to_vec()),
    );
    println!("{title}");
    println!("  kyc client:  {a:>9.0} req/s (median of {ROUNDS} rounds)");
    println!("  bare client: {b:>9.0} req/s (median of {ROUNDS} rounds)");
    println!(
        "  ratio: {:.3} (target >= 0.9); per round pair: {}",
        a / b,
        kyc_bench::spread(&ratios, 3)
    );
    println!("  token requests for the whole run: {tokens} (target: 1)");
    let tag = if title.contains("kyc-ureq") {
        "blocking"
    } else {
        "async"
    };
    println!(
        "RESULT {tag}_ours={a:.0} {tag}_theirs={b:.0} {tag}_ratio={:.3} {tag}_tokens={tokens}",
        a / b
    );
    println!(
        "  connections opened during the measured rounds: kyc {}, bare {}",
        connections[0], connections[1]
    );
}

fn main() -> Result<(), Error> {
    let per_round: usize = kyc_bench::arg(1, 16_384)?;
    let which: String = kyc_bench::arg(2, "both".to_owned())?;
    if which != "async" {
        blocking(per_round)?;
    }
    if which != "blocking" {
        asynchronous(per_round)?;
    }
    Ok(())
}
