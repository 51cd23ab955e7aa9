//! The one JSON document a successful command prints on stdout.

use std::borrow::Cow;
use std::io::{IsTerminal as _, Write as _};

use serde::Serialize;

use crate::failure::Failure;

/// Prints `value` as pretty JSON and a newline on stdout, then flushes. A reader that stopped
/// reading (`kyc ... | head`) is not an error: the command did its work.
///
/// On a terminal, the characters a terminal acts on are written as `\u` escapes
/// ([`terminal_safe`]): the document decodes to the same value, and text a server sent (a reason,
/// an unknown member) cannot move the cursor, change colours or reorder what is shown. Piped or
/// redirected, the bytes are serde_json's, unchanged.
pub(crate) fn json(value: &impl Serialize) -> Result<(), Failure> {
    // Rendered whole first, so a value that cannot be serialised leaves stdout empty.
    let text = serde_json::to_string_pretty(value).map_err(|e| {
        Failure::io(
            "cannot render the result as JSON",
            &std::io::Error::other(e),
        )
    })?;
    let text = if std::io::stdout().is_terminal() {
        terminal_safe(&text)
    } else {
        Cow::Borrowed(text.as_str())
    };
    document(&text)
}

/// Prints `text`, a JSON document as it is (its bytes and their order kept), and a newline on
/// stdout, then flushes; a reader that stopped reading is not an error.
pub(crate) fn document(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{}", text.trim_end()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::io("cannot write the result to stdout", &e))
        }
        _ => Ok(()),
    }
}

/// `json` (a document serde_json wrote) with every character [`escaped_on_terminals`] written as
/// a `\uXXXX` escape. Still JSON, decoding to the same value: outside strings serde_json writes
/// only ASCII punctuation, digits, letters, spaces and newlines, so these characters can only
/// stand inside a string, where `\u` spells them (all are in the Basic Multilingual Plane).
pub(crate) fn terminal_safe(json: &str) -> Cow<'_, str> {
    if !json.chars().any(escaped_on_terminals) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped_on_terminals(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters a terminal acts on instead of showing, which serde_json leaves as they are: DEL
/// and the C1 controls (U+007F–U+009F; U+009B is a one-character CSI), the bidirectional marks,
/// embeddings, overrides and isolates that reorder what is shown (U+061C, U+200E–U+200F,
/// U+202A–U+202E, U+2066–U+2069), and the line and paragraph separators (U+2028–U+2029). The C0
/// controls are not listed: serde_json escapes them inside strings, and outside strings its
/// newlines are the layout.
pub(crate) fn escaped_on_terminals(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}'
            | '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    // A panic in a test is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn c1_controls_and_bidi_overrides_become_escapes_and_the_json_means_the_same() {
        let value = serde_json::json!({
            "reason": "ok\u{9b}31m\u{85}\u{7f}",
            "name": "abc\u{202e}fed\u{2066}\u{2069}\u{200f}\u{61c}",
            "bell\u{7}": "\u{1b}[2J",
            "plain": "São Paulo — ñ 日本",
        });
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = terminal_safe(&text);
        for c in [
            '\u{9b}', '\u{85}', '\u{7f}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200f}',
            '\u{61c}', '\u{7}', '\u{1b}',
        ] {
            assert!(!safe.contains(c), "{c:?} left in {safe}");
        }
        assert!(safe.contains(r"ok\u009b31m\u0085\u007f"), "{safe}");
        assert!(
            safe.contains(r"abc\u202efed\u2066\u2069\u200f\u061c"),
            "{safe}"
        );
        assert!(
            safe.contains("São Paulo — ñ 日本"),
            "printable text kept as is"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn a_document_with_nothing_to_escape_is_not_copied() {
        let text = serde_json::to_string_pretty(&serde_json::json!({"a": "b"})).unwrap();
        assert!(matches!(terminal_safe(&text), Cow::Borrowed(_)));
    }
}
