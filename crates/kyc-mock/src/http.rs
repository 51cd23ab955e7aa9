//! Response building: the body type, JSON answers and the error body of docs/wire-conventions.md.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use serde::Serialize;
use serde_json::{Value, json};

/// The simulator's response body: the whole body in one frame, or (for the truncated-body fault)
/// some bytes followed by an error that makes hyper abort the connection.
#[derive(Debug)]
pub(crate) struct MockBody {
    data: Option<Bytes>,
    fail_after_data: bool,
    /// Pause between the data and the error, so hyper flushes the data before aborting.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    /// For the trickle fault: the body goes out a piece at a time, this far apart.
    trickle: Option<Trickle>,
    /// The whole length, for the size hint (the data is drained as it is sent).
    len: u64,
}

#[derive(Debug)]
struct Trickle {
    piece: usize,
    interval: std::time::Duration,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How many pieces a trickled body is sent in.
const TRICKLE_PIECES: usize = 10;

/// How long a truncated body waits after its data before failing (hyper flushes meanwhile).
const TRUNCATION_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

impl MockBody {
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Self {
            len: data.len() as u64,
            data: Some(data),
            fail_after_data: false,
            pause: None,
            trickle: None,
        }
    }

    /// This body, sent in pieces spread over `over` (its length still exact).
    pub(crate) fn trickled(mut self, over: std::time::Duration) -> Self {
        let len = self.data.as_ref().map_or(0, Bytes::len);
        let pieces = TRICKLE_PIECES.min(len.max(1));
        self.trickle = Some(Trickle {
            piece: len.div_ceil(pieces).max(1),
            interval: over / u32::try_from(pieces).unwrap_or(1),
            wait: None,
        });
        self
    }

    /// `data`, then an I/O error; the size stays unknown so that hyper trusts the
    /// `Content-Length` header set by the caller.
    pub(crate) fn truncated(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Self {
            len: data.len() as u64,
            data: Some(data),
            fail_after_data: true,
            pause: None,
            trickle: None,
        }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(trickle) = &mut this.trickle {
            let Some(data) = this.data.as_mut().filter(|d| !d.is_empty()) else {
                return Poll::Ready(None);
            };
            let wait = trickle
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(trickle.interval)));
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            trickle.wait = None;
            let piece = data.split_to(trickle.piece.min(data.len()));
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        if let Some(data) = this.data.take() {
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
        }
        if this.fail_after_data {
            let pause = this
                .pause
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(TRUNCATION_PAUSE)));
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.fail_after_data = false;
            return Poll::Ready(Some(Err(std::io::Error::other(
                "injected fault: body truncated",
            ))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        !self.fail_after_data && self.data.as_ref().is_none_or(Bytes::is_empty)
    }

    fn size_hint(&self) -> SizeHint {
        if self.fail_after_data {
            SizeHint::default()
        } else {
            SizeHint::with_exact(self.len)
        }
    }
}

pub(crate) type HttpResponse = Response<MockBody>;

/// A response with `body` and the given content type.
pub(crate) fn with_body(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> HttpResponse {
    let mut response = Response::new(MockBody::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> HttpResponse {
    // Room for a session object, so that writing one does not grow the buffer step by step.
    let mut body = Vec::with_capacity(2048);
    if serde_json::to_writer(&mut body, value).is_err() {
        body.clear();
    }
    with_body(status, "application/json", body)
}

/// A `{"data": value}` response, written straight from `value`.
pub(crate) fn data(status: StatusCode, value: impl Serialize) -> HttpResponse {
    #[derive(Serialize)]
    struct Data<T> {
        data: T,
    }
    json(status, &Data { data: value })
}

/// A response whose `Content-Length` promises more than is sent before the connection closes.
pub(crate) fn truncated_json() -> HttpResponse {
    let partial = br#"{"data": {"id": "iss-truncated", "status": "IN_PRO"#;
    let mut response = Response::new(MockBody::truncated(Bytes::from_static(partial)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CONTENT_LENGTH,
        HeaderValue::from(partial.len() as u64 + 512),
    );
    response
}

/// An API error: status plus the body `{"error": {"message", "details": [{"code", "detail"}]}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) details: Vec<(String, String)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self {
            status,
            message: detail.clone(),
            details: vec![(code.to_owned(), detail)],
        }
    }

    /// One error carrying several problems, all with the same code.
    pub(crate) fn many(
        status: StatusCode,
        code: &str,
        message: &str,
        problems: Vec<String>,
    ) -> Self {
        Self {
            status,
            message: message.to_owned(),
            details: problems.into_iter().map(|p| (code.to_owned(), p)).collect(),
        }
    }

    pub(crate) fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub(crate) fn invalid_state(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_state", detail)
    }

    /// `413`: an uploaded file over the limit.
    pub(crate) fn file_too_large(max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("files may be at most {max} bytes"),
        )
    }

    pub(crate) fn into_response(self) -> HttpResponse {
        let details: Vec<Value> = self
            .details
            .into_iter()
            .map(|(code, detail)| json!({ "code": code, "detail": detail }))
            .collect();
        json(
            self.status,
            &json!({ "error": { "message": self.message, "details": details } }),
        )
    }
}

pub(crate) type HandlerResult = Result<HttpResponse, ApiError>;
