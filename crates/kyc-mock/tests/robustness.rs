//! Hostile input, keep-alive, request ids, concurrency, connection bounds and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use common::{Client, session_body};
use kyc_mock::{MockConfig, MockServer};

/// Writes `request` on a fresh connection and returns everything read until close (at most 5 s).
fn raw(server: &MockServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    // The server may answer and close before taking all of a huge request.
    let _ = stream.write_all(request);
    read_for(&mut stream, Duration::from_secs(5))
}

fn status_of(response: &str) -> u16 {
    response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn hostile_requests_get_4xx_and_the_server_survives() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let huge_header = format!(
        "GET /identity/v1/sessions HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(400 * 1024)
    );
    let many_headers = {
        let mut r = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..500 {
            r.push_str(&format!("X-H{i}: v\r\n"));
        }
        r.push_str("\r\n");
        r
    };
    let cases: Vec<Vec<u8>> = vec![
        huge_header.into_bytes(),
        many_headers.into_bytes(),
        b"\x00\x01\x02 garbage\r\n\r\n".to_vec(),
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n".to_vec(),
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            .to_vec(),
        b"GET /identity/v1/sessions?%zz=%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            .to_vec(),
    ];
    for request in &cases {
        let response = raw(&server, request);
        let status = status_of(&response);
        assert!(
            (400..500).contains(&status),
            "{:?} → {:?}",
            String::from_utf8_lossy(&request[..request.len().min(60)]),
            &response[..response.len().min(80)]
        );
    }
    // Non-UTF-8 and odd bytes inside valid HTTP reach the handlers and get JSON 4xx answers.
    let auth = format!("Bearer {token}");
    let reply = client.send(
        "POST",
        "/identity/v2/sessions",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(b"{\"flow_type\": \"\xff\xff\"}"),
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (400, "invalid_body")
    );
    let reply = client.get("/identity/v1/sessions?filter%5Bstatus%5D=%FF", &token);
    assert_eq!(reply.status, 400);
    assert_eq!(
        client.get("/identity/v1/sessions", &token).status,
        200,
        "still serving"
    );
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let one = format!(
        "GET /identity/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    let last = format!(
        "GET /identity/v1/sessions/iss-none HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let response = raw(&server, format!("{one}{one}{last}").as_bytes());
    assert_eq!(response.matches("HTTP/1.1 200 OK").count(), 2, "{response}");
    assert_eq!(response.matches("HTTP/1.1 404 Not Found").count(), 1);
}

#[test]
fn request_ids_are_unique_and_match_the_log() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    server.clear_requests();
    let mut ids = HashSet::new();
    for i in 0..10 {
        let reply = if i % 2 == 0 {
            client.get("/identity/v1/sessions", &token)
        } else {
            client.get("/identity/v1/sessions/iss-none?x=1", &token)
        };
        ids.insert(reply.header("x-request-id").unwrap().to_owned());
    }
    assert_eq!(ids.len(), 10);
    let logged = server.requests();
    assert_eq!(logged.len(), 10);
    assert!(logged.iter().all(|r| ids.contains(&r.request_id)));
    assert_eq!(logged[1].method, "GET");
    assert_eq!(logged[1].path, "/identity/v1/sessions/iss-none");
    assert_eq!(logged[1].query.as_deref(), Some("x=1"));
    assert_eq!(
        logged[1].header("Authorization"),
        Some(format!("Bearer {token}").as_str())
    );
}

#[test]
fn the_request_log_is_bounded() {
    let server = MockServer::start(MockConfig::new().max_recorded_requests(3)).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    for _ in 0..5 {
        client.get("/identity/v1/sessions", &token);
    }
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn concurrent_clients_get_distinct_sessions_and_one_idempotent_winner() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let token = Client::new(&server).token(&server);
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (server, token) = (&server, &token);
                scope.spawn(move || {
                    let client = Client::new(server);
                    (0..10)
                        .map(|i| client.create_session(token, "ARG", &format!("usr-{t}-{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(ids.len(), 80);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 80);
    assert_eq!(server.session_count(), 80);

    let bodies: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (server, token) = (&server, &token);
                scope.spawn(move || {
                    let reply = Client::new(server).post_json_with(
                        "/identity/v2/sessions",
                        Some(token),
                        &session_body("ARG", "usr-same"),
                        &[("x-idempotency-key", "same-key")],
                    );
                    assert_eq!(reply.status, 201);
                    reply.body
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every racer got the same session"
    );
    assert_eq!(server.session_count(), 81);
}

#[test]
fn connections_beyond_the_limit_wait_their_turn() {
    let server = MockServer::start(MockConfig::new().max_connections(1)).unwrap();
    let token = Client::new(&server).token(&server);
    // Hold the only slot with an idle keep-alive connection.
    let mut holder = TcpStream::connect(server.local_addr()).unwrap();
    holder
        .write_all(format!("GET /identity/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes())
        .unwrap();
    holder
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1024];
    assert!(holder.read(&mut buf).unwrap() > 0);

    let (tx, rx) = mpsc::channel();
    let addr = server.local_addr();
    let waiter = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        tx.send(String::from_utf8_lossy(&out).into_owned()).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "served while the slot was taken"
    );
    drop(holder);
    let answer = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("served once the slot was freed");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    waiter.join().unwrap();
}

#[test]
fn debug_output_hides_secrets() {
    let server = MockServer::start(MockConfig::new().client_secret("s3cr3t-value")).unwrap();
    let debug = format!("{server:?}");
    assert!(debug.contains(server.base_url()));
    assert!(!debug.contains("s3cr3t-value"));
    assert!(!debug.contains(server.webhook_secret()));
}

#[test]
fn shutdown_and_drop_stop_listening() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let addr = server.local_addr();
    let client = Client::new(&server);
    let token = client.token(&server);
    // An open keep-alive connection does not keep the server alive.
    let mut open = TcpStream::connect(addr).unwrap();
    open.write_all(
        format!(
            "GET /identity/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    server.shutdown();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());

    let dropped = MockServer::start(MockConfig::new()).unwrap();
    let addr = dropped.local_addr();
    drop(dropped);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

/// Opens a connection and writes `head` (and whatever of a body it carries), then leaves it open.
fn open_with(server: &MockServer, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Reads what arrives on `stream` until close or `within` passes.
fn read_for(stream: &mut TcpStream, within: Duration) -> String {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads from `stream` until a whole response head has arrived (at most `within`).
fn read_head(stream: &mut TcpStream, within: Duration) -> String {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A create-session head promising `length` bytes, followed by the first few of them.
fn trickling_create(token: &str, length: usize) -> String {
    format!(
        "POST /identity/v2/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{\"flow_"
    )
}

/// One whole flow by a well-behaved client: token, create, three uploads, the outcome.
fn well_behaved_flow(server: &MockServer) {
    let client = Client::new(server);
    let token = client.token(server);
    let id = client.create_session(&token, "ARG", "usr-good");
    client.upload_all(&token, &id, "usr-good");
    let status = common::eventually(Duration::from_secs(5), || {
        let status = client.session(&token, &id)["status"].clone();
        (status == "VALIDATED").then_some(status)
    });
    assert_eq!(status.as_ref().and_then(|s| s.as_str()), Some("VALIDATED"));
}

#[test]
fn sixty_four_hostile_clients_do_not_stop_a_well_behaved_flow() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let token = Client::new(&server).token(&server);
    let upload_path = "/identity/v1/sessions/iss-x/entities/usr-x/files/selfie";
    let mut hostile = Vec::new();
    // 24 trickle an authenticated body and then stall.
    for _ in 0..24 {
        hostile.push(open_with(&server, &trickling_create(&token, 1_000)));
    }
    // 16 stall in the middle of a request head.
    for _ in 0..16 {
        hostile.push(open_with(
            &server,
            "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-",
        ));
    }
    // 24 announce a 60 MiB upload without a token and send the first bytes of it.
    let mut oversized = Vec::new();
    for _ in 0..24 {
        let head = format!(
            "POST {upload_path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; \
             boundary=b\r\nContent-Length: {}\r\n\r\n--b\r\n",
            60 * 1024 * 1024
        );
        oversized.push(open_with(&server, &head));
    }

    // The client's own 10 s timeout bounds each of its requests: a stalled server fails the test.
    well_behaved_flow(&server);

    // The unauthenticated uploads were answered from their heads, and told the connection closes.
    for stream in &mut oversized {
        let answer = read_for(stream, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
    let uploads: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == upload_path)
        .collect();
    assert_eq!(uploads.len(), 24);
    assert!(
        uploads.iter().all(|r| r.body.is_empty()),
        "no body was read"
    );
    drop(hostile);
}

#[test]
fn a_body_slower_than_the_body_read_timeout_is_cut_and_frees_its_connection() {
    let server = MockServer::start(
        MockConfig::new()
            .max_connections(2)
            .body_read_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let token = Client::new(&server).token(&server);
    // Both connection slots are held by bodies that never finish.
    let mut slow: Vec<_> = (0..2)
        .map(|_| open_with(&server, &trickling_create(&token, 500)))
        .collect();
    for stream in &mut slow {
        let answer = read_for(stream, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    // Their slots are free again.
    well_behaved_flow(&server);
    assert_eq!(server.session_count(), 1, "the cut bodies created nothing");
}

#[test]
fn a_request_without_a_token_is_refused_before_its_body_is_read() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    // The head promises a body that never comes: the answer must not wait for it.
    let mut stream = open_with(
        &server,
        "POST /identity/v2/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 500000\r\n\r\n",
    );
    let answer = read_head(&mut stream, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // A client that sends its whole body before it reads still gets the answer, not a reset.
    let client = Client::new(&server);
    let big = common::multipart("b", "s.jpg", "image/jpeg", &vec![0xFF; 4 * 1024 * 1024]);
    let refused = client.upload_raw(
        "stale",
        "iss-x",
        "usr-x",
        "selfie",
        "multipart/form-data; boundary=b",
        &big,
    );
    assert_eq!(refused.status, 401);
    assert!(
        server.requests().iter().all(|r| r.body.is_empty()),
        "no body was kept"
    );
    // A token request is not authenticated by a bearer token: its body is read as before.
    assert_eq!(client.token_reply(&server).status, 200);
    // A bodiless request keeps its connection.
    let mut get = open_with(
        &server,
        "GET /identity/v1/sessions/iss-none HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let answer = read_head(&mut get, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[test]
fn stored_personal_data_is_bounded() {
    let server = MockServer::start(MockConfig::new()).unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let with = |user_id: &str, name: &str| {
        let mut body = session_body("ARG", user_id);
        body["data"]["personal_data"] = serde_json::json!({ "full_name": name });
        client.post_json("/identity/v2/sessions", Some(&token), &body)
    };
    let big = "n".repeat(kyc_mock::DEFAULT_MAX_PERSONAL_DATA_BYTES);
    let refused = with("usr-1", &big);
    assert_eq!(refused.status, 413);
    assert_eq!(refused.error_code(), "personal_data_too_large");
    let refused = with(
        &"u".repeat(kyc_mock::DEFAULT_MAX_PERSONAL_DATA_BYTES + 1),
        "Ana",
    );
    assert_eq!(refused.status, 413);
    assert_eq!(server.session_count(), 0);
    assert_eq!(with("usr-1", &big[..1_000]).status, 201);

    let roomy = MockServer::start(
        MockConfig::new().max_personal_data_bytes(2 * kyc_mock::DEFAULT_MAX_PERSONAL_DATA_BYTES),
    )
    .unwrap();
    let client = Client::new(&roomy);
    let token = client.token(&roomy);
    let mut body = session_body("ARG", "usr-1");
    body["data"]["personal_data"] = serde_json::json!({ "full_name": big });
    let created = client.post_json("/identity/v2/sessions", Some(&token), &body);
    assert_eq!(created.status, 201);
}
