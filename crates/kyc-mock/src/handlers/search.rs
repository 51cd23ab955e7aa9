//! `GET /identity/v1/sessions` with `filter[...]`, `page[size]`, `page[number]` (0-based) and `sort`.

use std::cmp::Ordering;
use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use url::form_urlencoded;

use super::request::Call;
use crate::clock::{day_number, parse_date};
use crate::config::Alternative;
use crate::http::{ApiError, HandlerResult, json};
use crate::session::{COUNTRIES, FLOW_TYPES, Session, Status};
use crate::state::Shared;

const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;
/// The largest page number: 2^53 - 1, the largest integer every JSON reader keeps exactly (the
/// answer's `current_page` repeats it). Documented in docs/openapi.json.
const MAX_PAGE_NUMBER: u64 = (1 << 53) - 1;

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortKey {
    CreatedAt,
    UpdatedAt,
    Status,
    UserId,
}

impl SortKey {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            "status" => Some(Self::Status),
            "user_id" => Some(Self::UserId),
            _ => None,
        }
    }

    fn compare(self, a: &Session, b: &Session) -> Ordering {
        match self {
            Self::CreatedAt => (a.created_at, a.seq).cmp(&(b.created_at, b.seq)),
            Self::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            Self::Status => a.status.as_str().cmp(b.status.as_str()),
            Self::UserId => a.subject.id().cmp(b.subject.id()),
        }
    }
}

#[derive(Default)]
struct Query {
    statuses: Option<Vec<Status>>,
    user_ids: Option<Vec<String>>,
    countries: Option<Vec<String>>,
    flow_types: Option<Vec<String>>,
    from_day: Option<i64>,
    to_day: Option<i64>,
    page_size: Option<usize>,
    page_number: Option<usize>,
    sort: Option<Vec<(SortKey, bool)>>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_parameter", detail)
}

/// Comma-separated values, each non-empty and (when `allowed` is given) known.
fn list(name: &str, value: &str, allowed: Option<&[&str]>) -> Result<Vec<String>, ApiError> {
    value
        .split(',')
        .map(|v| {
            if v.is_empty() {
                return Err(invalid(format!("`{name}` has an empty value")));
            }
            match allowed {
                Some(allowed) if !allowed.contains(&v) => Err(invalid(format!(
                    "`{name}` value `{v}` is not one of {}",
                    allowed.join(", ")
                ))),
                _ => Ok(v.to_owned()),
            }
        })
        .collect()
}

fn number(name: &str, value: &str) -> Result<usize, ApiError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "`{name}` must be a non-negative integer, got `{value}`"
        )));
    }
    value
        .parse()
        .map_err(|_| invalid(format!("`{name}` is too large")))
}

fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
    let mut q = Query::default();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if seen.contains(&name.to_string()) {
            return Err(invalid(format!("`{name}` is given more than once")));
        }
        seen.push(name.to_string());
        let value = value.as_ref();
        let date = |v: &str| {
            parse_date(v)
                .ok_or_else(|| invalid(format!("`{name}` must be a YYYY-MM-DD date, got `{v}`")))
        };
        match name.as_ref() {
            "filter[status]" => {
                let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                let values = list(&name, value, Some(&names))?;
                q.statuses = Some(values.iter().filter_map(|v| Status::parse(v)).collect());
            }
            "filter[user_id]" => q.user_ids = Some(list(&name, value, None)?),
            "filter[country]" => q.countries = Some(list(&name, value, Some(&COUNTRIES))?),
            "filter[flow_type]" => q.flow_types = Some(list(&name, value, Some(&FLOW_TYPES))?),
            "filter[created_at][from]" => q.from_day = Some(date(value)?),
            "filter[created_at][to]" => q.to_day = Some(date(value)?),
            "page[size]" => {
                let size = number(&name, value)?;
                if !(1..=MAX_PAGE_SIZE).contains(&size) {
                    return Err(invalid(format!(
                        "`page[size]` must be 1 to {MAX_PAGE_SIZE}"
                    )));
                }
                q.page_size = Some(size);
            }
            "page[number]" => {
                let page = number(&name, value)?;
                if u64::try_from(page).map_or(true, |p| p > MAX_PAGE_NUMBER) {
                    return Err(invalid(format!(
                        "`page[number]` must be at most {MAX_PAGE_NUMBER}"
                    )));
                }
                q.page_number = Some(page);
            }
            "sort" => {
                let mut keys: Vec<(SortKey, bool)> = Vec::new();
                for part in value.split(',') {
                    let (field, descending) = match part.strip_prefix('-') {
                        Some(f) => (f, true),
                        None => (part, false),
                    };
                    let key = SortKey::parse(field).ok_or_else(|| {
                        invalid(format!(
                            "cannot sort by `{field}`; use created_at, updated_at, status or user_id"
                        ))
                    })?;
                    if keys.iter().any(|(k, _)| *k == key) {
                        return Err(invalid(format!("`sort` names `{field}` twice")));
                    }
                    keys.push((key, descending));
                }
                q.sort = Some(keys);
            }
            other => return Err(invalid(format!("unknown query parameter `{other}`"))),
        }
    }
    Ok(q)
}

fn matches(q: &Query, s: &Session) -> bool {
    let day = day_number(s.created_at);
    q.statuses.as_ref().is_none_or(|v| v.contains(&s.status))
        && q.user_ids
            .as_ref()
            .is_none_or(|v| v.iter().any(|u| u == s.subject.id()))
        && q.countries.as_ref().is_none_or(|v| v.contains(&s.country))
        && q.flow_types
            .as_ref()
            .is_none_or(|v| v.contains(&s.flow_type))
        && q.from_day.is_none_or(|from| day >= from)
        && q.to_day.is_none_or(|to| day <= to)
}

/// `GET /identity/v1/sessions`.
pub(crate) fn search(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    let q = parse(call.parts.uri.query())?;
    let sort = q
        .sort
        .clone()
        .unwrap_or_else(|| vec![(SortKey::CreatedAt, true)]);
    let page_size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    let config = &shared.config;
    // The alternatives of docs/wire-conventions.md: where the first page is, whether
    // `page[number]` is honoured, and what the metadata says.
    let base = usize::from(config.plays(Alternative::OneBasedPages));
    let page_number = q.page_number.unwrap_or(base).max(base);
    let index = if config.plays(Alternative::IgnoresPageNumber) {
        0
    } else {
        page_number - base
    };
    let current_page = if config.plays(Alternative::StuckCurrentPage) {
        0
    } else if config.plays(Alternative::IgnoresPageNumber) {
        base
    } else {
        page_number
    };

    let now = shared.clock.now();
    let mut state = shared.lock();
    for session in state.sessions.values_mut() {
        session.refresh(now);
    }
    let mut found: Vec<&Session> = state.sessions.values().filter(|s| matches(&q, s)).collect();
    let tie_descending = sort.first().is_some_and(|(_, d)| *d);
    found.sort_by(|a, b| {
        sort.iter()
            .map(|(key, descending)| {
                let o = key.compare(a, b);
                if *descending { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| {
                let o = a.seq.cmp(&b.seq);
                if tie_descending { o.reverse() } else { o }
            })
    });
    let total_items = found.len();
    let total_pages = total_items.div_ceil(page_size);
    let page: Vec<&Session> = found
        .into_iter()
        .skip(index.saturating_mul(page_size))
        .take(page_size)
        .collect();
    // Members in the order of their names, as everywhere the simulator writes JSON.
    #[derive(Serialize)]
    struct Page<'a> {
        data: Vec<&'a Session>,
        meta: Value,
    }
    Ok(json(
        StatusCode::OK,
        &Page {
            data: page,
            meta: json!({
                "pagination": {
                    "total_pages": total_pages,
                    "current_page": current_page,
                    "page_size": page_size,
                    "total_items": total_items,
                },
                "filters": [],
            }),
        },
    ))
}
