//! Inputs the fuzz targets in `fuzz/` found to break kyc-core, replayed in the normal test suite.
//! Each test names the target that found the input and says what went wrong before the fix.

// A panic in a test is a failed test: tests may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kyc_core::{
    AccessToken, Config, DocumentType, Environment, IdempotencyKey, UploadFile, build_request,
};

/// The part headers of an upload request's multipart body, as text.
fn part_head(upload: &UploadFile) -> String {
    let config = Config::new(Environment::Sandbox).unwrap();
    let request = build_request(
        &config,
        upload,
        Some(&AccessToken::new("token")),
        Some(&IdempotencyKey::from_random_bytes([0; 16])),
    )
    .unwrap();
    String::from_utf8(request.body().head().to_vec()).unwrap()
}

/// `multipart_roundtrip` (input `00 00 28 61 6c 00 0b 55 e5 29 0a`): with no usable file name the
/// default name `<document type>.<extension>` went into `Content-Disposition` uncleaned, so a
/// document type holding a control character (here NUL) made part headers no multipart parser
/// accepts; a quote or CR LF in it could even add parameters or headers to the part.
#[test]
fn the_default_file_name_is_cleaned_like_a_given_one() {
    let nul = UploadFile::from_bytes(
        "(",
        "a",
        DocumentType::from("\0"),
        "",
        vec![0xFF, 0xD8, 0xFF, 0],
    );
    let head = part_head(&nul);
    assert!(
        head.contains("; filename=\"_.jpg\"\r\n"),
        "unexpected part head {head:?}"
    );

    let injecting = DocumentType::from("x\"; name=\"other\r\nX-Injected: 1");
    let upload = UploadFile::from_bytes("iss-1", "usr-1", injecting, "/", b"%PDF-1.7".to_vec());
    let head = part_head(&upload);
    let lines: Vec<&str> = head.split("\r\n").collect();
    // Boundary, Content-Disposition, Content-Type, then the blank line before the file bytes.
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(
        lines[1],
        "Content-Disposition: form-data; name=\"file\"; filename=\"x_; name=_other__X-Injected: 1.pdf\""
    );
    assert_eq!(lines[2], "Content-Type: application/pdf");
    assert!(lines[3].is_empty() && lines[4].is_empty());
}
