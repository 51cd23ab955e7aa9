//! A local simulator of Pomelo's Identity (KYC) API, over real HTTP/1.1 on loopback.
//!
//! `kyc-mock` lets the client crates of this workspace (and your own code) be tested end to end
//! without Pomelo: a hyper server on a background tokio runtime that implements the wire shapes of
//! `docs/wire-conventions.md` strictly, keeps sessions in memory, moves them through their
//! lifecycle, and sends signed webhooks. It shares no code with `kyc-core`, so a misunderstanding
//! of the API in one is caught by the other.
//!
//! # In a test
//!
//! The API is synchronous: start a server, point the client at [`MockServer::base_url`] with
//! [`MockServer::client_id`], [`MockServer::client_secret`] and [`MockServer::audience`], then
//! assert on answers, [`MockServer::requests`] and [`MockServer::webhook_deliveries`]. The server
//! stops on [`MockServer::shutdown`] or when dropped.
//!
//! ```
//! use std::time::Duration;
//! use kyc_mock::{Fault, MockConfig, MockServer, Route};
//!
//! let server = MockServer::start(
//!     MockConfig::new()
//!         .token_lifetime(Duration::from_secs(2))
//!         .processing_delay(Duration::ZERO),
//! )?;
//! let base = server.base_url();
//! assert!(base.starts_with("http://127.0.0.1:"));
//! // Make the next create-session call fail the way a busy Pomelo would.
//! server.inject_fault(Route::CreateSession, Fault::too_many_requests(1), 1);
//! // ... run the client against `base` ...
//! assert!(server.requests().is_empty());
//! server.shutdown();
//! # Ok::<(), kyc_mock::StartError>(())
//! ```
//!
//! # As a program
//!
//! ```text
//! cargo run -p kyc-mock -- --port 8080 --webhook-url http://127.0.0.1:9000/hooks/identity
//! ```
//! prints the base URL and the credentials, then serves until Ctrl-C or SIGTERM. `--help` lists the
//! options (credentials, lifetimes, processing delay, default outcome, webhook URLs, key pair and
//! chaos).
//! It listens on loopback only unless `--allow-non-loopback` is given.
//!
//! Its options are defined once, as [`SimulatorArgs`] (a clap `Args` group, with
//! [`SimulatorArgs::config`] for the [`MockConfig`] they describe): `kyc mock` flattens the same
//! group, so both take the same options, and so may a program of yours. They need the `cli`
//! feature (clap), on by default; a library user who only starts servers from Rust may leave it
//! out with `default-features = false`.
//!
//! # What it serves
//!
//! | Route | Name (admin API) | Method and path |
//! |---|---|---|
//! | [`Route::Token`] | `token` | `POST /oauth/token` |
//! | [`Route::Revoke`] | `revoke` | `POST /oauth/token/revoke` |
//! | [`Route::CreateSession`] | `create_session` | `POST /identity/v2/sessions` |
//! | [`Route::UploadFile`] | `upload_file` | `POST /identity/v1/sessions/{session_id}/entities/{entity_id}/files/{type_document}` |
//! | [`Route::GetSession`] | `get_session` | `GET /identity/v1/sessions/{session_id}` (`/identity/v1/session/{session_id}` with `singular-get-path`) |
//! | [`Route::CancelSession`] | `cancel_session` | `DELETE /identity/v1/sessions/{session_id}` |
//! | [`Route::SessionReport`] | `session_report` | `GET /identity/v1/sessions/{session_id}/report` |
//! | [`Route::SearchSessions`] | `search_sessions` | `GET /identity/v1/sessions` |
//! | [`Route::CleanValidations`] | `clean_validations` | `POST /clean_validations` |
//!
//! Statuses, error bodies and object shapes are those of `docs/wire-conventions.md`. Every answer
//! the simulator writes carries `x-request-id`; malformed HTTP that hyper itself refuses (bad
//! request line, request head over 64 KiB → `431`) is answered by hyper without one.
//!
//! Defaults: client [`DEFAULT_CLIENT_ID`] / [`DEFAULT_CLIENT_SECRET`], audience
//! [`DEFAULT_AUDIENCE`], tokens and sessions valid 24 h, 50 ms of processing, uploads up to
//! [`DEFAULT_MAX_UPLOAD_BYTES`], webhook key pair [`DEFAULT_WEBHOOK_API_KEY`] /
//! [`DEFAULT_WEBHOOK_SECRET`] (the example pair Pomelo publishes).
//!
//! # Lifecycle and the outcome rule
//!
//! A session is `IN_PROGRESS` until its documents are in: `selfie`, `identity-card-front` and
//! `identity-card-back` (in BRA, `driver-license-front` and `driver-license-back` may replace the
//! identity-card pair). It then turns `PROCESSING` and, after the processing delay (real time;
//! with `Duration::ZERO` before the completing upload is answered), the rule below decides, checked
//! in order against the session's `user_id`:
//!
//! 1. contains `needs-file` (first time only): a required-file notification asks for the back of
//!    the document pair sent (`identity-card-back`, or `driver-license-back`), the session returns
//!    to `IN_PROGRESS`, and re-uploading that document restarts processing, which goes on to 2;
//! 2. contains `not-validated`: `NOT_VALIDATED` with reason `DOCUMENT_MISMATCH` (step
//!    `selfie_document_match` `FAILED`);
//! 3. otherwise the default outcome ([`MockConfig::default_outcome`],
//!    [`MockServer::set_default_outcome`]; [`Outcome::Validated`] unless changed). A
//!    `NOT_VALIDATED` default fails step `risk_validation`; [`Outcome::Manual`] leaves the
//!    session in `PROCESSING` until it is decided by hand (below).
//!
//! An outcome sends a validation-session notification; steps follow the status (`PENDING` →
//! `PROCESSING` → `SUCCESS`/`FAILED`). A session still `IN_PROGRESS` at its `expiration_at`
//! (see [`MockServer::advance_clock`]) becomes `EXPIRED` and takes no more uploads (`409`).
//! Cancelling works while `IN_PROGRESS` or `PROCESSING`.
//!
//! # KYB: companies
//!
//! A create with flow `kyb-cards` or `kyb-accounts` (country `ARG` or `BRA`, method `API`) takes
//! Pomelo's documented KYB body (reference §9.1), checked strictly: `data` has exactly `company`
//! (`id` and `fiscal_id` strings required; `is_mei` a boolean, `annual_income` a number,
//! `legal_nature` a number or a string), `partners` (1 to 50 objects, each with `id`,
//! `partner_type`, `full_name` and `fiscal_id` strings; `birthdate` `YYYY-MM-DD`, `pep` a boolean,
//! `salary` a number, the two relationship lists lists of strings; ids distinct from each other
//! and from the company's) and `terms_data` (`version`, `accept`, `date`). Other members of the
//! company and of a partner are kept. The answer has no `url`; the session shows `company_id`
//! instead of `user_id`.
//!
//! The company's entity (its id) takes only `company-document`; each partner's entity takes a
//! person's documents. The session turns `PROCESSING` when the company's document and every
//! partner's selfie and document pair are in; the outcome rule reads the company id
//! (`needs-file` asks for `company-document` again and is listed in the report's
//! `documentation_request`). The report has the members of Pomelo's documented KYB report
//! (§9.5): `company_data` (names and activities made up), `documentation_request`,
//! `documentation_proof` (the company's files, sizes in fractional megabytes, `valid` once
//! validated) and `partners` (`document_data` from the partner's front document, `person_data`).
//!
//! An additional (employee) create, flow `kyb-cards-additional` with `data.company_id`,
//! `data.user_id` and an optional `data.personal_data`, is refused with `409` unless that company
//! has a `VALIDATED` KYB session; it then runs as a KYC session for the user, and shows both ids.
//!
//! # Webhooks
//!
//! Sent only when a URL is configured ([`MockConfig::webhook_url`], or several with
//! [`MockConfig::webhook_urls`]; [`MockConfig::required_file_webhook_url`] for required-file
//! notifications), as `POST` with `X-Api-Key`, `X-Timestamp` (Unix seconds from the simulator's
//! clock), `X-Endpoint` (the URL's path and query) and `X-Signature: hmac-sha256
//! base64(HMAC-SHA256(base64dec(secret), timestamp ‖ endpoint ‖ body))`. A non-`2xx` answer, a
//! refused connection or a timeout is retried up to [`MockConfig::webhook_max_attempts`] in all,
//! after [`MockConfig::webhook_retry_delay`], doubling. Every attempt is signed anew with a fresh
//! `X-Timestamp` (the same body), unless [`WebhookChaos::keep_first_signature`] is set. Targets
//! must be `http://` on loopback.
//!
//! A validation-session notification is sent for each outcome, a required-file notification
//! when documents are asked for again and, with [`MockConfig::notify_processing`]
//! (`--notify-processing`), a validation-session notification with status `PROCESSING` when a
//! session's documents are in (Pomelo says it notifies while a session is processed, too).
//!
//! With several URLs, attempts take them in turn: notification number `k` (from 1, in the order
//! they are sent) makes its first attempt to URL `(k - 1) mod n`, and each further attempt of it
//! (a retry, a duplicate) to the next URL, as a round-robin load balancer in front of a fleet of
//! receivers would. Round-robin rather than a hash of the session: receivers that share a store
//! must cope with one session's notifications reaching different processes, and a retry reaches
//! another receiver when one is down.
//!
//! ## Chaos: the simulator misbehaves like a network
//!
//! A receiver that follows sessions to their verdicts must cope with whatever a network and
//! Pomelo may do to notifications. [`WebhookChaos`] makes the simulator do it, set with
//! [`MockConfig::webhook_chaos`], changed while running with [`MockServer::set_webhook_chaos`]
//! or `POST /_admin/webhooks/chaos`, or given as options of `kyc-mock` and `kyc mock`:
//!
//! | [`WebhookChaos`] | Option (admin member) | Effect |
//! |---|---|---|
//! | [`drop_rate`](WebhookChaos::drop_rate) | `--webhook-drop-rate RATE` (`drop_rate`) | that share of notifications is never delivered: no attempt, listed as dropped |
//! | [`duplicate_rate`](WebhookChaos::duplicate_rate) | `--webhook-duplicate-rate RATE` (`duplicate_rate`) | that share is delivered again, each copy a separate delivery sent after the previous one finished |
//! | [`max_duplicates`](WebhookChaos::max_duplicates) | `--webhook-max-duplicates N` (`max_duplicates`) | a duplicated notification gets 1 to N extra copies (default 1, at most 10) |
//! | [`max_delay`](WebhookChaos::max_delay) | `--webhook-max-delay-ms MS` (`max_delay_ms`) | each delivery is held a random time up to this before its first attempt, so later notifications overtake earlier ones (at most 10 minutes) |
//! | [`keep_first_signature`](WebhookChaos::keep_first_signature) | `--webhook-keep-signature` (`keep_first_signature`) | retries and duplicates keep the first attempt's `X-Timestamp` and so, for the same endpoint, its `X-Signature` |
//! | [`omit_event_id`](WebhookChaos::omit_event_id) | `--webhook-omit-event-id` (`omit_event_id`) | bodies are sent without `event_id` |
//!
//! Every random choice comes from one SplitMix64 stream seeded with
//! [`MockConfig::webhook_seed`] (`--webhook-seed N`; by default a random seed below 2^53, shown
//! by [`MockServer::webhook_seed`], `GET /_admin/webhooks/chaos` and the start line).
//! Notification `k` takes the 16 numbers from position 16k, so its decisions depend only on the
//! seed, `k` and the settings: the same seed, settings and order of notifications make the same
//! decisions (event ids and times still differ).
//!
//! What happened to each notification: [`MockServer::webhook_deliveries`] (and
//! `GET /_admin/webhooks`) lists every delivery, finished or withheld, with
//! [`notification`](WebhookDelivery::notification) (its number, shared by its copies),
//! [`origin`](WebhookDelivery::origin) (first, duplicate `n`, resend by hand),
//! [`dropped`](WebhookDelivery::dropped) (why), [`held`](WebhookDelivery::held) and each
//! attempt's URL, headers and status or error. [`MockServer::wait_for_settled_webhooks`] waits
//! until no notification is on its way; [`MockStats`] counts notifications, dropped deliveries,
//! duplicates and attempts however small the log.
//!
//! Bounded: at most [`MockConfig::webhook_max_pending`] notifications on their way at once
//! (default 10,000, `--webhook-max-pending N`; one more is dropped as
//! [`DropReason::QueueFull`]), and the newest 10,000 deliveries are kept.
//!
//! ```text
//! kyc-mock --webhook-url http://127.0.0.1:9001/h --webhook-url http://127.0.0.1:9002/h --notify-processing --webhook-drop-rate 0.1 --webhook-duplicate-rate 0.2 --webhook-max-delay-ms 500 --webhook-seed 42
//! ```
//!
//! # The API as a document
//!
//! [`OPENAPI`] is the OpenAPI 3.1 description of the API the simulator plays (the repository's
//! `docs/openapi.json`): every operation of the table above, both webhook notifications, the
//! signature headers and the error body, each path, parameter and member marked documented by
//! Pomelo, inferred, or this project's choice. The simulator serves it at `/openapi.json`
//! ([`MockServer::openapi_url`], in the start lines of `kyc-mock` and `kyc mock` and on the
//! console), outside the route table: never faulted, recorded or counted. `kyc openapi` prints
//! it. Tests hold it to the route table, to kyc-core's requests and to the simulator's answers;
//! Schemathesis checks the simulator against it from outside (`scripts/interop.sh`).
//!
//! # The console and the admin API
//!
//! The simulator serves a web page, `/_console/`, where a developer watches sessions arrive
//! (status, user or company, steps, uploaded files with image previews, a timeline of each
//! session's requests, decisions and webhooks) and steers them by hand: validate, reject with a
//! reason, ask for files again, resend a webhook, queue a fault, move the clock. The page is
//! hand-written HTML, CSS and JavaScript served from the binary, fetches nothing from elsewhere,
//! and refreshes itself every second. [`MockServer::console_url`] (and `kyc mock`'s start line)
//! gives its address, token included. With [`Outcome::Manual`] (`kyc mock --manual`) sessions
//! wait in `PROCESSING` for such a decision.
//!
//! Behind it is a JSON API any language can drive, `/_admin/` on the same port. Every request
//! carries the token [`MockServer::admin_token`] in `x-admin-token` (a `GET` may give it as
//! `?token=` instead); answers are `{"data": ...}`, errors the API's error body:
//!
//! | Request | What it does |
//! |---|---|
//! | `GET /_admin` | the simulator's base URL, client id, audience, `openapi_url` and these routes |
//! | `GET /_admin/sessions` | the newest sessions (`?limit=`, default 200, at most 10,000), newest first: id, kind (`kyc`, `kyb`, `additional`), status, reason, user or company id, country, flow, times, file count, documents awaited |
//! | `GET /_admin/sessions/{id}` | the session object, plus `timeline` (`[{at, what}]`), `webhooks`, `required_again`, KYB `company` and `partners`, and `preview` on each file |
//! | `GET /_admin/sessions/{id}/files/{file_id}` | an uploaded image's bytes (the 200 most recent, 32 MiB at most) |
//! | `POST /_admin/sessions/{id}/outcome` | `{"outcome": "validated"}`, `{"outcome": "not_validated", "reason": "..."}` or `{"outcome": "require_files", "documents": [...], "reason": "..."}`; sends the notification; `409` once final |
//! | `GET /_admin/webhooks` | the newest logged deliveries (`?limit=`, default 200, at most 10,000), newest first: notification number, `origin` (`first`, `duplicate`, `resend`), `dropped` (`chaos`, `queue_full` or `null`), `held_ms`, and each attempt's URL, headers, status or error |
//! | `POST /_admin/webhooks/{event_id}/resend` | delivers it again (`202`), signed anew, outside the chaos |
//! | `GET /_admin/webhooks/chaos` | the webhook chaos in force, its `seed`, the target `urls`, `pending` and `max_pending`, and the counts of notifications, dropped deliveries, duplicates and attempts |
//! | `POST /_admin/webhooks/chaos` | any of `{"drop_rate": 0.1, "duplicate_rate": 0.2, "max_duplicates": 1, "max_delay_ms": 500, "keep_first_signature": false, "omit_event_id": false}`, for the next notifications; `400` out of bounds |
//! | `GET /_admin/faults` | `{"pending": n}` |
//! | `POST /_admin/faults` | `{"route": "upload_file", "kind": "status", "status": 503, "retry_after": 2, "times": 1}`; kinds `status`, `delay` (`delay_ms`), `trickle` (`head_after_ms`, `body_over_ms`), `drop_connection`, `lose_response`, `truncated_body`, `non_json_body`, `html_error_page`; `route` is a name from the table above, or `any` |
//! | `POST /_admin/faults/clear` | removes every pending fault |
//! | `POST /_admin/clock` | `{"advance_seconds": n}` moves the clock as [`MockServer::advance_clock`] |
//!
//! ```text
//! curl -s -H "x-admin-token: $TOKEN" http://127.0.0.1:8080/_admin/sessions
//! curl -s -H "x-admin-token: $TOKEN" -H 'content-type: application/json' \
//!     -d '{"outcome": "not_validated", "reason": "DOCUMENT_MISMATCH"}' \
//!     http://127.0.0.1:8080/_admin/sessions/iss-.../outcome
//! ```
//!
//! [`MockServer::decide`], [`MockServer::resend_webhook`], [`MockServer::set_webhook_chaos`],
//! [`MockServer::inject_fault`] and [`MockServer::advance_clock`] are the same operations from
//! Rust, through the same code.
//!
//! Safe on a developer's machine: the console and the API answer only peers on loopback, only
//! requests whose `Host` is `localhost`, `127.x.y.z` or `[::1]` (so a web page that rebinds its
//! own name to 127.0.0.1 is refused), and only with the token, which is 32 characters from the
//! operating system's generator, new at every start. A state change is a `POST` with the token in
//! the header and a JSON body, which no cross-site form can send. Pages are sent with a strict
//! `Content-Security-Policy`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and
//! `Cache-Control: no-store`. The page shows no secret but the test client id. These requests are
//! never faulted, recorded in [`MockServer::requests`] or counted in [`MockServer::stats`].
//!
//! # Faults
//!
//! [`MockServer::inject_fault`] makes the next N requests on a [`Route`] (or [`Route::Any`])
//! answer with a [`Fault`]: an error status (e.g. `429` with `Retry-After`, `500`, `503`) with the
//! JSON error body, a delay, a dropped connection (no response at all), a truncated body, a body
//! that is not JSON, or an HTML error page. Faults are consumed first-in first-out; faulted
//! requests are recorded and, except for a delay, not processed.
//!
//! # Bounds
//!
//! The simulator is meant to survive clients that misbehave, on purpose or not:
//!
//! - Request heads are limited to 64 KiB and must arrive within 30 s; JSON bodies are limited to
//!   1 MiB and upload bodies to the file limit plus 64 KiB (larger → `413`).
//! - A request that needs a token is authenticated from its head, before any of its body is read:
//!   without a valid token it is answered `401` with `Connection: close` and its body is never
//!   read.
//! - A body must arrive whole within [`MockConfig::body_read_timeout`] (default 10 s), else `408`
//!   and the connection is closed, so that clients trickling bodies cannot hold every connection.
//! - Connections ([`MockConfig::max_connections`], default 256), stored sessions
//!   ([`MockConfig::max_sessions`], then `507`), the user id and personal data a session stores
//!   ([`MockConfig::max_personal_data_bytes`], default 16 KiB, then `413`), recorded requests,
//!   remembered idempotency keys, webhook notifications on their way
//!   ([`MockConfig::webhook_max_pending`]) and logged webhook deliveries are all capped.

#![forbid(unsafe_code)]

mod admin;
mod chaos;
#[cfg(feature = "cli")]
mod cli;
mod clock;
mod config;
mod delivery;
mod faults;
mod handlers;
mod http;
mod ids;
mod json;
mod kyb;
mod lifecycle;
mod multipart;
mod openapi;
mod record;
mod report;
mod router;
mod routes;
mod server;
mod session;
mod signals;
mod signature;
mod state;
mod subject;
mod webhook;

pub use chaos::{MAX_WEBHOOK_DELAY, MAX_WEBHOOK_DUPLICATES, WebhookChaos};
#[cfg(feature = "cli")]
pub use cli::{ClientArgs, SecretFileError, SimulatorArgs};
pub use config::{
    Alternative, DEFAULT_AUDIENCE, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PERSONAL_DATA_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_WEBHOOK_API_KEY, DEFAULT_WEBHOOK_MAX_PENDING,
    DEFAULT_WEBHOOK_SECRET, Decision, KNOWN_AUDIENCES, MockConfig, Outcome, StartError,
};
pub use faults::Fault;
pub use openapi::OPENAPI;
pub use record::RecordedRequest;
pub use routes::Route;
pub use server::{AdminError, MockServer};
pub use signals::StopSignals;
pub use state::MockStats;
pub use webhook::{DeliveryAttempt, DeliveryOrigin, DropReason, WebhookDelivery, WebhookKind};
