//! A strict `multipart/form-data` reader for the upload endpoint: exactly one part, named `file`,
//! with a file name and its own `Content-Type` (reference decision 3).

/// Longest part-header block accepted.
const MAX_PART_HEADERS: usize = 16 * 1024;

/// The single file part of an upload body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FilePart<'a> {
    pub(crate) file_name: String,
    /// The part's media type, lower-case, without parameters.
    pub(crate) content_type: String,
    pub(crate) data: &'a [u8],
}

/// Splits a header value like `type/subtype; a=b; c="d"` into its lower-case essence and parameters
/// (names lower-case, values unquoted).
pub(crate) fn parse_header_params(value: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut rest = value;
    let first_end = rest.find(';').unwrap_or(rest.len());
    let essence = rest
        .get(..first_end)
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    rest = rest.get(first_end..).unwrap_or_default();
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start();
        let Some(after_semicolon) = rest.strip_prefix(';') else {
            if rest.is_empty() {
                break;
            }
            return Err(format!("unexpected text `{rest}` in a header value"));
        };
        rest = after_semicolon.trim_start();
        if rest.is_empty() {
            break;
        }
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("parameter without `=` in `{value}`"))?;
        let name = rest
            .get(..eq)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("bad parameter name in `{value}`"));
        }
        rest = rest.get(eq + 1..).unwrap_or_default().trim_start();
        let (param_value, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped)) => out.push(escaped),
                        None => break,
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => out.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated quoted string in `{value}`"))?;
            (out, quoted.get(end + 1..).unwrap_or_default())
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            let token = rest.get(..end).unwrap_or_default().trim();
            if token.is_empty() {
                return Err(format!("empty parameter value in `{value}`"));
            }
            (token.to_owned(), rest.get(end..).unwrap_or_default())
        };
        if params.iter().any(|(n, _)| *n == name) {
            return Err(format!("parameter `{name}` given twice"));
        }
        params.push((name, param_value));
        rest = after;
    }
    Ok((essence, params))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The boundary of a `multipart/form-data` request `Content-Type`.
pub(crate) fn boundary(content_type: &str) -> Result<String, String> {
    let (essence, params) = parse_header_params(content_type)?;
    if essence != "multipart/form-data" {
        return Err(format!("expected multipart/form-data, got `{essence}`"));
    }
    let boundary = params
        .into_iter()
        .find(|(n, _)| n == "boundary")
        .map(|(_, v)| v)
        .ok_or_else(|| "multipart/form-data without a boundary".to_owned())?;
    let valid_chars = boundary
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b));
    if boundary.is_empty() || boundary.len() > 70 || !valid_chars || boundary.ends_with(' ') {
        return Err("invalid multipart boundary".to_owned());
    }
    Ok(boundary)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let last_start = haystack.len().checked_sub(needle.len())?;
    (0..=last_start).find(|&i| {
        haystack.get(i) == Some(&first) && haystack.get(i..i + needle.len()) == Some(needle)
    })
}

/// Reads a body that must hold exactly one part named `file` with a file name and a content type.
pub(crate) fn parse_single_file<'a>(
    body: &'a [u8],
    boundary: &str,
) -> Result<FilePart<'a>, String> {
    let delimiter = format!("--{boundary}");
    let rest = body
        .strip_prefix(delimiter.as_bytes())
        .ok_or("the body does not start with the boundary delimiter")?;
    if rest.starts_with(b"--") {
        return Err("the body has no part".to_owned());
    }
    let rest = rest
        .strip_prefix(b"\r\n")
        .ok_or("the boundary delimiter is not followed by CRLF")?;
    let search_limit = rest.len().min(MAX_PART_HEADERS + 4);
    let headers_end = find(rest.get(..search_limit).unwrap_or(rest), b"\r\n\r\n")
        .ok_or("the part headers do not end with an empty line (or are too long)")?;
    let header_block = rest.get(..headers_end).unwrap_or_default();
    let after_headers = rest.get(headers_end + 4..).unwrap_or_default();

    let header_text =
        std::str::from_utf8(header_block).map_err(|_| "part headers are not UTF-8".to_owned())?;
    let mut disposition = None;
    let mut content_type = None;
    for line in header_text.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed part header line `{line}`"))?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("malformed part header name `{name}`"));
        }
        let slot = if name.eq_ignore_ascii_case("content-disposition") {
            &mut disposition
        } else if name.eq_ignore_ascii_case("content-type") {
            &mut content_type
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(format!("part header `{name}` given twice"));
        }
        *slot = Some(value.trim());
    }

    let disposition = disposition.ok_or("the part has no Content-Disposition")?;
    let (kind, params) = parse_header_params(disposition)?;
    if kind != "form-data" {
        return Err(format!(
            "Content-Disposition must be form-data, got `{kind}`"
        ));
    }
    let param = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    match param("name") {
        Some("file") => {}
        Some(other) => return Err(format!("the part is named `{other}`, expected `file`")),
        None => return Err("the part has no name".to_owned()),
    }
    let file_name = match param("filename") {
        Some(f) if !f.trim().is_empty() => f.to_owned(),
        _ => return Err("the part has no filename".to_owned()),
    };
    let content_type = content_type.ok_or("the part has no Content-Type")?;
    let (content_type, _) = parse_header_params(content_type)?;

    let mut closing = Vec::with_capacity(delimiter.len() + 2);
    closing.extend_from_slice(b"\r\n");
    closing.extend_from_slice(delimiter.as_bytes());
    let data_end = find(after_headers, &closing).ok_or("no closing boundary delimiter")?;
    let data = after_headers.get(..data_end).unwrap_or_default();
    let tail = after_headers
        .get(data_end + closing.len()..)
        .unwrap_or_default();
    if tail.starts_with(b"\r\n") {
        return Err("more than one part: exactly one part named `file` is expected".to_owned());
    }
    match tail {
        b"--" | b"--\r\n" => Ok(FilePart {
            file_name,
            content_type,
            data,
        }),
        _ => Err("malformed closing boundary delimiter".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[&[u8]], close: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            out.extend_from_slice(p);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(close);
        out
    }

    const GOOD: &[u8] = b"Content-Disposition: form-data; name=\"file\"; filename=\"a b.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n--not-the-boundary";

    #[test]
    fn reads_one_file_part() {
        let b = body(&[GOOD], b"--XyZ--\r\n");
        let part = parse_single_file(&b, "XyZ").unwrap();
        assert_eq!(part.file_name, "a b.png");
        assert_eq!(part.content_type, "image/png");
        assert_eq!(part.data, b"\x89PNG\r\n\x1a\n--not-the-boundary");
        let b = body(&[GOOD], b"--XyZ--");
        assert!(parse_single_file(&b, "XyZ").is_ok());
    }

    #[test]
    fn refuses_malformed_bodies() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (body(&[GOOD, GOOD], b"--XyZ--\r\n"), "more than one part"),
            (body(&[GOOD], b""), "no closing"),
            (body(&[GOOD], b"--XyZ-"), "malformed closing"),
            (body(&[GOOD], b"--XyZ--\r\nepilogue"), "malformed closing"),
            (b"--XyZ--\r\n".to_vec(), "no part"),
            (b"preamble\r\n--XyZ\r\n".to_vec(), "does not start"),
            (b"--XyZ\nContent-Type: a/b\r\n\r\nx\r\n--XyZ--".to_vec(), "CRLF"),
            (
                body(&[b"Content-Disposition: form-data; name=\"doc\"; filename=\"a\"\r\nContent-Type: image/png\r\n\r\nx"], b"--XyZ--"),
                "named `doc`",
            ),
            (
                body(&[b"Content-Disposition: form-data; name=\"file\"\r\nContent-Type: image/png\r\n\r\nx"], b"--XyZ--"),
                "no filename",
            ),
            (
                body(&[b"Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nx"], b"--XyZ--"),
                "no Content-Type",
            ),
            (
                body(&[b"Content-Type: image/png\r\n\r\nx"], b"--XyZ--"),
                "no Content-Disposition",
            ),
            (
                body(&[b"Content-Disposition: attachment; name=\"file\"; filename=\"a\"\r\nContent-Type: image/png\r\n\r\nx"], b"--XyZ--"),
                "form-data",
            ),
            (
                body(&[b"Content-Disposition: form-data; name=\"file; filename=\"a\r\nContent-Type: image/png\r\n\r\nx"], b"--XyZ--"),
                "",
            ),
            (body(&[b"\xff\xfe: x\r\n\r\nx"], b"--XyZ--"), "UTF-8"),
            (b"--XyZ\r\nno end of headers".to_vec(), "empty line"),
        ];
        for (b, expected) in cases {
            let err = parse_single_file(&b, "XyZ").unwrap_err();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }

    #[test]
    fn reads_boundaries_from_content_types() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").unwrap(),
            "abc"
        );
        assert_eq!(
            boundary("Multipart/Form-Data;boundary=\"a b:c\"").unwrap(),
            "a b:c"
        );
        for bad in [
            "multipart/form-data",
            "multipart/mixed; boundary=abc",
            "application/json",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"abc",
            "multipart/form-data; boundary=abc; boundary=def",
            &format!("multipart/form-data; boundary={}", "a".repeat(71)),
        ] {
            assert!(boundary(bad).is_err(), "{bad}");
        }
    }
}
