//! Search sessions (decision 4): `filter[...]`, `page[size]`, `page[number]` and `sort`, and the
//! request for the next page derived from a response.

use std::fmt;

use http::header::HeaderValue;
use http::{HeaderMap, Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::body::Body;
use crate::config::Config;
use crate::endpoint::{self, Endpoint, IdempotencyKey};
use crate::enums::SessionStatus;
use crate::error::{Error, InvalidInput};
use crate::model::{Pagination, Session, SessionPage};

/// Bytes kept literal in a query value: unreserved characters. `,` is encoded inside a value so
/// that the literal `,` between list items stays unambiguous.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A calendar date, `YYYY-MM-DD`, as the `created_at` filters take it: a [`jiff::civil::Date`]
/// from year 1 to 9999.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(jiff::civil::Date);

impl Date {
    fn invalid() -> InvalidInput {
        InvalidInput::InvalidSearch {
            what: "a date must exist and be written YYYY-MM-DD",
        }
    }

    /// A checked date.
    ///
    /// # Errors
    ///
    /// [`InvalidInput::InvalidSearch`] when the date does not exist (month 13, 30 February…) or
    /// its year is not from 1 to 9999.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, InvalidInput> {
        let year = i16::try_from(year).map_err(|_| Self::invalid())?;
        let month = i8::try_from(month).map_err(|_| Self::invalid())?;
        let day = i8::try_from(day).map_err(|_| Self::invalid())?;
        let date = jiff::civil::Date::new(year, month, day).map_err(|_| Self::invalid())?;
        Self::from_civil(date)
    }

    /// `date`, checked to be within years 1 to 9999 (what `YYYY-MM-DD` can write).
    ///
    /// # Errors
    ///
    /// [`InvalidInput::InvalidSearch`] for a year outside 1 to 9999.
    pub fn from_civil(date: jiff::civil::Date) -> Result<Self, InvalidInput> {
        if (1..=9999).contains(&date.year()) {
            Ok(Self(date))
        } else {
            Err(Self::invalid())
        }
    }

    /// Parses `YYYY-MM-DD` (exactly: ten characters, no time, no sign).
    ///
    /// # Errors
    ///
    /// [`InvalidInput::InvalidSearch`] for any other text or a date that does not exist.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let b = text.as_bytes();
        let shaped = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !shaped {
            return Err(Self::invalid());
        }
        let date = text
            .parse::<jiff::civil::Date>()
            .map_err(|_| Self::invalid())?;
        Self::from_civil(date)
    }

    /// The date as jiff's civil date.
    #[must_use]
    pub fn civil(self) -> jiff::civil::Date {
        self.0
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

/// One sort key: a field, ascending or descending (`-field` on the wire).
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct Sort {
    /// The field name.
    pub field: String,
    /// Whether the order is descending.
    pub descending: bool,
}

impl Sort {
    /// Ascending by `field`.
    pub fn asc(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            descending: false,
        }
    }

    /// Descending by `field`.
    pub fn desc(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            descending: true,
        }
    }

    /// Reads `field` or `-field`.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        match text.strip_prefix('-') {
            Some(field) => Self::desc(field),
            None => Self::asc(text),
        }
    }
}

impl fmt::Display for Sort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.descending {
            f.write_str("-")?;
        }
        f.write_str(&self.field)
    }
}

/// `GET /identity/v1/sessions` with filters, sorting and paging (path configurable).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[must_use]
pub struct SearchSessions {
    statuses: Vec<SessionStatus>,
    user_id: Option<String>,
    created_from: Option<Date>,
    created_to: Option<Date>,
    filters: Vec<(String, String)>,
    sort: Vec<Sort>,
    page_size: Option<u32>,
    page_number: Option<u32>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Turns a custom filter field (`country`, or `created_at[from]`) into its query key
/// (`filter[country]`, `filter[created_at][from]`).
fn filter_key(field: &str) -> Result<String, InvalidInput> {
    let bad = InvalidInput::InvalidSearch {
        what: "a filter field is letters, digits, _ . - with optional [sub] keys",
    };
    let (name, mut rest) = match field.find('[') {
        Some(i) => (
            field.get(..i).unwrap_or_default(),
            field.get(i..).unwrap_or_default(),
        ),
        None => (field, ""),
    };
    if name.is_empty() || !name.chars().all(is_name_char) {
        return Err(bad);
    }
    let mut key = format!("filter[{name}]");
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or(bad.clone())?;
        let end = inner.find(']').ok_or(bad.clone())?;
        let sub = inner.get(..end).unwrap_or_default();
        if sub.is_empty() || !sub.chars().all(is_name_char) {
            return Err(bad);
        }
        key.push_str(&format!("[{sub}]"));
        rest = inner.get(end + 1..).unwrap_or_default();
    }
    Ok(key)
}

impl SearchSessions {
    /// A search with no filter: every session, first page, server's default order.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps sessions with this status (call again for several: they are OR-ed).
    pub fn status(mut self, status: SessionStatus) -> Self {
        self.statuses.push(status);
        self
    }

    /// Keeps the sessions of one user.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Keeps sessions created on or after `date`.
    pub fn created_from(mut self, date: Date) -> Self {
        self.created_from = Some(date);
        self
    }

    /// Keeps sessions created on or before `date`.
    pub fn created_to(mut self, date: Date) -> Self {
        self.created_to = Some(date);
        self
    }

    /// Any other filter: `field` becomes `filter[field]` (`a[b]` becomes `filter[a][b]`).
    pub fn filter(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.push((field.into(), value.into()));
        self
    }

    /// Adds a sort key (the first added sorts first).
    pub fn sort(mut self, sort: Sort) -> Self {
        self.sort.push(sort);
        self
    }

    /// Sets `page[size]` (at least 1).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Sets `page[number]` (0-based).
    pub fn page_number(mut self, number: u32) -> Self {
        self.page_number = Some(number);
        self
    }

    /// The `page[number]` this search sends, if it sends one.
    #[must_use]
    pub fn page(&self) -> Option<u32> {
        self.page_number
    }

    /// The `page[size]` this search sends, if it sends one.
    #[must_use]
    pub fn size(&self) -> Option<u32> {
        self.page_size
    }

    /// The query parameters in the order they are sent, decoded.
    ///
    /// # Errors
    ///
    /// [`InvalidInput::InvalidSearch`] for a malformed field, a status or value that cannot be
    /// sent, a repeated filter, a page size of 0 or a `from` date after the `to` date.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>, InvalidInput> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if !self.statuses.is_empty() {
            if self
                .statuses
                .iter()
                .any(|s| s.as_str().is_empty() || s.as_str().contains(','))
            {
                return Err(InvalidInput::InvalidSearch {
                    what: "a status must be non-empty and contain no comma",
                });
            }
            let list: Vec<&str> = self.statuses.iter().map(SessionStatus::as_str).collect();
            pairs.push(("filter[status]".into(), list.join(",")));
        }
        if let Some(user_id) = &self.user_id {
            pairs.push(("filter[user_id]".into(), user_id.clone()));
        }
        if let (Some(from), Some(to)) = (self.created_from, self.created_to) {
            if from > to {
                return Err(InvalidInput::InvalidSearch {
                    what: "created_at from is after created_at to",
                });
            }
        }
        if let Some(from) = self.created_from {
            pairs.push(("filter[created_at][from]".into(), from.to_string()));
        }
        if let Some(to) = self.created_to {
            pairs.push(("filter[created_at][to]".into(), to.to_string()));
        }
        for (field, value) in &self.filters {
            pairs.push((filter_key(field)?, value.clone()));
        }
        if !self.sort.is_empty() {
            if self.sort.iter().any(|s| {
                s.field.is_empty() || s.field.starts_with('-') || !s.field.chars().all(is_name_char)
            }) {
                return Err(InvalidInput::InvalidSearch {
                    what: "a sort field is letters, digits, _ . -",
                });
            }
            let list: Vec<String> = self.sort.iter().map(Sort::to_string).collect();
            pairs.push(("sort".into(), list.join(",")));
        }
        if let Some(size) = self.page_size {
            if size == 0 {
                return Err(InvalidInput::InvalidSearch {
                    what: "page size must be at least 1",
                });
            }
            pairs.push(("page[size]".into(), size.to_string()));
        }
        if let Some(number) = self.page_number {
            pairs.push(("page[number]".into(), number.to_string()));
        }
        let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(InvalidInput::InvalidSearch {
                what: "a filter is given twice",
            });
        }
        Ok(pairs)
    }
}

impl Endpoint for SearchSessions {
    type Output = SessionPage;
    type Body = Body;
    const METHOD: Method = Method::GET;

    fn path_and_query(&self, config: &Config) -> Result<String, InvalidInput> {
        let mut out = config.paths().search_sessions.clone();
        for (i, (key, value)) in self.query_pairs()?.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(key);
            out.push('=');
            if key == "filter[status]" || key == "sort" {
                // Lists: each item encoded, the separating commas literal.
                let items: Vec<String> = value
                    .split(',')
                    .map(|v| utf8_percent_encode(v, VALUE).to_string())
                    .collect();
                out.push_str(&items.join(","));
            } else {
                out.push_str(&utf8_percent_encode(value, VALUE).to_string());
            }
        }
        Ok(out)
    }

    fn body(
        &self,
        _: &Config,
        _: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
        Ok((None, Body::empty()))
    }

    fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<SessionPage, Error> {
        #[derive(Deserialize)]
        struct Wire {
            /// Required: a search answers with a list (an explicit `null` reads as none).
            #[serde(deserialize_with = "crate::model::list")]
            data: Vec<Session>,
            #[serde(default)]
            meta: Option<Meta>,
        }
        #[derive(Deserialize)]
        struct Meta {
            #[serde(default)]
            pagination: Option<Pagination>,
        }
        let wire: Wire = endpoint::decode_json(status, headers, body)?;
        Ok(SessionPage {
            sessions: wire.data,
            pagination: wire.meta.and_then(|m| m.pagination),
        })
    }
}
