//! Helpers shared by the simulator's over-the-wire tests: a plain ureq client, multipart bodies,
//! a tiny webhook receiver on 127.0.0.1:0 and an independent HMAC check.
// Test code: a panic is a failed test; each test binary uses a different subset; `pub` is for them.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use kyc_mock::{MockConfig, MockServer};
use serde_json::{Value, json};
use sha2::Sha256;

pub const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xFF, 0xD9,
];
pub const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
];
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

/// A server with an instant processing delay (outcomes are decided inside the completing upload).
pub fn instant_server() -> MockServer {
    MockServer::start(MockConfig::new().processing_delay(Duration::ZERO)).unwrap()
}

/// An HTTP answer as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// `error.details[0].code` of an error body, checking the whole error shape on the way.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let error = v["error"]
            .as_object()
            .unwrap_or_else(|| panic!("no error object: {v}"));
        assert!(error["message"].is_string(), "error.message missing: {v}");
        let details = error["details"].as_array().expect("error.details");
        assert!(!details.is_empty(), "no details: {v}");
        for d in details {
            assert!(
                d["code"].is_string() && d["detail"].is_string(),
                "bad detail: {v}"
            );
        }
        details[0]["code"].as_str().unwrap().to_owned()
    }
}

/// A plain HTTP client that hands back every status with its body.
pub struct Client {
    agent: ureq::Agent,
    pub base: String,
}

impl Client {
    pub fn new(server: &MockServer) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        Self {
            agent,
            base: server.base_url().to_owned(),
        }
    }

    /// Sends a request; `Err` is a transport-level failure seen by the client.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, ureq::Error> {
        let url = format!("{}{}", self.base, path);
        let mut response = match method {
            "GET" | "DELETE" => {
                let mut rb = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                for (n, v) in headers {
                    rb = rb.header(*n, *v);
                }
                rb.call()?
            }
            "POST" | "PUT" | "PATCH" => {
                let mut rb = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.patch(&url),
                };
                for (n, v) in headers {
                    rb = rb.header(*n, *v);
                }
                match body {
                    Some(b) => rb.send(b)?,
                    None => rb.send_empty()?,
                }
            }
            other => panic!("unsupported method {other}"),
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec()?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let reply = self
            .try_send(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: transport error {e}"));
        assert!(
            reply
                .header("x-request-id")
                .is_some_and(|id| id.starts_with("req-")),
            "{method} {path}: no x-request-id"
        );
        reply
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.post_json_with(path, token, body, &[])
    }

    pub fn post_json_with(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
        extra: &[(&str, &str)],
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        headers.extend_from_slice(extra);
        self.send("POST", path, &headers, Some(body.to_string().as_bytes()))
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.send(
            "GET",
            path,
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
    }

    pub fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(
            "DELETE",
            path,
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
    }

    pub fn token_reply(&self, server: &MockServer) -> Reply {
        self.post_json("/oauth/token", None, &token_body(server))
    }

    pub fn token(&self, server: &MockServer) -> String {
        let reply = self.token_reply(server);
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    pub fn create_session(&self, token: &str, country: &str, user_id: &str) -> String {
        let reply = self.post_json(
            "/identity/v2/sessions",
            Some(token),
            &session_body(country, user_id),
        );
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["data"]["id"].as_str().unwrap().to_owned()
    }

    pub fn session(&self, token: &str, id: &str) -> Value {
        let reply = self.get(&format!("/identity/v1/sessions/{id}"), token);
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["data"].clone()
    }

    /// Uploads `data` as the single `file` part.
    #[allow(clippy::too_many_arguments)] // mirrors the endpoint's path parameters plus the part's fields
    pub fn upload(
        &self,
        token: &str,
        session: &str,
        entity: &str,
        document: &str,
        file_name: &str,
        content_type: &str,
        data: &[u8],
    ) -> Reply {
        let body = multipart("kycBoundary7MA4YWxk", file_name, content_type, data);
        self.upload_raw(
            token,
            session,
            entity,
            document,
            "multipart/form-data; boundary=kycBoundary7MA4YWxk",
            &body,
        )
    }

    pub fn upload_raw(
        &self,
        token: &str,
        session: &str,
        entity: &str,
        document: &str,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let auth = format!("Bearer {token}");
        self.send(
            "POST",
            &format!("/identity/v1/sessions/{session}/entities/{entity}/files/{document}"),
            &[("authorization", &auth), ("content-type", content_type)],
            Some(body),
        )
    }

    /// Uploads selfie, identity-card front and back as JPEGs, each answered 201.
    pub fn upload_all(&self, token: &str, session: &str, user: &str) {
        for doc in ["selfie", "identity-card-front", "identity-card-back"] {
            let r = self.upload(
                token,
                session,
                user,
                doc,
                &format!("{doc}.jpg"),
                "image/jpeg",
                JPEG,
            );
            assert_eq!(r.status, 201, "{doc}: {}", String::from_utf8_lossy(&r.body));
        }
    }
}

/// A `GET` of the admin API with the server's token.
pub fn admin_get(client: &Client, server: &MockServer, path: &str) -> Reply {
    client
        .try_send(
            "GET",
            path,
            &[("x-admin-token", server.admin_token())],
            None,
        )
        .unwrap()
}

/// A `POST` of a JSON body to the admin API with the server's token.
pub fn admin_post(client: &Client, server: &MockServer, path: &str, body: &Value) -> Reply {
    client
        .try_send(
            "POST",
            path,
            &[
                ("x-admin-token", server.admin_token()),
                ("content-type", "application/json"),
            ],
            Some(body.to_string().as_bytes()),
        )
        .unwrap()
}

pub fn token_body(server: &MockServer) -> Value {
    json!({
        "client_id": server.client_id(),
        "client_secret": server.client_secret(),
        "audience": server.audience(),
        "grant_type": "client_credentials",
    })
}

pub fn session_body(country: &str, user_id: &str) -> Value {
    json!({
        "flow_type": "kyc-accounts",
        "country": country,
        "integration_method": "API",
        "data": { "user_id": user_id, "personal_data": {}, "terms_data": {} },
    })
}

/// A one-part multipart/form-data body, built by hand.
pub fn multipart(boundary: &str, file_name: &str, content_type: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// `hmac-sha256 base64(HMAC-SHA256(base64dec(secret), timestamp ‖ endpoint ‖ body))`, computed with
/// the hmac crate directly (not with the simulator's code).
pub fn expected_signature(
    secret_b64: &str,
    timestamp: &str,
    endpoint: &str,
    body: &[u8],
) -> String {
    let key = STANDARD.decode(secret_b64).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(endpoint.as_bytes());
    mac.update(body);
    format!(
        "hmac-sha256 {}",
        STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Polls `f` every 10 ms until it returns `Some`, for at most `timeout`.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A request the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Hook {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Hook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A tiny HTTP/1.1 receiver on 127.0.0.1:0 that records requests and answers each with the next
/// queued status (200 when the queue is empty), closing the connection after each answer.
pub struct Receiver {
    pub port: u16,
    stop: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<Hook>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let (s, r, q) = (
            Arc::clone(&stop),
            Arc::clone(&received),
            Arc::clone(&statuses),
        );
        let thread = std::thread::spawn(move || {
            // Bounded: stops when the flag is set, at the latest after 120 s.
            let deadline = Instant::now() + Duration::from_secs(120);
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = read_request(stream, &q, &r);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            port,
            stop,
            received,
            statuses,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn respond_with(&self, statuses: &[u16]) {
        self.statuses
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    pub fn received(&self) -> Vec<Hook> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (at most 5 s).
    pub fn wait_for(&self, n: usize) -> Vec<Hook> {
        eventually(Duration::from_secs(5), || {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .unwrap_or_else(|| {
            panic!(
                "expected {n} webhook requests, got {}",
                self.received().len()
            )
        })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request, records it, then answers (recording first, so that a sender that has seen
/// the answer can rely on the request being listed).
fn read_request(
    mut stream: TcpStream,
    statuses: &Mutex<VecDeque<u16>>,
    received: &Mutex<Vec<Hook>>,
) -> Option<()> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    received.lock().unwrap().push(Hook {
        method,
        target,
        headers,
        body,
    });
    let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
    let _ = stream.write_all(
        format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .as_bytes(),
    );
    Some(())
}
