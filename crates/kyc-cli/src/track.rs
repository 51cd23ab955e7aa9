//! `kyc track`: kyc-track's tracker from the command line. `serve` runs it (webhooks in, polls
//! out); `add`, `list`, `show` and `verdicts` work on its store, even while `serve` runs (SQLite
//! in write-ahead mode takes one writer at a time and any readers).

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use kyc_core::SessionId;
use kyc_core::track::{Input, Origin, TrackSettings, Tracked};
use kyc_track::{Store, VerdictRecord};
use serde::Serialize;

use crate::cli::{
    TrackAddArgs, TrackListArgs, TrackRuleArgs, TrackShowArgs, TrackStoreArgs, TrackVerdictsArgs,
};
use crate::failure::Failure;
use crate::{output, time};

/// How often `verdicts --follow` looks for new verdicts.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// Opens the store the options name.
pub(crate) fn store(args: &TrackStoreArgs) -> Result<Box<dyn Store>, Failure> {
    kyc_track::open(&args.db).map_err(|e| match e {
        kyc_track::StoreError::UnknownLocation(_) => {
            Failure::invalid_input(format!("--db (POMELO_TRACK_DB): {e}"))
        }
        other => Failure::io(
            "cannot open the tracker's database",
            &std::io::Error::other(other),
        ),
    })
}

fn store_failure(e: &impl std::fmt::Display) -> Failure {
    Failure::io(
        "the tracker's database failed",
        &std::io::Error::other(e.to_string()),
    )
}

/// The tracking rules the options describe (each unset one at its default).
pub(crate) fn settings(rules: &TrackRuleArgs) -> Result<TrackSettings, Failure> {
    let mut settings = TrackSettings::default();
    if let Some(list) = &rules.final_statuses {
        let statuses = TrackSettings::parse_final_statuses(list);
        if statuses.is_empty() {
            return Err(Failure::invalid_input(
                "--final-statuses (POMELO_FINAL_STATUSES): name at least one status",
            ));
        }
        settings.final_statuses = statuses;
    }
    if let Some(d) = rules.quiet_period {
        settings.quiet_period = d;
    }
    if let Some(d) = rules.max_backoff {
        settings.max_backoff = d;
    }
    if let Some(n) = rules.max_polls {
        settings.max_polls = n;
    }
    if let Some(d) = rules.give_up_after {
        settings.give_up_after = d;
    }
    if let Some(d) = rules.expiry_grace {
        settings.expiry_grace = d;
    }
    if let Some(n) = rules.polls_per_minute {
        settings.polls_per_minute = n;
    }
    Ok(settings)
}

/// `kyc track add`.
pub(crate) fn add(args: &TrackAddArgs) -> Result<(), Failure> {
    let store = store(&args.store)?;
    let settings = TrackSettings::default();
    for id in &args.ids {
        kyc_core::encode_segment("session id", id).map_err(Failure::from)?;
    }
    for id in &args.ids {
        let input = Input::Follow {
            session_id: SessionId::from(id.as_str()),
            subject: None,
            expiration_at: None,
            origin: Origin::Followed,
        };
        kyc_track::apply(&*store, &input, &settings, None, None, SystemTime::now)
            .map_err(|e| store_failure(&e))?;
    }
    output::json(&serde_json::json!({ "following": args.ids }))
}

/// A tracked session as `list` and `show` print it: times in RFC 3339.
#[derive(Serialize)]
struct View<'a> {
    session_id: &'a str,
    subject: Option<&'a str>,
    status: Option<&'a str>,
    verdict: Option<VerdictView<'a>>,
    polls: u32,
    next_poll: Option<String>,
    gave_up: Option<&'a str>,
    first_seen: String,
    last_heard: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    conflicts: Option<Vec<ConflictView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<ChangeView<'a>>>,
}

#[derive(Serialize)]
struct VerdictView<'a> {
    status: &'a str,
    reason: Option<&'a str>,
    origin: Origin,
    decided_at: String,
}

#[derive(Serialize)]
struct ConflictView<'a> {
    status: &'a str,
    origin: Origin,
    at: String,
}

#[derive(Serialize)]
struct ChangeView<'a> {
    status: Option<&'a str>,
    origin: Origin,
    at: String,
}

fn view(r: &Tracked, detail: bool) -> View<'_> {
    View {
        session_id: r.session_id.as_str(),
        subject: r.subject.as_deref(),
        status: r.status.as_ref().map(|s| s.as_str()),
        verdict: r.verdict.as_ref().map(|v| VerdictView {
            status: v.status.as_str(),
            reason: v.reason.as_deref(),
            origin: v.origin,
            decided_at: time::rfc3339(v.decided_at),
        }),
        polls: r.polls,
        next_poll: r.next_poll.map(time::rfc3339),
        gave_up: r.gave_up.as_deref(),
        first_seen: time::rfc3339(r.first_seen),
        last_heard: time::rfc3339(r.last_heard),
        conflicts: detail.then(|| {
            r.conflicts
                .iter()
                .map(|c| ConflictView {
                    status: c.status.as_str(),
                    origin: c.origin,
                    at: time::rfc3339(c.at),
                })
                .collect()
        }),
        history: detail.then(|| {
            r.history
                .iter()
                .map(|c| ChangeView {
                    status: c.status.as_ref().map(|s| s.as_str()),
                    origin: c.origin,
                    at: time::rfc3339(c.at),
                })
                .collect()
        }),
    }
}

/// `kyc track list`.
pub(crate) fn list(args: &TrackListArgs) -> Result<(), Failure> {
    let store = store(&args.store)?;
    let records = store.list(args.limit).map_err(|e| store_failure(&e))?;
    let views: Vec<View<'_>> = records.iter().map(|r| view(r, false)).collect();
    output::json(&views)
}

/// `kyc track show`.
pub(crate) fn show(args: &TrackShowArgs) -> Result<(), Failure> {
    let store = store(&args.store)?;
    let record = store
        .load(&SessionId::from(args.id.as_str()))
        .map_err(|e| store_failure(&e))?
        .ok_or_else(|| Failure::invalid_input(format!("{} is not tracked", args.id)))?;
    output::json(&view(&record, true))
}

/// One verdict as `verdicts` prints it: one JSON line.
#[derive(Serialize)]
struct VerdictLine<'a> {
    key: &'a str,
    session_id: &'a str,
    subject: Option<&'a str>,
    status: &'a str,
    reason: Option<&'a str>,
    origin: Origin,
    decided_at: String,
    deliveries: u32,
}

fn line(v: &VerdictRecord) -> Result<String, Failure> {
    serde_json::to_string(&VerdictLine {
        key: &v.key,
        session_id: v.session_id.as_str(),
        subject: v.subject.as_deref(),
        status: v.verdict.status.as_str(),
        reason: v.verdict.reason.as_deref(),
        origin: v.verdict.origin,
        decided_at: time::rfc3339(v.verdict.decided_at),
        deliveries: v.deliveries,
    })
    .map_err(|e| Failure::io("cannot render a verdict", &std::io::Error::other(e)))
}

/// `kyc track verdicts`.
pub(crate) fn verdicts(args: &TrackVerdictsArgs) -> Result<(), Failure> {
    let store = store(&args.store)?;
    let mut stdout = std::io::stdout().lock();
    // Without --ack nothing changes in the store: what was printed is remembered here instead.
    let mut printed = std::collections::HashSet::new();
    loop {
        let batch: Vec<VerdictRecord> = if args.ack {
            store
                .claim_verdicts(SystemTime::now(), args.lease, args.limit)
                .map_err(|e| store_failure(&e))?
        } else {
            store
                .verdicts(usize::MAX)
                .map_err(|e| store_failure(&e))?
                .into_iter()
                .filter(|(v, acked)| !acked && !printed.contains(&v.key))
                .map(|(v, _)| v)
                .take(args.limit)
                .collect()
        };
        for verdict in &batch {
            let text = line(verdict)?;
            // Acknowledged only once the line is out: a reader that never got it gets it again.
            match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(Failure::io("cannot write a verdict", &e)),
                Ok(()) => {}
            }
            if args.ack {
                store
                    .ack(&verdict.key, SystemTime::now())
                    .map_err(|e| store_failure(&e))?;
            } else {
                printed.insert(verdict.key.clone());
            }
        }
        if !args.follow {
            return Ok(());
        }
        if batch.is_empty() {
            std::thread::sleep(FOLLOW_EVERY);
        }
    }
}

/// What `serve` prints on start.
#[derive(Serialize)]
struct Serving<'a> {
    /// Where webhooks are received.
    listen: String,
    webhook_path: &'a str,
    /// The URL to give Pomelo (or the simulator's `--webhook-url`).
    webhook_url: String,
    db: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<&'a str>,
}

/// `kyc track serve`.
pub(crate) fn serve(
    global: &crate::cli::GlobalArgs,
    args: &crate::cli::TrackServeArgs,
) -> Result<(), Failure> {
    let rules = settings(&args.rules)?;
    let keys = crate::webhook::keys(&args.secrets)?;
    if !args.webhook_path.starts_with('/') {
        return Err(Failure::invalid_input("--webhook-path must start with /"));
    }
    let verifier = kyc_core::webhook::Verifier::new(keys).expected_endpoint(&args.webhook_path);
    let core = crate::api::settings(global)?;
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::from(store(&args.store)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::io("cannot start the runtime", &e))?;
    runtime.block_on(async {
        let mut builder =
            kyc_reqwest::Client::builder(core.config.clone(), core.credentials.clone())
                .overall_timeout(core.overall_timeout);
        if let Some(name) = &args.replica {
            let agent = kyc_reqwest::reqwest::Client::builder()
                .user_agent(format!("kyc-track {name}"))
                .redirect(kyc_reqwest::reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Failure::io("cannot build the HTTP client", &std::io::Error::other(e))
                })?;
            builder = builder.reqwest_client(agent);
        }
        let mut options = kyc_track::TrackerOptions::default();
        options.poll_lease = args.poll_lease;
        options.create_lease = args.create_lease;
        let tracker = kyc_track::Tracker::with_options(builder.build(), store, rules, options);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Failure::io(&format!("cannot listen on {}", args.listen), &e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Failure::io("cannot read the listening address", &e))?;
        let stop = stop_signal().map_err(|e| Failure::io("cannot handle signals", &e))?;
        let started = serde_json::to_string(&Serving {
            listen: local.to_string(),
            webhook_path: &args.webhook_path,
            webhook_url: format!("http://{local}{}", args.webhook_path),
            db: &redacted_db(&args.store.db),
            replica: args.replica.as_deref(),
        })
        .map_err(|e| Failure::io("cannot render the start line", &std::io::Error::other(e)))?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{started}")
            .and_then(|()| stdout.flush())
            .map_err(|e| Failure::io("cannot write the start line", &e))?;
        drop(stdout);
        kyc_track::serve(
            tracker,
            listener,
            &args.webhook_path,
            verifier,
            args.idle,
            stop,
        )
        .await
        .map_err(|e| Failure::io("the webhook listener failed", &e))
    })
}

/// The database's location without a password (`postgres://user:secret@host` prints as
/// `postgres://user:[redacted]@host`).
fn redacted_db(db: &str) -> String {
    let Some((scheme, rest)) = db.split_once("://") else {
        return db.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:[redacted]@{host}")
        }
        _ => db.to_owned(),
    }
}

/// Completes at Ctrl-C or SIGTERM (installed before the start line is printed, so a signal sent
/// as soon as it appears is handled).
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
