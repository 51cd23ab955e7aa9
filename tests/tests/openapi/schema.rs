//! The subset of JSON Schema (2020-12, as OpenAPI 3.1 uses it) that docs/openapi.json uses,
//! checked here without a validator crate (`jsonschema` would bring a regex engine and an HTTP
//! client for remote references). A keyword it does not know fails the check, so the document
//! cannot start using one that this code would silently ignore; the document's few `pattern`s are
//! spelled out as Rust below, and a new one fails until it is.
//!
//! Strict mode, for the simulator's answers: an object described by `properties` may hold no
//! other member (the document leaves answers open to members Pomelo may add; the simulator must
//! not send undocumented ones), and the catch-all branch of an open set (decision 7) is not
//! taken, so that every value the simulator sends is one the document lists.

use std::str::FromStr as _;

use serde_json::{Map, Value};

/// Keywords that describe without constraining.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "example",
    "examples",
    "default",
    "title",
    "contentMediaType",
    "format",
];

pub(crate) struct Validator<'a> {
    doc: &'a Value,
    strict: bool,
}

impl<'a> Validator<'a> {
    /// Checks requests: objects may hold members their schema does not name unless it says
    /// `additionalProperties: false`.
    pub(crate) fn lenient(doc: &'a Value) -> Self {
        Self { doc, strict: false }
    }

    /// Checks the simulator's answers (see the module's documentation).
    pub(crate) fn strict(doc: &'a Value) -> Self {
        Self { doc, strict: true }
    }

    /// Every way `value` breaks `schema`, each with the JSON path it was found at.
    pub(crate) fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        errors
    }

    /// The schema a `$ref` names, or `schema` itself.
    pub(crate) fn resolve<'s>(&self, schema: &'s Value) -> &'s Value
    where
        'a: 's,
    {
        let mut schema = schema;
        for _ in 0..16 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(reference) => schema = self.target(reference),
                None => break,
            }
        }
        schema
    }

    fn target(&self, reference: &str) -> &'a Value {
        self.doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling reference {reference}"))
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        if schema == &Value::Bool(true) {
            return;
        }
        let Some(schema) = schema.as_object() else {
            errors.push(format!("{at}: schema {schema} is not an object"));
            return;
        };
        for (keyword, argument) in schema {
            if keyword.starts_with("x-") || ANNOTATIONS.contains(&keyword.as_str()) {
                if keyword == "format" {
                    self.format(argument, value, at, errors);
                }
                continue;
            }
            match keyword.as_str() {
                "$ref" => {
                    let target = self.target(argument.as_str().unwrap_or_default());
                    self.check(target, value, at, errors);
                }
                "type" => {
                    let types: Vec<&str> = match argument {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    if !types.iter().any(|t| is_type(value, t)) {
                        errors.push(format!("{at}: {value} is not of type {argument}"));
                    }
                }
                "enum" => {
                    if !argument.as_array().is_some_and(|a| a.contains(value)) {
                        errors.push(format!("{at}: {value} is not one of {argument}"));
                    }
                }
                "const" => {
                    if argument != value {
                        errors.push(format!("{at}: {value} is not {argument}"));
                    }
                }
                "properties"
                | "required"
                | "additionalProperties"
                | "minProperties"
                | "maxProperties" => {
                    if let Some(object) = value.as_object() {
                        self.object_keyword(schema, keyword, argument, object, at, errors);
                    }
                }
                "items" | "minItems" | "maxItems" | "uniqueItems" => {
                    if let Some(items) = value.as_array() {
                        array_keyword(self, keyword, argument, items, at, errors);
                    }
                }
                "minLength" | "maxLength" | "pattern" => {
                    if let Some(text) = value.as_str() {
                        string_keyword(keyword, argument, text, at, errors);
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(n), Some(bound)) = (value.as_f64(), argument.as_f64()) {
                        let fits = if keyword == "minimum" {
                            n >= bound
                        } else {
                            n <= bound
                        };
                        if !fits {
                            errors.push(format!("{at}: {value} breaks {keyword} {argument}"));
                        }
                    }
                }
                "allOf" => {
                    for branch in argument.as_array().into_iter().flatten() {
                        // The strict check of members is made once, over every branch's.
                        Validator::lenient(self.doc).check(branch, value, at, errors);
                    }
                    if self.strict {
                        self.no_other_members(schema, value, at, errors);
                    }
                }
                "anyOf" | "oneOf" => {
                    let branches: Vec<&Value> = argument
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|b| !(self.strict && is_open_catch_all(b)))
                        .collect();
                    let outcomes: Vec<Vec<String>> = branches
                        .iter()
                        .map(|b| {
                            let mut mine = Vec::new();
                            self.check(b, value, at, &mut mine);
                            mine
                        })
                        .collect();
                    let fitting = outcomes.iter().filter(|e| e.is_empty()).count();
                    let fits = if keyword == "oneOf" {
                        fitting == 1
                    } else {
                        fitting >= 1
                    };
                    if !fits {
                        // The nearest branch says what is wrong.
                        let nearest = outcomes
                            .into_iter()
                            .filter(|e| !e.is_empty())
                            .min_by_key(Vec::len)
                            .unwrap_or_default();
                        errors.push(format!(
                            "{at}: {fitting} of the {keyword} branches fit {}; the nearest: {nearest:?}",
                            abbreviated(value)
                        ));
                    }
                }
                other => errors.push(format!("{at}: keyword `{other}` is not supported here")),
            }
        }
    }

    fn object_keyword(
        &self,
        schema: &Map<String, Value>,
        keyword: &str,
        argument: &Value,
        object: &Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        match keyword {
            "properties" => {
                for (name, property) in argument.as_object().into_iter().flatten() {
                    if let Some(member) = object.get(name) {
                        self.check(property, member, &format!("{at}.{name}"), errors);
                    }
                }
                if self.strict && !schema.contains_key("additionalProperties") {
                    self.no_other_members(schema, &Value::Object(object.clone()), at, errors);
                }
            }
            "required" => {
                for name in argument.as_array().into_iter().flatten() {
                    if let Some(name) = name.as_str().filter(|n| !object.contains_key(*n)) {
                        errors.push(format!("{at}: `{name}` is required"));
                    }
                }
            }
            "additionalProperties" => {
                let named = schema.get("properties").and_then(Value::as_object);
                for (name, member) in object {
                    if named.is_some_and(|n| n.contains_key(name)) {
                        continue;
                    }
                    match argument {
                        Value::Bool(false) => errors.push(format!("{at}: no member `{name}`")),
                        Value::Bool(true) => {}
                        other => self.check(other, member, &format!("{at}.{name}"), errors),
                    }
                }
            }
            "minProperties" | "maxProperties" => {
                let bound = argument.as_u64().unwrap_or(0) as usize;
                let fits = if keyword == "minProperties" {
                    object.len() >= bound
                } else {
                    object.len() <= bound
                };
                if !fits {
                    errors.push(format!("{at}: {} members break {keyword}", object.len()));
                }
            }
            _ => unreachable!(),
        }
    }

    /// In strict mode: members no `properties` of the schema (or of its `allOf` branches) name.
    fn no_other_members(
        &self,
        schema: &Map<String, Value>,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(object) = value.as_object() else {
            return;
        };
        let branches = schema.get("allOf").and_then(Value::as_array);
        let named: Vec<&String> = std::iter::once(schema.get("properties"))
            .chain(
                branches
                    .into_iter()
                    .flatten()
                    .map(|b| self.resolve(b).get("properties")),
            )
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(Map::keys)
            .collect();
        for name in object.keys() {
            if !named.contains(&name) {
                errors.push(format!("{at}: member `{name}` is not in the document"));
            }
        }
    }

    fn format(&self, format: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(text) = value.as_str() else {
            return;
        };
        let fits = match format.as_str() {
            Some("date-time") => kyc_core::jiff::Timestamp::from_str(text).is_ok(),
            Some("date") => text.len() == 10 && kyc_core::jiff::civil::Date::from_str(text).is_ok(),
            Some("password") => true,
            other => {
                errors.push(format!("{at}: format {other:?} is not supported here"));
                return;
            }
        };
        if !fits {
            errors.push(format!("{at}: `{text}` is not a {format}"));
        }
    }
}

fn array_keyword(
    validator: &Validator<'_>,
    keyword: &str,
    argument: &Value,
    items: &[Value],
    at: &str,
    errors: &mut Vec<String>,
) {
    match keyword {
        "items" => {
            for (i, item) in items.iter().enumerate() {
                validator.check(argument, item, &format!("{at}[{i}]"), errors);
            }
        }
        "minItems" | "maxItems" => {
            let bound = argument.as_u64().unwrap_or(0) as usize;
            let fits = if keyword == "minItems" {
                items.len() >= bound
            } else {
                items.len() <= bound
            };
            if !fits {
                errors.push(format!("{at}: {} items break {keyword}", items.len()));
            }
        }
        "uniqueItems" => {
            if argument == &Value::Bool(true)
                && items
                    .iter()
                    .enumerate()
                    .any(|(i, a)| items[..i].contains(a))
            {
                errors.push(format!("{at}: items repeat"));
            }
        }
        _ => unreachable!(),
    }
}

fn string_keyword(keyword: &str, argument: &Value, text: &str, at: &str, errors: &mut Vec<String>) {
    let length = text.chars().count() as u64;
    let fits = match keyword {
        "minLength" => length >= argument.as_u64().unwrap_or(0),
        "maxLength" => length <= argument.as_u64().unwrap_or(u64::MAX),
        _ => match pattern(argument.as_str().unwrap_or_default()) {
            Some(matches) => matches(text),
            None => {
                errors.push(format!("{at}: pattern {argument} is not spelled out here"));
                return;
            }
        },
    };
    if !fits {
        errors.push(format!("{at}: `{text}` breaks {keyword} {argument}"));
    }
}

/// The document's patterns, as Rust.
fn pattern(pattern: &str) -> Option<fn(&str) -> bool> {
    let check: fn(&str) -> bool = match pattern {
        // x-idempotency-key: 1 to 255 visible ASCII characters.
        "^[!-~]{1,255}$" => {
            |t| (1..=255).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic())
        }
        // x-request-id.
        "^req-[0-9A-Za-z]+$" => |t| {
            t.strip_prefix("req-")
                .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
        },
        // An item of a comma-separated filter.
        "^[^,]+$" => |t| !t.is_empty() && !t.contains(','),
        // X-Timestamp.
        "^[0-9]+$" => |t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()),
        // X-Signature: base64 (43 symbols and one `=`) or hex.
        "^hmac-sha256 ([A-Za-z0-9+/]{43}=|[0-9a-fA-F]{64})$" => |t| {
            t.strip_prefix("hmac-sha256 ").is_some_and(|d| {
                let base64 = d.len() == 44
                    && d.ends_with('=')
                    && d[..43]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
                let hex = d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit());
                base64 || hex
            })
        },
        _ => return None,
    };
    Some(check)
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        _ => false,
    }
}

/// The catch-all branch of an open set (decision 7): any other string.
fn is_open_catch_all(branch: &Value) -> bool {
    branch["x-kyc-basis"]["decision"] == 7 && branch.get("$ref").is_none()
}

fn abbreviated(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
