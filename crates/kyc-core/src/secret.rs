//! Newtypes for secrets and personal data. Their `Debug` prints `[redacted]`, so a stray `{:?}` in a
//! log line cannot leak a client secret, an access token or a document number.

use std::fmt;

/// Writes `Name([redacted])`.
fn redacted(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    write!(f, "{name}([redacted])")
}

/// The one `Debug` policy for values that may identify a person or carry a secret (names,
/// document numbers, reasons, URLs, file names, free text): their presence and length, never
/// their content. Ids, statuses, enums and timestamps are shown as they are.
pub(crate) struct Redacted<'a>(pub(crate) Option<&'a str>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(text) => write!(f, "Some([redacted, {} bytes])", text.len()),
            None => f.write_str("None"),
        }
    }
}

/// Whether a model's member holds something, for the `Debug` impls that list set members.
pub(crate) trait Present {
    fn present(&self) -> bool;
}

impl<T> Present for Option<T> {
    fn present(&self) -> bool {
        self.is_some()
    }
}

impl<T> Present for Vec<T> {
    fn present(&self) -> bool {
        !self.is_empty()
    }
}

/// Implements `Debug` for a model that carries personal data and an `extra`:
/// `Name { <shown members>, set: [<members that hold something>, <extra names>] }`. The shown
/// members are ids and flags printed as they are (or, for a nested model, by its own `Debug`);
/// the others only by name. `no_extra` is for a model without an `extra` of its own.
macro_rules! debug_set_members {
    ($ty:ident { show: [$($shown:ident),*], set: [$($field:ident),* $(,)?] $(,)? }) => {
        debug_set_members!(@impl $ty, [$($shown),*], [$($field),*], |m: &$ty| {
            m.extra.0.keys().map(String::as_str).collect::<Vec<_>>()
        });
    };
    ($ty:ident { show: [$($shown:ident),*], set: [$($field:ident),* $(,)?], no_extra $(,)? }) => {
        debug_set_members!(@impl $ty, [$($shown),*], [$($field),*], |_: &$ty| Vec::new());
    };
    (@impl $ty:ident, [$($shown:ident),*], [$($field:ident),*], $extra:expr) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                use crate::secret::Present as _;
                let extra: fn(&$ty) -> Vec<&str> = $extra;
                let set: Vec<&str> = [$((stringify!($field), self.$field.present())),*]
                    .into_iter()
                    .filter_map(|(name, present)| present.then_some(name))
                    .chain(extra(self))
                    .collect();
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), &self.$shown))*
                    .field("set", &set)
                    .finish()
            }
        }
    };
}
pub(crate) use debug_set_members;

/// Declares a `String` newtype whose `Debug` is redacted and whose value is read with
/// `expose_secret`, so every place that reads the secret says so.
macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value itself. Call it only where the value must go on the wire.
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                redacted(f, stringify!($name))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self)
            }
        }
    };
}

secret_string! {
    /// The OAuth client secret Pomelo issues with the client id.
    ClientSecret
}

/// A bearer access token (a JWT). Anyone holding it can call the API until it expires.
///
/// It carries its `Authorization` header value, built and checked once when the token is made,
/// so that each request clones it instead of building it again.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    /// `Bearer <value>`, marked sensitive; `None` when the value cannot go into a header.
    bearer: Option<http::HeaderValue>,
}

impl AccessToken {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        let bearer = bearer_header(&value);
        Self { value, bearer }
    }

    /// The value itself. Call it only where the value must go on the wire.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.value
    }

    /// `Authorization: Bearer <token>`, or `None` when the token is empty or holds a byte a
    /// header cannot carry.
    pub(crate) fn bearer(&self) -> Option<&http::HeaderValue> {
        self.bearer.as_ref()
    }
}

fn bearer_header(token: &str) -> Option<http::HeaderValue> {
    if token.is_empty() {
        return None;
    }
    let mut bearer = String::with_capacity("Bearer ".len() + token.len());
    bearer.push_str("Bearer ");
    bearer.push_str(token);
    let mut value = http::HeaderValue::try_from(bearer).ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl PartialEq for AccessToken {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for AccessToken {}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted(f, "AccessToken")
    }
}

impl From<String> for AccessToken {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for AccessToken {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl serde::Serialize for AccessToken {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> serde::Deserialize<'de> for AccessToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

secret_string! {
    /// A value that identifies a person: a document number, a name, a birth date, an address line.
    Pii
}

/// OAuth client credentials: the client id (not secret, shown in `Debug`) and the client secret.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Credentials {
    /// The client id Pomelo issues.
    pub client_id: String,
    /// The client secret Pomelo issues.
    pub client_secret: ClientSecret,
}

impl Credentials {
    /// Bundles a client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<ClientSecret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let creds = Credentials::new("cli-1", "s3cr3t-value");
        let shown = format!(
            "{creds:?} {:?} {:?}",
            AccessToken::new("tok-abc"),
            Pii::new("12345678")
        );
        assert!(shown.contains("cli-1"), "{shown}");
        for secret in ["s3cr3t-value", "tok-abc", "12345678"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
