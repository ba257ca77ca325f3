//! Request helpers every face shares: the request id, the one rule for what a URL may carry,
//! and query parameters read the tolerant way real clients need (repeated keys, `True`/`true`,
//! a raw `+` in a number filter).

use std::convert::Infallible;

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, Path, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

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

/// A URL that breaks the rule of [`check_url`]; each face words it in its own error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadUrl(pub String);

/// The rule for what a path or a query may carry, on every face. Each is percent-decoded exactly
/// once: `%2B` is `+`, and `%252B` is the three characters `%2B` (so never a number). Every `%`
/// must start an escape of two hex digits, and what the escapes decode to must be UTF-8 text; a
/// URL that breaks either is refused before anything in it is read (an `{auth_id}` that does not
/// decode is not compared with the caller's and let through). In a query, `+` is a space
/// (form encoding, as every client library sends it); see [`number_filter`].
pub fn check_url(uri: &Uri) -> Result<(), BadUrl> {
    check_part("path", uri.path())?;
    check_part("query", uri.query().unwrap_or(""))
}

fn check_part(part: &str, raw: &str) -> Result<(), BadUrl> {
    let b = raw.as_bytes();
    let mut decoded = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            decoded.push(b[i]);
            i += 1;
            continue;
        }
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) else {
            return Err(BadUrl(format!(
                "the {part} has a % that is not followed by two hex digits"
            )));
        };
        decoded.push((h * 16 + l) as u8);
        i += 3;
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Err(BadUrl(format!(
            "the {part}'s percent-escapes do not decode to UTF-8 text"
        )));
    }
    Ok(())
}

/// The route's path parameters, decoded, under [`check_url`]'s rule. A route without parameters
/// has none; a path that does not decode is an error, never "no parameters".
pub async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<Vec<(String, String)>, BadUrl> {
    check_url(&parts.uri)?;
    match RawPathParams::from_request_parts(parts, state).await {
        Ok(params) => Ok(params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()),
        Err(RawPathParamsRejection::MissingPathParams(_)) => Ok(Vec::new()),
        Err(e) => Err(BadUrl(e.body_text())),
    }
}

/// The route's path parameters deserialized as `T`, under [`check_url`]'s rule: what each face's
/// path extractor reads, so that its rejection can be worded in the face's own shape.
pub async fn path<T, S>(parts: &mut Parts, state: &S) -> Result<T, BadUrl>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    check_url(&parts.uri)?;
    Path::<T>::from_request_parts(parts, state)
        .await
        .map(|Path(t)| t)
        .map_err(|e| BadUrl(e.body_text()))
}

/// A number filter from a query (a `search`, an `exclude` prefix) as the client meant it. A raw
/// `+` in a query is form-decoded to a space, so a leading space stands for the `+` that starts
/// an E.164 number (`search=+9180` is the prefix `+9180`, not the digits `9180` anywhere).
pub fn number_filter(value: &str) -> String {
    let s = value.trim_end();
    match s.strip_prefix(' ') {
        Some(rest) => format!("+{rest}"),
        None => s.trim_start().to_owned(),
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
                let v = v.trim();
                let bad = |message| BadParam {
                    name: name.into(),
                    message,
                };
                match v.parse::<u32>() {
                    Ok(n) if n >= min => Ok(n),
                    // Digits, but too many for a u32: say the bound that was crossed.
                    Err(_) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                        Err(bad(format!("{name} must be at most {}", u32::MAX)))
                    }
                    _ => Err(bad(format!(
                        "{name} must be a whole number of at least {min}"
                    ))),
                }
            })
            .transpose()
    }
}

/// A JSON body written as [`axum::Json`] writes it (the same bytes, `content-type:
/// application/json`, a 500 with the error's text if serializing fails), into a buffer of
/// `capacity` bytes to begin with: a page of numbers (~25 KB) grown from `Json`'s 128 bytes
/// is copied seven times on the way (issue 17).
pub struct SizedJson<T>(pub T, pub usize);

impl<T: Serialize> IntoResponse for SizedJson<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(self.1);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                e.to_string(),
            )
                .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every response part `SizedJson` and `axum::Json` give for a value.
    async fn parts(r: Response) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
        let (parts, body) = r.into_parts();
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, headers, body.to_vec())
    }

    #[derive(Serialize, Clone)]
    struct Item {
        text: String,
        fee: f64,
        when: Option<String>,
        tags: Vec<String>,
        flag: bool,
    }

    #[tokio::test]
    async fn sized_json_answers_what_json_does_byte_for_byte() {
        let texts = [
            "",
            "+918041100001",
            "quote \" back \\ nl \n tab \t",
            "ünï 📞 \u{1}",
        ];
        let fees = [0.0, 0.5, 300.5, 1e21, -2.25, f64::NAN];
        let items: Vec<Item> = (0..60)
            .map(|i| Item {
                text: texts[i % texts.len()].repeat(i % 5),
                fee: fees[i % fees.len()],
                when: (i % 3 == 0).then(|| format!("2026-01-{:02}T09:30:00Z", i % 28 + 1)),
                tags: texts.iter().take(i % 4).map(|t| t.to_string()).collect(),
                flag: i % 2 == 0,
            })
            .collect();
        for (n, capacity) in [(0, 0), (1, 16), (25, 25 * 1024), (60, 128)] {
            let page = items[..n].to_vec();
            assert_eq!(
                parts(SizedJson(page.clone(), capacity).into_response()).await,
                parts(axum::Json(page).into_response()).await,
                "{n} items"
            );
        }
    }

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
    fn a_url_is_decoded_once_and_its_escapes_must_be_utf8() {
        for ok in [
            "/api/v1/Account/MA_X/numbers/%2B918041100000",
            "/api/v1/Account/MA_X/numbers/+918041100000",
            "/api/v1/Account/MA_X/numbers/%252B918041100000",
            "/v1/phone/?after=%C3%A9&x=+1",
        ] {
            assert_eq!(check_url(&ok.parse().unwrap()), Ok(()), "{ok}");
        }
        for bad in [
            "/api/v1/Account/MA_X%FF/trunks",
            "/api/v1/Account/MA_X%C0%AF/trunks",
            "/api/v1/Account/MA_X%G1/trunks",
            "/api/v1/Account/MA_X%2",
            "/api/v1/phone-numbers/?region=%E9",
            "/admin/v1/numbers/x?y=%",
        ] {
            assert!(check_url(&bad.parse().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_leading_space_in_a_number_filter_is_the_plus_a_raw_plus_became() {
        let p = Params::parse("search=+9180&a=%2B9180&b=9180&c=+&d=9180+");
        assert_eq!(number_filter(p.get("search").unwrap()), "+9180");
        assert_eq!(number_filter(p.get("a").unwrap()), "+9180");
        assert_eq!(number_filter(p.get("b").unwrap()), "9180");
        assert_eq!(number_filter(p.get("c").unwrap()), "");
        assert_eq!(number_filter(p.get("d").unwrap()), "9180");
    }

    #[test]
    fn numbers_must_be_whole_and_in_range() {
        let p = Params::parse("page=0&per_page=abc&size=10");
        assert!(p.number("page", 1).is_err());
        assert!(p.number("per_page", 1).is_err());
        assert_eq!(p.number("size", 1), Ok(Some(10)));
    }
}
