//! Where Python's `json.loads` (what FastAPI parses a body with) fails, and how it words it: the
//! Diga face reports a broken body as FastAPI does, `{"type": "json_invalid", "loc": ["body",
//! <position>], …, "ctx": {"error": <Python's message>}}`. Positions count characters, not bytes.
//! The messages are those of Python 3.12 and earlier (3.13 words a trailing comma differently).

/// Python's `json` error for `text`: the message and the character position, or `None` when
/// Python parses it. `NaN`/`Infinity` (which Python accepts and JSON does not) are refused as
/// "Expecting value".
pub fn error(text: &str) -> Option<(&'static str, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let s = Scanner { s: &chars };
    let start = s.ws(0);
    match s.value(start) {
        Err(e) => Some(e),
        Ok(end) => {
            let end = s.ws(end);
            (end != chars.len()).then_some(("Extra data", end))
        }
    }
}

type Scan = Result<usize, (&'static str, usize)>;

struct Scanner<'a> {
    s: &'a [char],
}

impl Scanner<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    /// Skips JSON white space (space, tab, newline, carriage return).
    fn ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    }

    fn literal(&self, i: usize, word: &str) -> bool {
        word.chars()
            .enumerate()
            .all(|(k, c)| self.at(i + k) == Some(c))
    }

    /// One value at `i` (no leading white space): the position after it.
    fn value(&self, i: usize) -> Scan {
        let expecting = Err(("Expecting value", i));
        match self.at(i) {
            Some('"') => self.string(i + 1),
            Some('{') => self.object(i + 1),
            Some('[') => self.array(i + 1),
            Some('n') if self.literal(i, "null") => Ok(i + 4),
            Some('t') if self.literal(i, "true") => Ok(i + 4),
            Some('f') if self.literal(i, "false") => Ok(i + 5),
            Some('-' | '0'..='9') => self.number(i).map_or(expecting, Ok),
            _ => expecting,
        }
    }

    /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`, matched as far as it goes.
    fn number(&self, i: usize) -> Option<usize> {
        let digits = |mut j: usize| {
            let from = j;
            while matches!(self.at(j), Some('0'..='9')) {
                j += 1;
            }
            (j > from).then_some(j)
        };
        let mut j = i;
        if self.at(j) == Some('-') {
            j += 1;
        }
        j = match self.at(j) {
            Some('0') => j + 1,
            Some('1'..='9') => digits(j)?,
            _ => return None,
        };
        if self.at(j) == Some('.') {
            if let Some(k) = digits(j + 1) {
                j = k;
            }
        }
        if matches!(self.at(j), Some('e' | 'E')) {
            let k = if matches!(self.at(j + 1), Some('+' | '-')) {
                j + 2
            } else {
                j + 1
            };
            if let Some(k) = digits(k) {
                j = k;
            }
        }
        Some(j)
    }

    /// A string whose opening quote is at `begin - 1`.
    fn string(&self, begin: usize) -> Scan {
        let mut i = begin;
        loop {
            match self.at(i) {
                None => return Err(("Unterminated string starting at", begin - 1)),
                Some('"') => return Ok(i + 1),
                Some('\\') => match self.at(i + 1) {
                    None => return Err(("Unterminated string starting at", begin - 1)),
                    Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => i += 2,
                    Some('u') => {
                        let hex = (i + 2..i + 6)
                            .all(|k| self.at(k).is_some_and(|c| c.is_ascii_hexdigit()));
                        if !hex {
                            return Err(("Invalid \\uXXXX escape", i + 1));
                        }
                        i += 6;
                    }
                    Some(_) => return Err(("Invalid \\escape", i)),
                },
                Some(c) if (c as u32) < 0x20 => return Err(("Invalid control character at", i)),
                Some(_) => i += 1,
            }
        }
    }

    /// An object whose `{` is at `i - 1`.
    fn object(&self, i: usize) -> Scan {
        const NAME: &str = "Expecting property name enclosed in double quotes";
        let mut end = self.ws(i);
        match self.at(end) {
            Some('}') => return Ok(end + 1),
            Some('"') => {}
            _ => return Err((NAME, end)),
        }
        end += 1;
        loop {
            end = self.string(end)?;
            end = self.ws(end);
            if self.at(end) != Some(':') {
                return Err(("Expecting ':' delimiter", end));
            }
            end = self.ws(end + 1);
            end = self.value(end)?;
            end = self.ws(end);
            match self.at(end) {
                Some('}') => return Ok(end + 1),
                Some(',') => {}
                _ => return Err(("Expecting ',' delimiter", end)),
            }
            end = self.ws(end + 1);
            if self.at(end) != Some('"') {
                return Err((NAME, end));
            }
            end += 1;
        }
    }

    /// An array whose `[` is at `i - 1`.
    fn array(&self, i: usize) -> Scan {
        let mut end = self.ws(i);
        if self.at(end) == Some(']') {
            return Ok(end + 1);
        }
        loop {
            end = self.value(end)?;
            end = self.ws(end);
            match self.at(end) {
                Some(']') => return Ok(end + 1),
                Some(',') => {}
                _ => return Err(("Expecting ',' delimiter", end)),
            }
            end = self.ws(end + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error;

    #[test]
    fn valid_json_has_no_error() {
        for ok in [
            "{}",
            " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\n\"]} ",
            "[]",
            "\"s\"",
            "0",
        ] {
            assert_eq!(error(ok), None, "{ok}");
        }
    }

    #[test]
    fn errors_read_as_python_words_them() {
        let cases: [(&str, &str, usize); 14] = [
            (
                "{bad",
                "Expecting property name enclosed in double quotes",
                1,
            ),
            (
                "{'a': 1}",
                "Expecting property name enclosed in double quotes",
                1,
            ),
            ("", "Expecting value", 0),
            ("   ", "Expecting value", 3),
            ("{\"a\" 1}", "Expecting ':' delimiter", 5),
            ("{\"a\": }", "Expecting value", 6),
            ("{\"a\": 1 \"b\": 2}", "Expecting ',' delimiter", 8),
            (
                "{\"a\": 1,}",
                "Expecting property name enclosed in double quotes",
                8,
            ),
            ("[1,]", "Expecting value", 3),
            ("[1 2]", "Expecting ',' delimiter", 3),
            ("{} x", "Extra data", 3),
            ("{\"a\": \"b", "Unterminated string starting at", 6),
            ("\"a\\q\"", "Invalid \\escape", 2),
            ("é{", "Expecting value", 0),
        ];
        for (text, msg, pos) in cases {
            assert_eq!(error(text), Some((msg, pos)), "{text:?}");
        }
        // Positions count characters: the `é` is one.
        assert_eq!(error("{\"é\": x}"), Some(("Expecting value", 6)));
    }
}
