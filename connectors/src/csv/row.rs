//! Splitting one line into fields: a delimiter, optional `"` quoting, reused buffers.
//!
//! A record is one line. With quoting on, a field that *starts* with `"` (after leading
//! spaces) runs to the next lone `"`; `""` inside it stands for one `"`; the delimiter may
//! appear inside it. Only spaces and tabs (other than the delimiter) may follow the closing
//! quote. A newline inside quotes is not supported: such a line ends with an unterminated
//! quote and is rejected. Unquoted fields are trimmed of spaces and tabs (unless tab is the
//! delimiter, then only of spaces). With quoting off, `"` is an ordinary character.
//!
//! The fields of a row are copied into one reused `String` and addressed by ranges, so a
//! row costs no allocation once the buffers have grown.

use std::ops::Range;

/// The fields of the current row.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    text: String,
    ranges: Vec<Range<usize>>,
}

impl Fields {
    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Field `i`, or `None` past the end.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        self.ranges.get(i).map(|r| &self.text[r.clone()])
    }

    /// Splits `line` (UTF-8, without its line ending) into the fields. On a quoting error
    /// returns the 1-based column (in characters of the line) and what is wrong.
    pub(crate) fn split(
        &mut self,
        line: &str,
        delimiter: u8,
        quote: bool,
    ) -> Result<(), (usize, &'static str)> {
        self.text.clear();
        self.ranges.clear();
        let d = delimiter as char;
        let is_blank = |c: char| c == ' ' || (c == '\t' && d != '\t');
        let mut rest = line;
        let mut at = 0usize; // byte offset of `rest` in `line`
        loop {
            let lead = rest.len() - rest.trim_start_matches(is_blank).len();
            if quote && rest[lead..].starts_with('"') {
                let start = self.text.len();
                let mut i = lead + 1;
                loop {
                    match rest[i..].find('"') {
                        None => return Err((col(line, at + lead), "unterminated quoted field")),
                        Some(j) => {
                            self.text.push_str(&rest[i..i + j]);
                            i += j + 1;
                            if rest[i..].starts_with('"') {
                                self.text.push('"');
                                i += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                self.ranges.push(start..self.text.len());
                let after = rest[i..].trim_start_matches(is_blank);
                let after_at = rest.len() - after.len();
                match after.chars().next() {
                    None => return Ok(()),
                    Some(c) if c == d => {
                        at += after_at + 1;
                        rest = &rest[after_at + 1..];
                    }
                    Some(_) => {
                        return Err((col(line, at + after_at), "text after a closing quote"));
                    }
                }
            } else {
                let end = rest.find(d).unwrap_or(rest.len());
                let field = rest[..end].trim_matches(is_blank);
                let start = self.text.len();
                self.text.push_str(field);
                self.ranges.push(start..self.text.len());
                if end == rest.len() {
                    return Ok(());
                }
                at += end + 1;
                rest = &rest[end + 1..];
            }
        }
    }
}

/// 1-based character column of byte offset `at` in `line`.
fn col(line: &str, at: usize) -> usize {
    line.get(..at).map_or(at, |s| s.chars().count()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str, d: u8, quote: bool) -> Result<Vec<String>, (usize, &'static str)> {
        let mut f = Fields::default();
        f.split(line, d, quote)?;
        Ok((0..f.len())
            .filter_map(|i| f.get(i).map(str::to_owned))
            .collect())
    }

    #[test]
    fn plain_fields_are_trimmed() {
        assert_eq!(
            split("a; b ;c", b';', true),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            split("a,,", b',', true),
            Ok(vec!["a".into(), String::new(), String::new()])
        );
        assert_eq!(split("", b',', true), Ok(vec![String::new()]));
        assert_eq!(
            split(" a \tb\t", b'\t', true),
            Ok(vec!["a".into(), "b".into(), String::new()])
        );
    }

    #[test]
    fn quoted_fields() {
        assert_eq!(
            split(r#""a,b", "say ""hi""" ,c"#, b',', true),
            Ok(vec!["a,b".into(), r#"say "hi""#.into(), "c".into()])
        );
        assert_eq!(split(r#""""#, b',', true), Ok(vec![String::new()]));
        assert_eq!(
            split(r#"x,"é"#, b',', true),
            Err((3, "unterminated quoted field"))
        );
        assert_eq!(
            split(r#""a"b,c"#, b',', true),
            Err((4, "text after a closing quote"))
        );
        // Quoting off: quotes are data.
        assert_eq!(
            split(r#""a,b""#, b',', false),
            Ok(vec![r#""a"#.into(), r#"b""#.into()])
        );
    }
}
