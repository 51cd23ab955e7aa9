//! An upload built from arbitrary file bytes (after one of the three accepted magic numbers), file
//! name, ids and idempotency key parses back, with `multer` (an implementation independent of
//! kyc-core's), into exactly one part named `file` with the same bytes, the detected content type
//! and the cleaned file name; and the streamed form sends exactly the same bytes.
#![no_main]

use std::io::Read as _;
use std::task::{Context, Poll, Waker};

use arbitrary::Arbitrary;
use kyc_core::{
    AccessToken, Config, DocumentType, Environment, Error, IdempotencyKey, InvalidInput,
    UploadFile, build_request,
};
use libfuzzer_sys::fuzz_target;

const MAGIC: [(&[u8], &str, &str); 3] = [
    (&[0xFF, 0xD8, 0xFF], "image/jpeg", "jpg"),
    (
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A],
        "image/png",
        "png",
    ),
    (b"%PDF-", "application/pdf", "pdf"),
];

#[derive(Arbitrary, Debug)]
struct Input {
    magic: u8,
    file_name: String,
    key: Vec<u8>,
    session_id: String,
    entity_id: String,
    /// An index into `DocumentType::KNOWN`, or any other text.
    document_type: Result<u8, String>,
    rest: Vec<u8>,
}

/// Polls a future that never waits (multer over an in-memory stream) to completion.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("an in-memory multipart parse did not finish");
}

struct Part {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

fn parse_multipart(content_type: &str, body: Vec<u8>) -> Vec<Part> {
    let boundary = multer::parse_boundary(content_type).expect("our content type has a boundary");
    let stream = futures_util::stream::once(async move {
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body))
    });
    let mut multipart = multer::Multipart::new(stream, boundary);
    block_on(async move {
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.expect("a well-formed part") {
            let name = field.name().map(str::to_owned);
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            let bytes = field.bytes().await.expect("the part's bytes").to_vec();
            parts.push(Part {
                name,
                file_name,
                content_type,
                bytes,
            });
        }
        parts
    })
}

/// The file name the server should see: the last path component, quotes and control characters
/// replaced, trimmed; `<document type>.<extension>` when nothing usable is left, with quotes,
/// slashes, back-slashes and control characters replaced.
fn expected_file_name(given: &str, document_type: &DocumentType, extension: &str) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c == '"' || c == '/' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    };
    let base = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned = clean(base);
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        clean(&format!("{document_type}.{extension}"))
    } else {
        cleaned.to_owned()
    }
}

fuzz_target!(|input: Input| {
    let (magic, mime, extension) = MAGIC[usize::from(input.magic) % MAGIC.len()];
    let mut file = magic.to_vec();
    file.extend_from_slice(&input.rest);

    let key = match std::str::from_utf8(&input.key).map(IdempotencyKey::new) {
        Ok(Ok(key)) => key,
        _ => {
            let mut bytes = [0u8; 16];
            for (slot, b) in bytes.iter_mut().zip(&input.key) {
                *slot = *b;
            }
            IdempotencyKey::from_random_bytes(bytes)
        }
    };
    let document_type = match &input.document_type {
        Ok(i) => DocumentType::KNOWN[usize::from(*i) % DocumentType::KNOWN.len()].clone(),
        Err(text) => DocumentType::from(text.as_str()),
    };
    let config = Config::new(Environment::Sandbox).expect("the sandbox configuration is valid");
    let token = AccessToken::new("token");

    let upload = UploadFile::from_bytes(
        input.session_id.as_str(),
        input.entity_id.as_str(),
        document_type.clone(),
        input.file_name.as_str(),
        file.clone(),
    );
    let request = match build_request(&config, &upload, Some(&token), Some(&key)) {
        Ok(request) => request,
        Err(Error::InvalidInput(InvalidInput::InvalidId { .. })) => {
            let bad = |s: &str| s.is_empty() || s == "." || s == "..";
            assert!(
                bad(&input.session_id) || bad(&input.entity_id) || bad(document_type.as_str()),
                "ids refused for no reason"
            );
            return;
        }
        Err(Error::InvalidInput(InvalidInput::Empty { .. })) => {
            assert!(document_type.as_str().is_empty());
            return;
        }
        Err(e) => panic!("a valid upload was refused: {e:?}"),
    };

    let content_type = request.headers()["content-type"]
        .to_str()
        .expect("an ASCII content type")
        .to_owned();
    let declared: u64 = request.headers()["content-length"]
        .to_str()
        .expect("an ASCII content length")
        .parse()
        .expect("a decimal content length");
    let body = request
        .into_body()
        .into_bytes()
        .expect("in-memory content gives bytes");
    assert_eq!(
        declared,
        body.len() as u64,
        "Content-Length disagrees with the body"
    );

    let parts = parse_multipart(&content_type, body.clone());
    assert_eq!(parts.len(), 1, "exactly one part");
    let part = &parts[0];
    assert_eq!(part.name.as_deref(), Some("file"));
    assert_eq!(part.content_type.as_deref(), Some(mime));
    assert!(part.bytes == file, "the part's bytes differ from the file");
    let expected_name = expected_file_name(&input.file_name, &document_type, extension);
    assert_eq!(part.file_name.as_deref(), Some(expected_name.as_str()));

    // The streamed form: same bytes, unless the in-memory form had to pick another boundary
    // because the file contains the first one (which a stream cannot check).
    let leading = &file[..file.len().min(8)];
    let streamed = UploadFile::from_stream(
        input.session_id.as_str(),
        input.entity_id.as_str(),
        document_type,
        input.file_name.as_str(),
        leading,
        file.len() as u64,
    );
    let request = build_request(&config, &streamed, Some(&token), Some(&key))
        .expect("the streamed upload is as valid as the in-memory one");
    let streamed_type = request.headers()["content-type"].clone();
    let mut streamed_body = Vec::new();
    request
        .into_body()
        .into_reader(file.as_slice())
        .read_to_end(&mut streamed_body)
        .expect("a stream of exactly the declared length reads to the end");
    if streamed_type == content_type.as_str() {
        assert!(streamed_body == body, "the streamed body differs");
    } else {
        let boundary =
            multer::parse_boundary(streamed_type.to_str().expect("ASCII")).expect("a boundary");
        assert!(
            file.windows(boundary.len())
                .any(|w| w == boundary.as_bytes()),
            "the boundaries differ although the file does not contain the first one"
        );
    }
});
