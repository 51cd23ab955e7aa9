//! The strict checks of JSON bodies: each finds problems in a member and describes them, so that a
//! `400` can list every problem of a body at once. Imports no other module of the crate.

use serde_json::{Map, Value};

/// Problems with members outside `allowed`; `at` is the members' path (`""`, `"data."`).
pub(crate) fn unknown_members(map: &Map<String, Value>, allowed: &[&str], at: &str) -> Vec<String> {
    map.keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("unknown member `{at}{k}`"))
        .collect()
}

/// A required non-empty string member, or a problem description.
pub(crate) fn required_string<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<&'a str, String> {
    match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(format!("`{at}{name}` must not be empty")),
        Some(_) => Err(format!("`{at}{name}` must be a string")),
        None => Err(format!("`{at}{name}` is required")),
    }
}

/// A required string member among `allowed`; empty (and a problem noted) otherwise.
pub(crate) fn one_of(
    map: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
    problems: &mut Vec<String>,
) -> String {
    match required_string(map, name, "") {
        Ok(v) if allowed.contains(&v) => v.to_owned(),
        Ok(v) => {
            problems.push(format!(
                "`{name}` must be one of {}, got `{v}`",
                allowed.join(", ")
            ));
            String::new()
        }
        Err(p) => {
            problems.push(p);
            String::new()
        }
    }
}

/// Notes a problem when member `name` is present and does not `fit`; `what` says what it must be
/// (`"a boolean"`).
pub(crate) fn optional(
    map: &Map<String, Value>,
    name: &str,
    at: &str,
    what: &str,
    fits: impl Fn(&Value) -> bool,
    problems: &mut Vec<String>,
) {
    if map.get(name).is_some_and(|value| !fits(value)) {
        problems.push(format!("`{at}{name}` must be {what}"));
    }
}

/// Whether `value` is a list of strings.
pub(crate) fn is_string_list(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_problem_names_its_member() {
        let body = json!({"a": "", "b": 1, "c": ["x", 2], "z": true});
        let map = body.as_object().unwrap();
        assert_eq!(
            unknown_members(map, &["a", "b", "c"], "data."),
            ["unknown member `data.z`"]
        );
        assert_eq!(
            required_string(map, "a", ""),
            Err("`a` must not be empty".into())
        );
        assert_eq!(
            required_string(map, "b", ""),
            Err("`b` must be a string".into())
        );
        assert_eq!(
            required_string(map, "q", "x."),
            Err("`x.q` is required".into())
        );
        let mut problems = Vec::new();
        optional(
            map,
            "c",
            "",
            "a list of strings",
            is_string_list,
            &mut problems,
        );
        optional(map, "q", "", "a boolean", Value::is_boolean, &mut problems);
        assert_eq!(problems, ["`c` must be a list of strings"]);
        let choice = json!({"flow": "kyc", "other": "moon"});
        let choice = choice.as_object().unwrap();
        let mut problems = Vec::new();
        assert_eq!(one_of(choice, "flow", &["kyc"], &mut problems), "kyc");
        assert_eq!(one_of(choice, "other", &["kyc", "kyb"], &mut problems), "");
        assert_eq!(problems, ["`other` must be one of kyc, kyb, got `moon`"]);
    }
}
