//! A long run with faults (issue #13's target 3): `CALLS` calls (default 200,000) through one
//! shared client of each adapter against kyc-mock answering about 1 % of requests with a random
//! fault (`429` with `Retry-After: 1`, `503`, a dropped connection, a lost response, a truncated
//! body).
//!
//! ```text
//! cargo run --release -p kyc-bench --bin soak [CALLS] [ureq|reqwest|both]
//! ```
//!
//! The simulator runs in a child process (this program again, with `--serve-mock`), so that the
//! peak RSS read here is the client's alone. 16 callers share one client (threads for kyc-ureq,
//! tasks on a current-thread runtime for kyc-reqwest); each repeats a flow of 9 calls: create a
//! session, upload its three documents, get it four times, search for it. Checked at the end:
//!
//! - every call ended in success or in an error the faults explain (listed by kind);
//! - nothing was applied twice: the simulator's count of applied creates (and uploads) equals the
//!   successful ones plus the failed ones it did apply (each failed one looked up afterwards);
//! - the peak RSS after all the calls exceeds the peak after the first 10 % by less than 2 MiB.
//!
//! Reported: calls per second of each tenth of the run (median and spread), faults met, errors.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kyc_ureq::kyc_core::{
    CallError, Config, Country, CreateSession, Credentials, DocumentType, Environment, Fault,
    SearchSessions, SessionCreated, SessionId, Stage, UploadFile,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

const CALLERS: usize = 16;
const FAULT_RATE: f64 = 0.01;
/// A tiny JPEG: its magic bytes decide the content type.
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xFF, 0xD9,
];
const DOCUMENTS: [DocumentType; 3] = [
    DocumentType::Selfie,
    DocumentType::IdentityCardFront,
    DocumentType::IdentityCardBack,
];
const FLOW_CALLS: u64 = 9;

/// The simulator's counters, as the child prints them.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    requests: u64,
    faults: u64,
    tokens: u64,
    creates: u64,
    uploads: u64,
    replays: u64,
}

/// The child process serving kyc-mock.
struct Simulator {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    base_url: String,
}

impl Simulator {
    fn start() -> Result<Self, Error> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--serve-mock")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let base_url = line
            .trim()
            .strip_prefix("base_url=")
            .ok_or("the simulator did not start")?
            .to_owned();
        Ok(Self {
            child,
            stdin,
            stdout,
            base_url,
        })
    }

    fn stats(&mut self) -> Result<Stats, Error> {
        writeln!(self.stdin, "stats")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let mut stats = Stats::default();
        for pair in line.split_whitespace() {
            let (name, value) = pair.split_once('=').ok_or("bad stats line")?;
            let value: u64 = value.parse()?;
            match name {
                "requests" => stats.requests = value,
                "faults" => stats.faults = value,
                "tokens" => stats.tokens = value,
                "creates" => stats.creates = value,
                "uploads" => stats.uploads = value,
                "replays" => stats.replays = value,
                _ => {}
            }
        }
        Ok(stats)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--serve-mock`: the simulator, answering `stats` lines on stdin until stdin closes.
fn serve_mock() -> Result<(), Error> {
    let config = kyc_mock::MockConfig::new()
        .processing_delay(Duration::ZERO)
        .max_sessions(10_000_000)
        .max_recorded_requests(0)
        .random_faults(FAULT_RATE, kyc_mock::Fault::typical_mix());
    let server = kyc_mock::MockServer::start(config)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "base_url={}", server.base_url())?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        if line?.trim() == "stats" {
            let s = server.stats();
            writeln!(
                out,
                "requests={} faults={} tokens={} creates={} uploads={} replays={}",
                s.requests,
                s.faults,
                s.tokens_issued,
                s.creates_applied,
                s.uploads_applied,
                s.idempotent_replays
            )?;
            out.flush()?;
        }
    }
    Ok(())
}

/// What the callers saw.
#[derive(Default)]
struct Tally {
    /// Calls begun.
    calls: AtomicU64,
    creates_ok: AtomicU64,
    uploads_ok: AtomicU64,
    /// Error kinds and their counts.
    errors: Mutex<BTreeMap<String, u64>>,
    failed_creates: Mutex<Vec<String>>,
    failed_uploads: Mutex<Vec<(SessionId, DocumentType)>>,
    /// (calls done, instant) at each tenth of the run.
    marks: Mutex<Vec<(u64, Instant)>>,
    /// Peak RSS after the first tenth, KiB.
    early_peak_kib: AtomicU64,
}

impl Tally {
    /// Claims the next flow's calls; `false` once the run's calls are all claimed.
    fn claim(&self, total: u64) -> bool {
        let before = self.calls.fetch_add(FLOW_CALLS, Ordering::Relaxed);
        if before >= total {
            return false;
        }
        let tenth = (total / 10).max(1);
        let after = before + FLOW_CALLS;
        if before / tenth != after / tenth {
            if let Ok(mut marks) = self.marks.lock() {
                marks.push((after, Instant::now()));
            }
            if before < tenth && after >= tenth {
                let peak = kyc_bench::peak_rss_kib().unwrap_or(0);
                self.early_peak_kib.store(peak, Ordering::Relaxed);
            }
        }
        true
    }

    fn error(&self, error: &CallError) {
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(describe(error)).or_default() += 1;
        }
    }
}

/// A short name for what went wrong: `api 503`, `transport Connection`, `decode`, ...
fn describe(error: &CallError) -> String {
    let fault = match (&error.fault, error.status()) {
        (_, Some(status)) => format!("api {}", status.as_u16()),
        (Fault::InvalidInput(_) | Fault::Pagination(_), None) => "core (no status)".to_owned(),
        (Fault::Transport(t), None) => format!("transport {:?}", t.kind()),
        (other, None) => format!("{other}"),
    };
    match error.stage {
        Stage::Token => format!("token: {fault}"),
        _ => fault,
    }
}

fn config(base_url: &str) -> Result<Config, Error> {
    Ok(Config::builder(Environment::Sandbox)
        .base_url(base_url)
        .build()?)
}

fn credentials() -> Credentials {
    Credentials::new(kyc_mock::DEFAULT_CLIENT_ID, kyc_mock::DEFAULT_CLIENT_SECRET)
}

impl Tally {
    /// Counts a create's result; the session when it succeeded.
    fn created(
        &self,
        result: Result<SessionCreated, CallError>,
        user: String,
    ) -> Option<SessionId> {
        match result {
            Ok(created) => {
                self.creates_ok.fetch_add(1, Ordering::Relaxed);
                Some(created.id)
            }
            Err(e) => {
                self.error(&e);
                if let Ok(mut failed) = self.failed_creates.lock() {
                    failed.push(user);
                }
                None
            }
        }
    }

    /// Counts an upload's result.
    fn uploaded<T>(
        &self,
        result: Result<T, CallError>,
        session: &SessionId,
        document: DocumentType,
    ) {
        match result {
            Ok(_) => {
                self.uploads_ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.error(&e);
                if let Ok(mut failed) = self.failed_uploads.lock() {
                    failed.push((session.clone(), document));
                }
            }
        }
    }

    /// Counts a read's result.
    fn read<T>(&self, result: Result<T, CallError>) {
        if let Err(e) = result {
            self.error(&e);
        }
    }
}

/// The flow's user id: unique per adapter, caller and flow, so a duplicate is visible.
fn user_id(adapter: &str, caller: usize, flow: u64) -> String {
    format!("usr-soak-{adapter}-{caller}-{flow}")
}

fn search_for(user: &str) -> SearchSessions {
    SearchSessions::new().user_id(user).page_size(10)
}

/// One caller of kyc-ureq: flows until the run's calls are claimed.
fn ureq_caller(client: &kyc_ureq::Client, tally: &Tally, total: u64, caller: usize) {
    let mut flow = 0u64;
    while tally.claim(total) {
        flow += 1;
        let user = user_id("ureq", caller, flow);
        let create = CreateSession::new(user.as_str(), Country::Arg);
        let Some(id) = tally.created(client.create_session(&create), user.clone()) else {
            continue;
        };
        for document in DOCUMENTS {
            let upload = UploadFile::new(id.clone(), user.as_str(), document.clone());
            let result = client.upload(&upload, kyc_ureq::Source::bytes(JPEG));
            tally.uploaded(result, &id, document);
        }
        for _ in 0..4 {
            tally.read(client.get_session(id.clone()));
        }
        tally.read(client.search_sessions(&search_for(&user)));
    }
}

/// One caller of kyc-reqwest.
async fn reqwest_caller(client: kyc_reqwest::Client, tally: &Tally, total: u64, caller: usize) {
    let mut flow = 0u64;
    while tally.claim(total) {
        flow += 1;
        let user = user_id("reqwest", caller, flow);
        let create = CreateSession::new(user.as_str(), Country::Arg);
        let Some(id) = tally.created(client.create_session(&create).await, user.clone()) else {
            continue;
        };
        for document in DOCUMENTS {
            let upload = UploadFile::new(id.clone(), user.as_str(), document.clone());
            let result = client
                .upload(&upload, kyc_reqwest::Source::bytes(JPEG))
                .await;
            tally.uploaded(result, &id, document);
        }
        for _ in 0..4 {
            tally.read(client.get_session(id.clone()).await);
        }
        tally.read(client.search_sessions(&search_for(&user)).await);
    }
}

/// After the run: how many of the failed creates and uploads the simulator applied anyway (a
/// lost response after the last attempt), looked up with a fresh kyc-ureq client. A lookup that
/// fails is retried: the faults are still on.
fn applied_anyway(base_url: &str, tally: &Tally) -> Result<(u64, u64), Error> {
    let client = kyc_ureq::Client::new(config(base_url)?, credentials());
    let retry = |mut f: Box<dyn FnMut() -> Result<u64, CallError> + '_>| {
        let mut last = None;
        for _ in 0..20 {
            match f() {
                Ok(n) => return Ok(n),
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or_else(|| "no attempt".to_owned(), |e| e.to_string()))
    };
    let mut creates = 0;
    let failed = tally
        .failed_creates
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    for user in failed {
        let search = SearchSessions::new().user_id(user.as_str()).page_size(10);
        creates += retry(Box::new(|| {
            client
                .search_sessions(&search)
                .map(|page| page.sessions.len() as u64)
        }))?;
    }
    let mut uploads = 0;
    let failed = tally
        .failed_uploads
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    for (session, document) in failed {
        uploads += retry(Box::new(|| {
            client.get_session(session.clone()).map(|s| {
                s.files
                    .iter()
                    .filter(|f| f.type_document.as_ref() == Some(&document))
                    .count() as u64
            })
        }))?;
    }
    Ok((creates, uploads))
}

/// One adapter's finished run.
struct Run<'a> {
    name: &'a str,
    total: u64,
    tally: &'a Tally,
    start: Instant,
    elapsed: Duration,
    /// The simulator's counters before and after.
    before: Stats,
    after: Stats,
    /// Failed creates and uploads the simulator applied anyway.
    anyway: (u64, u64),
}

/// Prints the run; whether it met its targets (nothing doubled, RSS growth under 2 MiB).
fn report(run: &Run<'_>) -> bool {
    let Run {
        name,
        total,
        tally,
        start,
        elapsed,
        before,
        after,
        anyway,
    } = *run;
    let creates_ok = tally.creates_ok.load(Ordering::Relaxed);
    let uploads_ok = tally.uploads_ok.load(Ordering::Relaxed);
    let creates_applied = after.creates - before.creates;
    let uploads_applied = after.uploads - before.uploads;
    let early = tally.early_peak_kib.load(Ordering::Relaxed);
    let late = kyc_bench::peak_rss_kib().unwrap_or(0);
    let mut rates = Vec::new();
    if let Ok(marks) = tally.marks.lock() {
        let mut previous = (0u64, start);
        for &(calls, at) in marks.iter() {
            let seconds = at.duration_since(previous.1).as_secs_f64();
            if seconds > 0.0 {
                rates.push((calls - previous.0) as f64 / seconds);
            }
            previous = (calls, at);
        }
    }
    let doubled =
        creates_applied != creates_ok + anyway.0 || uploads_applied != uploads_ok + anyway.1;
    let grew_kib = late.saturating_sub(early);
    println!(
        "{name}: {total} calls by {CALLERS} callers sharing one client, {FAULT_RATE} fault rate"
    );
    println!(
        "  {:.1} s, {:.0} calls/s overall; per tenth of the run: {} calls/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        kyc_bench::spread(&rates, 0)
    );
    println!(
        "  simulator: {} requests, {} faults, {} token requests, {} idempotent replays",
        after.requests - before.requests,
        after.faults - before.faults,
        after.tokens - before.tokens,
        after.replays - before.replays
    );
    println!(
        "  creates: {creates_ok} succeeded, {} failed ({} applied anyway); simulator applied {creates_applied}",
        tally.failed_creates.lock().map(|f| f.len()).unwrap_or(0),
        anyway.0
    );
    println!(
        "  uploads: {uploads_ok} succeeded, {} failed ({} applied anyway); simulator applied {uploads_applied}",
        tally.failed_uploads.lock().map(|f| f.len()).unwrap_or(0),
        anyway.1
    );
    println!(
        "  applied twice: {}",
        if doubled { "YES (a duplicate)" } else { "none" }
    );
    if let Ok(errors) = tally.errors.lock() {
        let listed: Vec<String> = errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        println!(
            "  calls that failed, by error: {}",
            if listed.is_empty() {
                "none".to_owned()
            } else {
                listed.join(", ")
            }
        );
    }
    println!(
        "  peak RSS: {:.1} MiB after the first tenth, {:.1} MiB at the end: grew {grew_kib} KiB (target < 2048)",
        early as f64 / 1024.0,
        late as f64 / 1024.0
    );
    let failed: u64 = tally.errors.lock().map(|e| e.values().sum()).unwrap_or(0);
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    println!(
        "RESULT adapter={name} calls={total} seconds={:.1} rate={:.0} rate_min={min:.0} rate_max={max:.0} \
         faults={} failed={failed} doubled={} early_kib={early} late_kib={late} grew_kib={grew_kib}",
        elapsed.as_secs_f64(),
        kyc_bench::median(rates.clone()),
        after.faults - before.faults,
        u8::from(doubled)
    );
    !doubled && grew_kib < 2048
}

/// Runs `drive` (the callers of one adapter) against `sim`, then checks and reports the run.
fn soak(
    sim: &mut Simulator,
    name: &str,
    total: u64,
    drive: impl FnOnce(&Tally) -> Result<(), Error>,
) -> Result<bool, Error> {
    let tally = Tally::default();
    let before = sim.stats()?;
    let start = Instant::now();
    drive(&tally)?;
    let elapsed = start.elapsed();
    let after = sim.stats()?;
    let anyway = applied_anyway(&sim.base_url, &tally)?;
    Ok(report(&Run {
        name,
        total,
        tally: &tally,
        start,
        elapsed,
        before,
        after,
        anyway,
    }))
}

fn soak_ureq(sim: &mut Simulator, total: u64) -> Result<bool, Error> {
    let client = kyc_ureq::Client::new(config(&sim.base_url)?, credentials());
    soak(sim, "kyc-ureq", total, |tally| {
        std::thread::scope(|scope| {
            for caller in 0..CALLERS {
                let client = &client;
                scope.spawn(move || ureq_caller(client, tally, total, caller));
            }
        });
        Ok(())
    })
}

fn soak_reqwest(sim: &mut Simulator, total: u64) -> Result<bool, Error> {
    let client = kyc_reqwest::Client::new(config(&sim.base_url)?, credentials());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    soak(sim, "kyc-reqwest", total, |tally| {
        runtime.block_on(async {
            let callers =
                (0..CALLERS).map(|caller| reqwest_caller(client.clone(), tally, total, caller));
            futures_join_all(callers).await;
        });
        Ok(())
    })
}

/// Runs the futures concurrently on the current task (no `futures` dependency for one helper).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-mock") {
        return serve_mock();
    }
    let total: u64 = args
        .first()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(200_000);
    let which = args.get(1).map_or("both", String::as_str);
    let passed = match which {
        "ureq" => soak_ureq(&mut Simulator::start()?, total)?,
        "reqwest" => soak_reqwest(&mut Simulator::start()?, total)?,
        // Each adapter in a process of its own: a peak RSS is the whole process's.
        "both" => ["ureq", "reqwest"]
            .iter()
            .try_fold(true, |passed, adapter| {
                let status = Command::new(std::env::current_exe()?)
                    .args([total.to_string().as_str(), adapter])
                    .status()?;
                Ok::<_, Error>(passed && status.success())
            })?,
        other => return Err(format!("unknown adapter `{other}`: ureq, reqwest or both").into()),
    };
    if !passed {
        return Err("a target was missed (see above)".into());
    }
    Ok(())
}
