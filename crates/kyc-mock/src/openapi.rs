//! The OpenAPI description of the Identity API as this project understands it
//! (`docs/openapi.json`, embedded), served at `/openapi.json` beside the API, outside its route
//! table: never faulted, recorded or counted. A test holds it to the route table.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL};
use http::{HeaderValue, Method, Response, StatusCode};

use crate::http::{ApiError, HttpResponse, MockBody};

/// The OpenAPI 3.1 description of Pomelo's Identity API as kyc-rs understands it: every path,
/// parameter and member marked `documented`, `inferred` or this project's `choice` in
/// `x-kyc-basis`. The simulator serves it at `/openapi.json` and answers as it says; `kyc
/// openapi` prints it. The same bytes as the repository's `docs/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Where the simulator serves [`OPENAPI`].
pub(crate) const PATH: &str = "/openapi.json";

/// The answer to a request for [`PATH`]: the document to `GET` and `HEAD`, `405` otherwise.
pub(crate) fn serve(method: &Method) -> HttpResponse {
    if method != Method::GET && method != Method::HEAD {
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("use GET on {PATH}"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut response = Response::new(MockBody::full(Bytes::from_static(OPENAPI.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::config::Alternative;
    use crate::routes::TABLE;

    fn document() -> Value {
        serde_json::from_str(OPENAPI).unwrap()
    }

    /// `get_session` → `getSession`.
    fn camel(name: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in name.chars() {
            match c {
                '_' => upper = true,
                c if upper => {
                    out.extend(c.to_uppercase());
                    upper = false;
                }
                c => out.push(c),
            }
        }
        out
    }

    /// Every operation of the document: method (upper case), path and the operation object.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if ["get", "post", "put", "patch", "delete", "head", "options"]
                    .contains(&method.as_str())
                {
                    found.push((method.to_uppercase(), path.clone(), operation.clone()));
                }
            }
        }
        found
    }

    /// The parameters of an operation and of its path item, `$ref`s resolved.
    fn parameters(doc: &Value, path: &str, operation: &Value) -> Vec<Value> {
        let resolve = |p: &Value| match p["$ref"].as_str() {
            Some(r) => doc
                .pointer(r.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => p.clone(),
        };
        let own = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let shared = doc["paths"][path]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        shared.iter().chain(&own).map(resolve).collect()
    }

    #[test]
    fn every_route_is_an_operation_of_the_document_and_every_operation_a_route() {
        let doc = document();
        let documented: BTreeSet<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(method, path, _)| (method, path))
            .collect();
        let served: BTreeSet<(String, String)> = TABLE
            .iter()
            .map(|row| (row.method.to_owned(), row.path.to_owned()))
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn each_operation_says_what_its_row_checks() {
        let doc = document();
        for (method, path, operation) in operations(&doc) {
            let row = TABLE
                .iter()
                .find(|row| row.method == method && row.path == path)
                .unwrap();
            let what = format!("{method} {path}");
            assert_eq!(
                operation["operationId"].as_str(),
                Some(camel(row.name).as_str()),
                "{what}: the operation id is the route's name"
            );
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            assert_eq!(secured, row.rules.bearer, "{what}: bearer token");
            let params = parameters(&doc, &path, &operation);
            let query = params.iter().any(|p| p["in"] == "query");
            assert_eq!(query, row.rules.query, "{what}: query parameters");
            let multipart = operation["requestBody"]["content"]
                .get("multipart/form-data")
                .is_some();
            assert_eq!(multipart, row.rules.file_body, "{what}: a file body");
            // Path parameters: each `{name}` of the route is a required path parameter.
            let in_path: BTreeSet<&str> = row
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let declared: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path" && p["required"] == true)
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(declared, in_path, "{what}: path parameters");
            // A path an alternative moves names the alternative.
            if let Some((alternative, _)) = row.rules.moved {
                let basis = &operation["x-kyc-basis"]["alternative"];
                assert!(
                    basis
                        .as_str()
                        .is_some_and(|a| a.contains(alternative.name())),
                    "{what}: names {}",
                    alternative.name()
                );
            }
        }
        // Every alternative the document names is one the simulator plays.
        for (at, _) in OPENAPI.match_indices("\"alternative\": \"") {
            let rest = &OPENAPI[at + 16..];
            let value = &rest[..rest.find('"').unwrap()];
            for name in value.split(", ") {
                assert!(
                    Alternative::parse(name).is_some(),
                    "unknown alternative {name}"
                );
            }
        }
    }
}
