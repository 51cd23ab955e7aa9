//! The route table: every operation the simulator serves, in one row each (its [`Route`], the
//! name the admin API and faults use, its method and path, its handler and what the router checks
//! before calling it). The request matcher, fault targets, the admin API's route names, the
//! console's fault menu and the documented tables (crate docs, README) all come from it.
//!
//! Adding an operation: one row here, its handler in `handlers/`, and the handler's test.

use crate::config::{Alternative, MockConfig};
use crate::handlers::request::Handler;
use crate::handlers::{auth, search, sessions, upload};

/// What the router checks before calling a row's handler.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    /// Needs `Authorization: Bearer` with the current token, checked from the head before any
    /// of the body is read. (The token endpoints check the client's credentials in the body.)
    pub(crate) bearer: bool,
    /// Takes query parameters (the handler checks them); other routes refuse any.
    pub(crate) query: bool,
    /// The body is an uploaded file: up to the file limit plus multipart framing, not the JSON
    /// limit.
    pub(crate) file_body: bool,
    /// Under this alternative the route answers at this path instead, and at its own path only
    /// `404` (a server that knows the other spelling only).
    pub(crate) moved: Option<(Alternative, &'static str)>,
}

impl Rules {
    /// The token endpoints: no bearer token, no query, a JSON body.
    const CLIENT: Rules = Rules {
        bearer: false,
        query: false,
        file_body: false,
        moved: None,
    };
    /// An identity call: the bearer token, no query, a JSON (or no) body.
    const BEARER: Rules = Rules {
        bearer: true,
        ..Rules::CLIENT
    };
    /// An identity call that takes query parameters.
    const QUERY: Rules = Rules {
        query: true,
        ..Rules::BEARER
    };
    /// An identity call whose body is a file.
    const FILE: Rules = Rules {
        file_body: true,
        ..Rules::BEARER
    };

    const fn moved_by(self, alternative: Alternative, path: &'static str) -> Rules {
        Rules {
            moved: Some((alternative, path)),
            ..self
        }
    }
}

/// One operation of the simulator.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) route: Route,
    /// The route's name in the admin API (`POST /_admin/faults`) and the console.
    pub(crate) name: &'static str,
    pub(crate) method: &'static str,
    /// Segments separated by `/`; `{name}` matches any non-empty segment, the handler's
    /// parameter `name`.
    pub(crate) path: &'static str,
    pub(crate) handler: Handler,
    pub(crate) rules: Rules,
}

/// Defines [`Route`] and [`TABLE`] from the rows, so that a route is spelled once.
macro_rules! routes {
    ($( $route:ident $name:literal $method:ident $path:literal => $handler:path, $rules:expr; )+) => {
        /// The simulator's routes, for [`MockServer::inject_fault`](crate::MockServer::inject_fault).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Route {
            $(
                #[doc = concat!("`", stringify!($method), " ", $path, "`")]
                $route,
            )+
            /// Every request, including ones that match no route.
            Any,
        }

        /// Every operation the simulator serves, in the order of its documentation.
        pub(crate) const TABLE: &[Row] = &[
            $(
                Row {
                    route: Route::$route,
                    name: $name,
                    method: stringify!($method),
                    path: $path,
                    handler: $handler,
                    rules: $rules,
                },
            )+
        ];
    };
}

routes! {
    Token "token" POST "/oauth/token" => auth::token, Rules::CLIENT;
    Revoke "revoke" POST "/oauth/token/revoke" => auth::revoke, Rules::CLIENT;
    CreateSession "create_session" POST "/identity/v2/sessions" => sessions::create, Rules::BEARER;
    UploadFile "upload_file" POST "/identity/v1/sessions/{session_id}/entities/{entity_id}/files/{type_document}"
        => upload::upload, Rules::FILE;
    GetSession "get_session" GET "/identity/v1/sessions/{session_id}" => sessions::get,
        Rules::BEARER.moved_by(Alternative::SingularGetPath, "/identity/v1/session/{session_id}");
    CancelSession "cancel_session" DELETE "/identity/v1/sessions/{session_id}" => sessions::cancel, Rules::BEARER;
    SessionReport "session_report" GET "/identity/v1/sessions/{session_id}/report" => sessions::report, Rules::BEARER;
    SearchSessions "search_sessions" GET "/identity/v1/sessions" => search::search, Rules::QUERY;
    CleanValidations "clean_validations" POST "/clean_validations" => sessions::clean, Rules::BEARER;
}

/// The name [`Route::Any`] goes by.
const ANY: &str = "any";

impl Route {
    /// The route's row (none for [`Route::Any`]).
    pub(crate) fn row(self) -> Option<&'static Row> {
        TABLE.iter().find(|row| row.route == self)
    }

    /// The route named `name`.
    pub(crate) fn named(name: &str) -> Option<Route> {
        if name == ANY {
            return Some(Route::Any);
        }
        TABLE
            .iter()
            .find(|row| row.name == name)
            .map(|row| row.route)
    }

    /// Every name [`Route::named`] knows, `any` last.
    pub(crate) fn names() -> impl Iterator<Item = &'static str> {
        TABLE.iter().map(|row| row.name).chain([ANY])
    }

    /// Whom a fault registered for this route is for: a route's name, or every request.
    pub(crate) fn fault_target(self) -> Option<&'static str> {
        self.row().map(|row| row.name)
    }
}

/// What a request's method and path lead to.
pub(crate) enum Matched<'a> {
    /// A row, with the values of its path parameters.
    Found(&'static Row, Vec<(&'static str, &'a str)>),
    /// Rows serve this path, with other methods (the `Allow` header's value).
    MethodNotAllowed(String),
    NotFound,
}

impl Matched<'_> {
    /// The matched row, if any.
    pub(crate) fn row(&self) -> Option<&'static Row> {
        match self {
            Matched::Found(row, _) => Some(row),
            _ => None,
        }
    }
}

/// Whether `path` (its leading `/` removed) fits `pattern`, segment for segment; `{name}`
/// matches any non-empty segment. Allocates nothing: every request is matched against the table.
fn fits(pattern: &'static str, path: &str) -> bool {
    let mut expected = pattern.trim_start_matches('/').split('/');
    let mut actual = path.split('/');
    loop {
        match (expected.next(), actual.next()) {
            (None, None) => return true,
            (Some(e), Some(a)) if e.starts_with('{') || e == a => {}
            _ => return false,
        }
    }
}

/// The values of `pattern`'s `{name}` segments in `path`, which [`fits`] it.
fn bind<'a>(pattern: &'static str, path: &'a str) -> Vec<(&'static str, &'a str)> {
    pattern
        .trim_start_matches('/')
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(e, a)| Some((e.strip_prefix('{')?.strip_suffix('}')?, a)))
        .collect()
}

/// Finds the row for `method` and `path` as `config` plays the routes.
pub(crate) fn find<'a>(method: &str, path: &'a str, config: &MockConfig) -> Matched<'a> {
    let Some(rest) = path.strip_prefix('/') else {
        return Matched::NotFound;
    };
    if rest.split('/').any(str::is_empty) {
        return Matched::NotFound;
    }
    let mut allowed: Vec<&str> = Vec::new();
    for row in TABLE {
        let moved = row.rules.moved.filter(|(alt, _)| config.plays(*alt));
        let pattern = moved.map_or(row.path, |(_, path)| path);
        if fits(pattern, rest) {
            if row.method == method {
                return Matched::Found(row, bind(pattern, rest));
            }
            allowed.push(row.method);
        } else if moved.is_some() && row.method == method && fits(row.path, rest) {
            // Moved away: nothing answers this method at the usual spelling.
            return Matched::NotFound;
        }
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::MethodNotAllowed(allowed.join(", "))
    }
}

/// The console's fault menu: an `<option>` per route, `any` first.
pub(crate) fn fault_options() -> String {
    let option = |name: &str, label: &str| format!("<option value=\"{name}\">{label}</option>");
    std::iter::once(option(ANY, "any route"))
        .chain(TABLE.iter().map(|row| option(row.name, row.name)))
        .collect::<Vec<_>>()
        .join("\n        ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented table's rows, as the crate docs and the README write them.
    fn documented_rows() -> Vec<String> {
        TABLE
            .iter()
            .map(|row| {
                let moved = row.rules.moved.map_or(String::new(), |(alt, path)| {
                    format!(" (`{path}` with `{}`)", alt.name())
                });
                format!(
                    "| [`Route::{:?}`] | `{}` | `{} {}`{moved} |",
                    row.route, row.name, row.method, row.path
                )
            })
            .collect()
    }

    /// The rows of the route table in `text`, with rustdoc's links (`[`Route::Token`]`) as the
    /// README's code spans (`` `Route::Token` ``).
    fn table_in(text: &str, prefix: &str) -> Vec<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .filter(|line| line.starts_with("| `Route::") || line.starts_with("| [`Route::"))
            .map(|line| line.replacen("| [`", "| `", 1).replacen("`] |", "` |", 1))
            .collect()
    }

    #[test]
    fn the_documented_tables_are_the_route_table() {
        let expected = table_in(&documented_rows().join("\n"), "");
        assert_eq!(expected.len(), TABLE.len());
        assert_eq!(table_in(include_str!("lib.rs"), "//! "), expected);
        assert_eq!(table_in(include_str!("../README.md"), ""), expected);
    }

    #[test]
    fn names_and_routes_go_both_ways() {
        for name in Route::names() {
            let route = Route::named(name).unwrap();
            assert_eq!(route.fault_target().unwrap_or(ANY), name);
        }
        assert_eq!(Route::named("nowhere"), None);
        assert_eq!(Route::Any.fault_target(), None);
        assert_eq!(Route::UploadFile.fault_target(), Some("upload_file"));
    }

    #[test]
    fn paths_bind_their_parameters_and_methods_are_listed() {
        let config = MockConfig::new();
        let path = "/identity/v1/sessions/iss-1/entities/usr-1/files/selfie";
        match find("POST", path, &config) {
            Matched::Found(row, params) => {
                assert_eq!(row.route, Route::UploadFile);
                assert_eq!(
                    params,
                    [
                        ("session_id", "iss-1"),
                        ("entity_id", "usr-1"),
                        ("type_document", "selfie")
                    ]
                );
            }
            _ => panic!("no upload route"),
        }
        match find("PUT", "/identity/v1/sessions/iss-1", &config) {
            Matched::MethodNotAllowed(allow) => assert_eq!(allow, "GET, DELETE"),
            _ => panic!("not 405"),
        }
        assert!(matches!(
            find("GET", "/identity/v1/sessions//report", &config),
            Matched::NotFound
        ));
        assert!(matches!(
            find("GET", "/identity/v1/session/iss-1", &config),
            Matched::NotFound
        ));
        // The singular spelling moves get; cancel stays.
        let singular = MockConfig::new().alternative(Alternative::SingularGetPath);
        let found = |method, path| find(method, path, &singular).row().map(|r| r.route);
        assert_eq!(
            found("GET", "/identity/v1/session/iss-1"),
            Some(Route::GetSession)
        );
        assert_eq!(found("GET", "/identity/v1/sessions/iss-1"), None);
        assert_eq!(
            found("DELETE", "/identity/v1/sessions/iss-1"),
            Some(Route::CancelSession)
        );
    }
}
