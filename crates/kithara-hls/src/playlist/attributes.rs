//! Attribute lists (`NAME=VALUE,NAME="quoted, value"`) of playlist tags
//! (RFC 8216 4.2).

/// The `(name, value)` pairs of an attribute list, in order, names and values
/// trimmed, quoted values still quoted (see [`unquote`]). A comma inside
/// quotes does not end a value; a piece without `=` is skipped.
pub(crate) fn attributes(list: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = Some(list);
    std::iter::from_fn(move || {
        loop {
            let s = rest?;
            let piece = match value_end(s) {
                Some(i) => {
                    rest = Some(&s[i + 1..]);
                    &s[..i]
                }
                None => {
                    rest = None;
                    s
                }
            };
            if let Some((name, value)) = piece.split_once('=') {
                return Some((name.trim(), value.trim()));
            }
        }
    })
}

/// Where the value that `s` starts with ends: at the first comma outside
/// quotes, if any.
pub(crate) fn value_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    s.char_indices()
        .find(|&(_, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .map(|(i, _)| i)
}

/// The value of attribute `name` in `list`, if present (the last one wins, as
/// a tag parser that assigns each pair in turn would have it).
pub(crate) fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    attributes(list)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .last()
}

/// The value of attribute `name` in `list` (see [`attribute`]) with the
/// quotes of a quoted string removed; any other value as it is. An opening
/// quote that is never closed (`NAME="`, `NAME="abc`) is an error: no valid
/// list has one, and what it was meant to say cannot be known.
pub(crate) fn text_attribute<'a>(list: &'a str, name: &str) -> Result<Option<&'a str>, String> {
    attribute(list, name).map(|v| unquote(name, v)).transpose()
}

/// A quoted-string value without its quotes; any other value as it is.
fn unquote<'a>(name: &str, value: &'a str) -> Result<&'a str, String> {
    match value.strip_prefix('"') {
        None => Ok(value),
        Some(inner) => inner
            .strip_suffix('"')
            .ok_or_else(|| format!("{name} {value:?} is an unterminated quoted string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_on_commas_outside_quotes() {
        let got: Vec<_> =
            attributes("METHOD=AES-128, URI=\"k?a=1,b=2\" ,IV=0x01,garbage,KEYFORMAT=\"identity\"")
                .collect();
        assert_eq!(
            got,
            [
                ("METHOD", "AES-128"),
                ("URI", "\"k?a=1,b=2\""),
                ("IV", "0x01"),
                ("KEYFORMAT", "\"identity\""),
            ]
        );
        assert_eq!(attributes("").count(), 0);
        assert_eq!(attributes("A=").collect::<Vec<_>>(), [("A", "")]);
    }

    #[test]
    fn lookup_and_unquote() {
        let list = "URI=\"a.mp4\",BYTERANGE=\"10@0\",URI=\"b.mp4\",E=\"\",P=plain";
        assert_eq!(text_attribute(list, "URI"), Ok(Some("b.mp4")));
        assert_eq!(text_attribute(list, "BYTERANGE"), Ok(Some("10@0")));
        assert_eq!(text_attribute(list, "E"), Ok(Some("")));
        assert_eq!(text_attribute(list, "P"), Ok(Some("plain")));
        assert_eq!(text_attribute(list, "IV"), Ok(None));
        assert_eq!(attribute(list, "IV"), None);
    }

    #[test]
    fn an_unterminated_quoted_string_is_an_error() {
        for list in ["A=\"", "A= \"", "A=\"abc", "A=\"abc\"def", "A=\"x\",A=\""] {
            let err = text_attribute(list, "A").unwrap_err();
            assert!(err.contains("unterminated quoted string"), "{list}: {err}");
        }
        // An attribute nobody asks for is not looked at.
        assert_eq!(text_attribute("B=1,A=\"", "B"), Ok(Some("1")));
    }
}
