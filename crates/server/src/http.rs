//! Request helpers every face shares: the request id, and query parameters read the tolerant
//! way real clients need (repeated keys, `True`/`true`).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::REQUEST_ID;

/// The request's id (`x-request-id`, taken from the client or generated), for the audit trail.
#[derive(Debug, Clone)]
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(
            parts
                .headers
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

/// The query string's parameters, in order, keys repeated as sent. Unknown ones are ignored by
/// whoever reads them.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

/// A query parameter that does not parse; the face words the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    pub name: String,
    pub message: String,
}

impl Params {
    pub fn parse(query: &str) -> Self {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The last value given for `name`, if not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `true`/`True`/`1` and `false`/`False`/`0`, in any case.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, BadParam> {
        self.get(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(BadParam {
                    name: name.into(),
                    message: format!("{name} must be true or false"),
                }),
            })
            .transpose()
    }

    /// A whole number in `min..=u32::MAX`.
    pub fn number(&self, name: &str, min: u32) -> Result<Option<u32>, BadParam> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or(BadParam {
                        name: name.into(),
                        message: format!("{name} must be a whole number of at least {min}"),
                    })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_parse_in_any_case() {
        let p = Params::parse("a=True&b=false&c=TRUE&d=maybe");
        assert_eq!(p.bool("a"), Ok(Some(true)));
        assert_eq!(p.bool("b"), Ok(Some(false)));
        assert_eq!(p.bool("c"), Ok(Some(true)));
        assert!(p.bool("d").is_err());
        assert_eq!(p.bool("missing"), Ok(None));
    }

    #[test]
    fn repeated_keys_are_all_kept_and_the_last_wins_for_get() {
        let p = Params::parse("exclude=%2B91&exclude=44&page=1&page=2");
        assert_eq!(p.all("exclude").collect::<Vec<_>>(), ["+91", "44"]);
        assert_eq!(p.get("page"), Some("2"));
    }

    #[test]
    fn numbers_must_be_whole_and_in_range() {
        let p = Params::parse("page=0&per_page=abc&size=10");
        assert!(p.number("page", 1).is_err());
        assert!(p.number("per_page", 1).is_err());
        assert_eq!(p.number("size", 1), Ok(Some(10)));
    }
}
