//! Every response parser on an arbitrary status, arbitrary headers and an arbitrary body: never a
//! panic, and a non-2xx status is always an API error.
//!
//! Input layout (so seeds are easy to write by hand: `scripts/fuzz.sh` makes them from the
//! fixtures in `crates/kyc-core/tests/data/responses`):
//!
//! - 2 bytes: the status, big-endian; a value `http::StatusCode` refuses is folded into 100..=999;
//! - 1 byte: the number of headers, modulo 5; each header is a length byte and that many bytes of
//!   name, then a length byte and that many bytes of value (pairs `http` refuses are skipped);
//! - the rest: the body.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Unstructured;
use http::{HeaderName, HeaderValue, StatusCode};
use kyc_core::{Config, Environment, Pager, PagerStep, 
    CancelSession, CleanValidations, CreateSession, Error, GetReport, GetSession, RequestToken,
    SearchSessions, UploadFile, parse_response,
};
use libfuzzer_sys::fuzz_target;

fn response(data: &[u8]) -> arbitrary::Result<http::Response<Vec<u8>>> {
    let mut u = Unstructured::new(data);
    let raw_status = u16::from_be_bytes([u.arbitrary()?, u.arbitrary()?]);
    let status = StatusCode::from_u16(raw_status)
        .or_else(|_| StatusCode::from_u16(100 + raw_status % 900))
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = status;
    let count = u.arbitrary::<u8>()? % 5;
    for _ in 0..count {
        let name_len = usize::from(u.arbitrary::<u8>()?);
        let name = u.bytes(name_len)?;
        let value_len = usize::from(u.arbitrary::<u8>()?);
        let value = u.bytes(value_len)?;
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    *response.body_mut() = u.take_rest().to_vec();
    Ok(response)
}

/// A non-2xx status must become `Error::Api` carrying that status, whatever the body says.
fn check<T>(result: &Result<T, Error>, status: StatusCode) {
    if !status.is_success() {
        match result {
            Err(Error::Api(api)) => assert_eq!(api.status, status),
            Err(other) => panic!("non-2xx {status} gave {other:?}"),
            Ok(_) => panic!("non-2xx {status} parsed as a success"),
        }
    } else if let Err(e) = result {
        assert!(
            matches!(e, Error::Decode(d) if d.status == status),
            "a 2xx can only fail to decode, got {e:?}"
        );
        // Every error renders without panicking (Display walks the error body).
        let _ = e.to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(response) = response(data) else {
        return;
    };
    let status = response.status();

    check(&parse_response::<CreateSession, _>(&response), status);
    check(&parse_response::<GetSession, _>(&response), status);
    check(&parse_response::<CancelSession, _>(&response), status);
    let report = parse_response::<GetReport, _>(&response);
    check(&report, status);
    if let Ok(report) = &report {
        // The KYB members' lazy readers never panic, and a report always writes back as JSON.
        let _ = format!("{report:?}");
        if let Some(company) = &report.company_data {
            let _ = company.registration_date.as_ref().map(|d| d.date());
            let _ = company.id_fiscal.as_ref().map(ToString::to_string);
        }
        for partner in &report.partners {
            if let Some(document) = &partner.document_data {
                let _ = document.date_of_issue.as_ref().map(|d| d.date());
                let _ = document.date_of_expiry.as_ref().map(|d| d.date());
            }
        }
        for request in &report.documentation_request {
            let _ = request.request_date.as_ref().map(|t| t.instant());
        }
        assert!(serde_json::to_vec(report).is_ok(), "a parsed report must serialise");
    }
    check(&parse_response::<UploadFile, _>(&response), status);
    check(&parse_response::<CleanValidations, _>(&response), status);

    let page = parse_response::<SearchSessions, _>(&response);
    check(&page, status);
    if let Ok(page) = &page {
        let searches = [
            SearchSessions::new(),
            SearchSessions::new().page_size(1),
            SearchSessions::new()
                .page_size(u32::MAX)
                .page_number(u32::MAX),
        ];
        let config = Config::new(Environment::Sandbox).unwrap();
        for search in searches {
            let mut pager = Pager::new(&config, search);
            if let PagerStep::Fetch(_) = pager.next_step() {
                let fresh = pager.receive(page.clone());
                assert!(fresh.len() <= page.sessions.len());
                if let PagerStep::Fetch(next) = pager.next_step() {
                    assert!(!page.sessions.is_empty(), "an empty page has no next page");
                    assert!(next.page().is_some(), "a next page is asked for by number");
                }
            }
        }
    }

    let grant = parse_response::<RequestToken<'_>, _>(&response);
    check(&grant, status);
    if let Ok(grant) = &grant {
        for now in [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2),
        ] {
            let _ = grant.expires_at(now);
        }
    }
});
