//! Request validation as FastAPI and pydantic 2 do it for the Diga routes: every problem with
//! the path, the query and the body is collected, in that order, into one `422 {"detail": […]}`
//! with pydantic's `type`, `loc`, `msg`, `input` and `ctx`. Auth runs before any of this.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use didpool_core::clock;
use didpool_core::number::MediaEncryption;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::{DigaError, Failure, Invalid, Issue, Loc};
use super::pyjson;

/// Collects the issues of one request.
#[derive(Debug, Default)]
pub struct Checker {
    pub invalid: Invalid,
}

/// `base` + `key`.
pub fn at(base: &[Loc], key: impl Into<Loc>) -> Vec<Loc> {
    let mut loc = base.to_vec();
    loc.push(key.into());
    loc
}

impl Checker {
    pub fn issue(
        &mut self,
        kind: &'static str,
        loc: Vec<Loc>,
        msg: impl Into<String>,
        input: Value,
        ctx: Option<Value>,
    ) {
        self.invalid.push(Issue {
            kind,
            loc,
            msg: msg.into(),
            input,
            ctx,
        });
    }

    pub fn missing(&mut self, loc: Vec<Loc>, input: Value) {
        self.issue("missing", loc, "Field required", input, None);
    }

    pub fn finish(self) -> Result<(), Invalid> {
        self.invalid.check()
    }

    /// A UUID, as pydantic reads one (the same parser: the `uuid` crate).
    pub fn uuid(&mut self, loc: Vec<Loc>, input: &Value) -> Option<Uuid> {
        match input {
            Value::String(s) => match Uuid::parse_str(s) {
                Ok(u) => Some(u),
                Err(e) => {
                    let error = e.to_string();
                    self.issue(
                        "uuid_parsing",
                        loc,
                        format!("Input should be a valid UUID, {error}"),
                        input.clone(),
                        Some(json!({ "error": error })),
                    );
                    None
                }
            },
            _ => {
                self.issue(
                    "uuid_type",
                    loc,
                    "UUID input should be a string, bytes or UUID object",
                    input.clone(),
                    None,
                );
                None
            }
        }
    }

    /// A whole number from a query string, within `ge..=le`.
    pub fn int(&mut self, loc: Vec<Loc>, raw: &str, ge: i64, le: Option<i64>) -> Option<i64> {
        let input = Value::from(raw);
        let Some(n) = parse_int(raw) else {
            self.issue(
                "int_parsing",
                loc,
                "Input should be a valid integer, unable to parse string as an integer",
                input,
                None,
            );
            return None;
        };
        if n < i128::from(ge) {
            self.issue(
                "greater_than_equal",
                loc,
                format!("Input should be greater than or equal to {ge}"),
                input,
                Some(json!({ "ge": ge })),
            );
            return None;
        }
        if let Some(le) = le.filter(|le| n > i128::from(*le)) {
            self.issue(
                "less_than_equal",
                loc,
                format!("Input should be less than or equal to {le}"),
                input,
                Some(json!({ "le": le })),
            );
            return None;
        }
        Some(i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX }))
    }

    /// One of `choices`: a `Literal` (`literal_error`) or an `Enum` class (`enum`).
    pub fn choice(
        &mut self,
        kind: &'static str,
        loc: Vec<Loc>,
        input: &Value,
        choices: &[&'static str],
    ) -> Option<&'static str> {
        if let Some(c) = input
            .as_str()
            .and_then(|s| choices.iter().find(|c| **c == s))
        {
            return Some(c);
        }
        let expected = expected(choices);
        self.issue(
            kind,
            loc,
            format!("Input should be {expected}"),
            input.clone(),
            Some(json!({ "expected": expected })),
        );
        None
    }

    /// A date-time from a query string, as pydantic (speedate) reads one, inside the times
    /// didpool holds ([`clock::in_range`]). Outside them it is the issue pydantic gives a bounded
    /// field (`greater_than_equal` / `less_than`, with the bound in `ctx`): compared with the
    /// stored times it would otherwise match wrongly (a filter that silently finds nothing).
    pub fn datetime(&mut self, loc: Vec<Loc>, raw: &str) -> Option<DateTime<Utc>> {
        match parse_datetime(raw) {
            Ok(t) if clock::in_range(t) => Some(t),
            Ok(t) => {
                let (kind, op, key, bound) = if t < clock::MIN_TIME {
                    (
                        "greater_than_equal",
                        "greater than or equal to",
                        "ge",
                        clock::MIN_TIME,
                    )
                } else {
                    ("less_than", "less than", "lt", clock::MAX_TIME)
                };
                let bound = bound.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                self.issue(
                    kind,
                    loc,
                    format!("Input should be {op} {bound}"),
                    raw.into(),
                    Some(json!({ key: bound })),
                );
                None
            }
            Err(error) => {
                self.issue(
                    "datetime_from_date_parsing",
                    loc,
                    format!("Input should be a valid datetime or date, {error}"),
                    raw.into(),
                    Some(json!({ "error": error })),
                );
                None
            }
        }
    }

    /// A string (pydantic does not turn numbers into strings).
    pub fn string(&mut self, loc: Vec<Loc>, input: &Value) -> Option<String> {
        match input {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.issue(
                    "string_type",
                    loc,
                    "Input should be a valid string",
                    input.clone(),
                    None,
                );
                None
            }
        }
    }

    /// `field: str | None`: absent → `None`, `null` → `Some(None)`.
    pub fn opt_string(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
    ) -> Option<Option<String>> {
        match obj.get(key)? {
            Value::Null => Some(None),
            v => self.string(at(base, key), v).map(Some),
        }
    }

    /// `field: UUID | None`: absent → `None`, `null` → `Some(None)`.
    pub fn opt_uuid(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
    ) -> Option<Option<Uuid>> {
        match obj.get(key)? {
            Value::Null => Some(None),
            v => self.uuid(at(base, key), v).map(Some),
        }
    }

    /// `media_encryption: SipMediaEncryption` (`nullable`: `| None`); absent → `None`.
    pub fn encryption(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
        nullable: bool,
    ) -> Option<Option<MediaEncryption>> {
        let v = obj.get(key)?;
        if v.is_null() && nullable {
            return Some(None);
        }
        let c = self.choice("enum", at(base, key), v, &["disable", "allow", "require"])?;
        Some(Some(match c {
            "disable" => MediaEncryption::Disable,
            "require" => MediaEncryption::Require,
            _ => MediaEncryption::Allow,
        }))
    }

    /// `field: list[str] | None`: absent → `None`, `null` → `Some(None)`.
    pub fn opt_strings(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
    ) -> Option<Option<Vec<String>>> {
        match obj.get(key)? {
            Value::Null => Some(None),
            Value::Array(items) => {
                let loc = at(base, key);
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.string(at(&loc, i), item) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                ok.then_some(Some(out))
            }
            v => {
                self.issue(
                    "list_type",
                    at(base, key),
                    "Input should be a valid list",
                    v.clone(),
                    None,
                );
                None
            }
        }
    }

    /// A nested model `field: Model | None`: absent → `None`, `null` → `Some(None)`.
    pub fn opt_model<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        base: &[Loc],
        key: &str,
    ) -> Option<Option<&'v Map<String, Value>>> {
        match obj.get(key)? {
            Value::Null => Some(None),
            v => self.model(at(base, key), v).map(Some),
        }
    }

    /// A model's input must be an object (FastAPI validates with `from_attributes`).
    pub fn model<'v>(&mut self, loc: Vec<Loc>, v: &'v Value) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            _ => {
                self.issue(
                    "model_attributes_type",
                    loc,
                    "Input should be a valid dictionary or object to extract fields from",
                    v.clone(),
                    None,
                );
                None
            }
        }
    }
}

/// `'a', 'b' or 'c'`.
fn expected(choices: &[&str]) -> String {
    let quoted: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// Digits with an optional sign, surrounding spaces and a zero fraction (`20.0`), as pydantic
/// accepts them for an `int`.
fn parse_int(raw: &str) -> Option<i128> {
    let s = raw.trim();
    let s = match s.split_once('.') {
        Some((whole, frac)) if frac.bytes().all(|b| b == b'0') => whole,
        Some(_) => return None,
        None => s,
    };
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Longer than any i128: still a number, just out of every range.
    Some(s.parse::<i128>().unwrap_or(if s.starts_with('-') {
        i128::MIN
    } else {
        i128::MAX
    }))
}

/// An RFC 3339 date-time (`T`, `t`, `_` or space between date and time; seconds, fraction and
/// offset optional; no offset = UTC), a bare date (midnight UTC) or a Unix timestamp (seconds,
/// or milliseconds above 2e10), with speedate's words for what is wrong.
pub fn parse_datetime(raw: &str) -> Result<DateTime<Utc>, &'static str> {
    let s = raw.as_bytes();
    let numeric = !s.is_empty()
        && s.iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'))
        && s[1..].iter().all(|b| *b != b'-' && *b != b'+');
    if numeric {
        if let Ok(mut secs) = raw.parse::<f64>() {
            if secs.abs() > 2e10 {
                secs /= 1000.0;
            }
            let micros = (secs * 1e6).round() as i64;
            return DateTime::from_timestamp_micros(micros).ok_or("input is too large");
        }
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        s.get(from..to)?.iter().try_fold(0u32, |acc, b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
    };
    if s.len() < 10 {
        return Err("input is too short");
    }
    let year = digits(0, 4).ok_or("invalid character in year")?;
    if s[4] != b'-' {
        return Err("invalid date separator, expected `-`");
    }
    let month = digits(5, 7).ok_or("invalid character in month")?;
    if s[7] != b'-' {
        return Err("invalid date separator, expected `-`");
    }
    let day = digits(8, 10).ok_or("invalid character in day")?;
    if !(1..=12).contains(&month) {
        return Err("month value is outside expected range of 1-12");
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or("day value is outside expected range")?;
    if s.len() == 10 {
        return Ok(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if !matches!(s[10], b'T' | b't' | b'_' | b' ') {
        return Err("invalid datetime separator, expected `T`, `t`, `_` or space");
    }
    if s.len() < 16 {
        return Err("input is too short");
    }
    let hour = digits(11, 13).ok_or("invalid character in hour")?;
    if s[13] != b':' {
        return Err("invalid time separator, expected `:`");
    }
    let minute = digits(14, 16).ok_or("invalid character in minute")?;
    if hour > 23 {
        return Err("hour value is outside expected range of 0-23");
    }
    if minute > 59 {
        return Err("minute value is outside expected range of 0-59");
    }
    let mut i = 16;
    let mut second = 0;
    let mut micros = 0;
    if s.get(i) == Some(&b':') {
        second = digits(i + 1, i + 3).ok_or("invalid character in second")?;
        if second > 59 {
            return Err("second value is outside expected range of 0-59");
        }
        i += 3;
        if matches!(s.get(i), Some(b'.' | b',')) {
            i += 1;
            let from = i;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == from {
                return Err("second fraction value is missing");
            }
            if i - from > 9 {
                return Err("second fraction value is more than 6 digits long");
            }
            let frac = &raw[from..i.min(from + 6)];
            micros = format!("{frac:0<6}").parse::<u32>().unwrap_or(0);
        }
    }
    let mut offset = 0i32;
    match s.get(i) {
        None => {}
        Some(b'Z' | b'z') => i += 1,
        Some(sign @ (b'+' | b'-')) => {
            let h = digits(i + 1, i + 3).ok_or("invalid timezone hour")?;
            i += 3;
            if s.get(i) == Some(&b':') {
                i += 1;
            }
            let m = digits(i, i + 2).ok_or("invalid timezone minute")?;
            i += 2;
            if h >= 24 || m >= 60 {
                return Err("timezone offset must be less than 24 hours");
            }
            offset = (h * 3600 + m * 60) as i32 * if *sign == b'-' { -1 } else { 1 };
        }
        Some(_) => return Err("invalid timezone sign"),
    }
    if i != s.len() {
        return Err("unexpected extra characters at the end of the input");
    }
    let naive = date
        .and_hms_micro_opt(hour, minute, second, micros)
        .ok_or("input is too large")?;
    Ok(Utc.from_utc_datetime(&(naive - chrono::Duration::seconds(i64::from(offset)))))
}

/// The raw request body, its rejections in this face's shapes: a body over the limit is the
/// `413 PAYLOAD_TOO_LARGE` app error, one that cannot be read FastAPI's `400 {"detail": …}`.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    DigaError::too_large().into()
                } else {
                    Failure::Detail(
                        StatusCode::BAD_REQUEST,
                        "There was an error parsing the body",
                    )
                }
            })
    }
}

/// A request body as FastAPI reads it for a model parameter: `None` when empty or `null`
/// (pydantic then says the body is missing); broken JSON is `json_invalid`, a body that is not
/// UTF-8 a `400 {"detail": "There was an error parsing the body"}`. A body sent with a non-JSON
/// content type is validated as the raw text (and so is not an object).
pub fn read_body(headers: &HeaderMap, bytes: &Bytes) -> Result<Option<Value>, Failure> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(Failure::Detail(
            StatusCode::BAD_REQUEST,
            "There was an error parsing the body",
        ));
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let json = match headers.get(CONTENT_TYPE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(ct)) => {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence
                .strip_prefix("application/")
                .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
        }
        Some(Err(_)) => false,
    };
    if !json {
        return Ok(Some(Value::String(text.to_owned())));
    }
    if let Some((error, pos)) = pyjson::error(text) {
        let mut c = Checker::default();
        c.issue(
            "json_invalid",
            vec![Loc::from("body"), Loc::Index(pos)],
            "JSON decode error",
            json!({}),
            Some(json!({ "error": error })),
        );
        return Err(c.invalid.into());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(_) => Err(Failure::Detail(
            StatusCode::BAD_REQUEST,
            "There was an error parsing the body",
        )),
    }
}

/// A query string's parameters; for a repeated name the last value counts (as Starlette reads
/// a scalar parameter), and an empty value is still a value to validate.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn datetimes_parse_as_pydantic_reads_them() {
        assert_eq!(
            parse_datetime("2026-07-01T09:12:44Z"),
            Ok(t("2026-07-01T09:12:44Z"))
        );
        assert_eq!(
            parse_datetime("2026-07-01 11:12:44.5+02:00"),
            Ok(t("2026-07-01T09:12:44.5Z"))
        );
        assert_eq!(parse_datetime("2026-07-01"), Ok(t("2026-07-01T00:00:00Z")));
        assert_eq!(
            parse_datetime("2026-07-01T09:12"),
            Ok(t("2026-07-01T09:12:00Z"))
        );
        assert_eq!(parse_datetime("0"), Ok(t("1970-01-01T00:00:00Z")));
        assert_eq!(
            parse_datetime("1782897164000"),
            Ok(DateTime::from_timestamp(1_782_897_164, 0).unwrap())
        );
        assert_eq!(parse_datetime("yesterday"), Err("input is too short"));
        assert_eq!(
            parse_datetime("yesterday!!"),
            Err("invalid character in year")
        );
        assert_eq!(
            parse_datetime("2026-13-01"),
            Err("month value is outside expected range of 1-12")
        );
        assert_eq!(
            parse_datetime("2026-02-30"),
            Err("day value is outside expected range")
        );
        assert_eq!(
            parse_datetime("2026-07-01T09:12:44 00:00"),
            Err("invalid timezone sign")
        );
    }

    #[test]
    fn ints_parse_as_pydantic_reads_them() {
        assert_eq!(parse_int(" 20 "), Some(20));
        assert_eq!(parse_int("20.0"), Some(20));
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(
            parse_int("99999999999999999999999999999999999999999"),
            Some(i128::MAX)
        );
    }

    #[test]
    fn choices_are_listed_as_pydantic_lists_them() {
        assert_eq!(expected(&["asc", "desc"]), "'asc' or 'desc'");
        assert_eq!(
            expected(&["disable", "allow", "require"]),
            "'disable', 'allow' or 'require'"
        );
    }
}
