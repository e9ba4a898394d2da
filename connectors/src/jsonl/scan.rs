//! A small, strict scanner for one flat JSON object per line.
//!
//! It walks the line once, validates it against the JSON grammar (RFC 8259), and keeps
//! *borrowed* slices of the six fields msec reads (`device`, `sensor`, `ts`, `value`, `lat`,
//! `lon`); every other key is validated and skipped, nested objects and arrays included
//! (up to [`MAX_DEPTH`] levels). Nothing is allocated on the way, except when a *key* is
//! written with escapes (`"dev\u0069ce"`), which is unescaped into a caller's scratch buffer.
//!
//! Strictness: a duplicate of one of the six known keys is rejected (JSON parsers disagree on
//! which duplicate wins, so accepting one would let two readers see two different records);
//! duplicates of ignored keys are not checked. Lone UTF-16 surrogates in `\u` escapes are
//! rejected. Bare `NaN`/`Infinity` are not JSON and are rejected.

/// Deepest nesting of ignored values that is skipped rather than rejected.
pub(crate) const MAX_DEPTH: usize = 64;

/// A JSON string as it appears between its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JStr<'a> {
    /// The text between the quotes, escapes not yet resolved.
    pub raw: &'a str,
    /// Whether `raw` contains backslash escapes (then use [`unescape_into`]).
    pub escaped: bool,
}

/// A scanned value. Numbers keep their text so the caller picks `i64` or `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    /// A string.
    Str(JStr<'a>),
    /// A number, as its (grammar-checked) text.
    Num(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object (skipped).
    Object,
    /// An array (skipped).
    Array,
}

impl Val<'_> {
    /// The JSON type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "string",
            Val::Num(_) => "number",
            Val::Bool(_) => "boolean",
            Val::Null => "null",
            Val::Object => "object",
            Val::Array => "array",
        }
    }
}

/// The fields msec reads from a reading; `None` where the key is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fields<'a> {
    pub device: Option<Val<'a>>,
    pub sensor: Option<Val<'a>>,
    pub ts: Option<Val<'a>>,
    pub value: Option<Val<'a>>,
    pub lat: Option<Val<'a>>,
    pub lon: Option<Val<'a>>,
}

/// Why a line is not a JSON object, and the byte where that was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanError {
    /// 0-based byte position in the line.
    pub at: usize,
    /// What was wrong there.
    pub what: &'static str,
}

/// Scans `line` as one JSON object. `scratch` is used only for keys with escapes.
pub(crate) fn scan_object<'a>(
    line: &'a str,
    scratch: &mut String,
) -> Result<Fields<'a>, ScanError> {
    let mut p = Parser {
        s: line,
        b: line.as_bytes(),
        i: 0,
    };
    let mut f = Fields::default();
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(p.err(if p.i == p.b.len() {
            "empty line"
        } else {
            "not a JSON object"
        }));
    }
    p.i += 1;
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            if p.peek() != Some(b'"') {
                return Err(p.err_eol("expected a string key"));
            }
            let key = p.string()?;
            p.ws();
            if p.peek() != Some(b':') {
                return Err(p.err_eol("expected ':' after key"));
            }
            p.i += 1;
            p.ws();
            let at = p.i;
            let v = p.value(1)?;
            if let Some(slot) = slot(&mut f, key, scratch) {
                if slot.is_some() {
                    return Err(ScanError {
                        at,
                        what: "duplicate key",
                    });
                }
                *slot = Some(v);
            }
            p.ws();
            match p.peek() {
                Some(b',') => {
                    p.i += 1;
                    p.ws();
                }
                Some(b'}') => {
                    p.i += 1;
                    break;
                }
                _ => return Err(p.err_eol("expected ',' or '}'")),
            }
        }
    }
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters after the object"));
    }
    Ok(f)
}

/// The field slot for `key`, or `None` for a key msec ignores.
fn slot<'f, 'a>(
    f: &'f mut Fields<'a>,
    key: JStr<'_>,
    scratch: &mut String,
) -> Option<&'f mut Option<Val<'a>>> {
    let name = if key.escaped {
        unescape_into(key.raw, scratch);
        scratch.as_str()
    } else {
        key.raw
    };
    match name {
        "device" => Some(&mut f.device),
        "sensor" => Some(&mut f.sensor),
        "ts" => Some(&mut f.ts),
        "value" => Some(&mut f.value),
        "lat" => Some(&mut f.lat),
        "lon" => Some(&mut f.lon),
        _ => None,
    }
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }

    fn err(&self, what: &'static str) -> ScanError {
        ScanError { at: self.i, what }
    }

    /// `what`, or "unexpected end of line" when the line simply stopped (a truncated record).
    fn err_eol(&self, what: &'static str) -> ScanError {
        if self.i >= self.b.len() {
            self.err("unexpected end of line (truncated record)")
        } else {
            self.err(what)
        }
    }

    /// A string starting at the opening quote at `self.i`.
    fn string(&mut self) -> Result<JStr<'a>, ScanError> {
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            let Some(&c) = self.b.get(i) else {
                self.i = i;
                return Err(self.err("unexpected end of line (truncated record)"));
            };
            match c {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i = self.escape(i)?;
                }
                0..=0x1f => {
                    self.i = i;
                    return Err(self.err("control character in string"));
                }
                _ => i += 1,
            }
        }
        self.i = i + 1;
        // Both ends are ASCII quotes, so these are char boundaries.
        let raw = self.s.get(start..i).unwrap_or_default();
        Ok(JStr { raw, escaped })
    }

    /// Validates the escape at `i` (a backslash); returns the index after it.
    fn escape(&mut self, i: usize) -> Result<usize, ScanError> {
        match self.b.get(i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
            Some(b'u') => {
                let unit = self.hex4(i + 2)?;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.b.get(i + 6) != Some(&b'\\') || self.b.get(i + 7) != Some(&b'u') {
                            self.i = i;
                            return Err(self.err("unpaired surrogate in \\u escape"));
                        }
                        let low = self.hex4(i + 8)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            self.i = i;
                            return Err(self.err("unpaired surrogate in \\u escape"));
                        }
                        Ok(i + 12)
                    }
                    0xDC00..=0xDFFF => {
                        self.i = i;
                        Err(self.err("unpaired surrogate in \\u escape"))
                    }
                    _ => Ok(i + 6),
                }
            }
            None => {
                self.i = i + 1;
                Err(self.err("unexpected end of line (truncated record)"))
            }
            Some(_) => {
                self.i = i;
                Err(self.err("invalid escape in string"))
            }
        }
    }

    fn hex4(&mut self, at: usize) -> Result<u16, ScanError> {
        let mut v: u16 = 0;
        for k in 0..4 {
            let d = match self.b.get(at + k) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                None => {
                    self.i = at + k;
                    return Err(self.err("unexpected end of line (truncated record)"));
                }
                Some(_) => {
                    self.i = at + k;
                    return Err(self.err("invalid \\u escape"));
                }
            };
            v = (v << 4) | u16::from(d);
        }
        Ok(v)
    }

    /// A value starting at `self.i`; `depth` is the nesting level of the enclosing object.
    fn value(&mut self, depth: usize) -> Result<Val<'a>, ScanError> {
        match self.peek() {
            Some(b'"') => self.string().map(Val::Str),
            Some(b'-' | b'0'..=b'9') => self.number().map(Val::Num),
            Some(b't') => self.literal(b"true", Val::Bool(true)),
            Some(b'f') => self.literal(b"false", Val::Bool(false)),
            Some(b'n') => self.literal(b"null", Val::Null),
            Some(b'{') => self.skip_container(depth, b'}').map(|()| Val::Object),
            Some(b'[') => self.skip_container(depth, b']').map(|()| Val::Array),
            None => Err(self.err("unexpected end of line (truncated record)")),
            Some(_) => Err(self.err("invalid value")),
        }
    }

    fn literal(&mut self, word: &'static [u8], v: Val<'a>) -> Result<Val<'a>, ScanError> {
        let end = self.i + word.len();
        match self.b.get(self.i..end) {
            Some(w) if w == word => {
                self.i = end;
                Ok(v)
            }
            _ if end > self.b.len() && self.b[self.i..].iter().zip(word).all(|(a, b)| a == b) => {
                self.i = self.b.len();
                Err(self.err("unexpected end of line (truncated record)"))
            }
            _ => Err(self.err("invalid value")),
        }
    }

    /// A number per the JSON grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<&'a str, ScanError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err_eol("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err_eol("invalid number"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err_eol("invalid number"));
            }
            self.digits();
        }
        // A number is followed by a delimiter; `01` or `1x` is not a number.
        if let Some(c) = self.peek()
            && !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
        {
            return Err(self.err("invalid number"));
        }
        Ok(self.s.get(start..self.i).unwrap_or_default())
    }

    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    /// Skips an object or array starting at `self.i`, validating it.
    fn skip_container(&mut self, depth: usize, close: u8) -> Result<(), ScanError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            if close == b'}' {
                if self.peek() != Some(b'"') {
                    return Err(self.err_eol("expected a string key"));
                }
                self.string()?;
                self.ws();
                if self.peek() != Some(b':') {
                    return Err(self.err_eol("expected ':' after key"));
                }
                self.i += 1;
                self.ws();
            }
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => {
                    return Err(self.err_eol(if close == b'}' {
                        "expected ',' or '}'"
                    } else {
                        "expected ',' or ']'"
                    }));
                }
            }
        }
    }
}

/// Resolves the escapes of a string scanned by [`scan_object`] into `out` (cleared first).
/// The input was validated by the scanner; anything unexpected becomes U+FFFD, never a panic.
pub(crate) fn unescape_into(raw: &str, out: &mut String) {
    out.clear();
    let mut rest = raw;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos + 1..];
        let mut chars = tail.chars();
        let consumed = match chars.next() {
            Some('"') => push(out, '"', 1),
            Some('\\') => push(out, '\\', 1),
            Some('/') => push(out, '/', 1),
            Some('b') => push(out, '\u{8}', 1),
            Some('f') => push(out, '\u{c}', 1),
            Some('n') => push(out, '\n', 1),
            Some('r') => push(out, '\r', 1),
            Some('t') => push(out, '\t', 1),
            Some('u') => {
                let hi = hex(tail.get(1..5));
                match hi {
                    Some(h @ 0xD800..=0xDBFF) => {
                        let lo = if tail.get(5..7) == Some("\\u") {
                            hex(tail.get(7..11))
                        } else {
                            None
                        };
                        match lo {
                            Some(l @ 0xDC00..=0xDFFF) => {
                                let c = 0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00);
                                push(out, char::from_u32(c).unwrap_or('\u{FFFD}'), 11)
                            }
                            _ => push(out, '\u{FFFD}', 5),
                        }
                    }
                    Some(h) => push(out, char::from_u32(h).unwrap_or('\u{FFFD}'), 5),
                    None => push(out, '\u{FFFD}', tail.len().min(5)),
                }
            }
            Some(c) => push(out, '\u{FFFD}', c.len_utf8()),
            None => push(out, '\u{FFFD}', 0),
        };
        rest = tail.get(consumed..).unwrap_or_default();
    }
    out.push_str(rest);
}

fn push(out: &mut String, c: char, consumed: usize) -> usize {
    out.push(c);
    consumed
}

fn hex(s: Option<&str>) -> Option<u32> {
    u32::from_str_radix(s?, 16).ok()
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
