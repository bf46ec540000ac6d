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

/// A quoted-string value without its quotes; any other value as it is.
pub(crate) fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
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
        let list = "URI=\"a.mp4\",BYTERANGE=\"10@0\",URI=\"b.mp4\"";
        assert_eq!(attribute(list, "URI").map(unquote), Some("b.mp4"));
        assert_eq!(attribute(list, "BYTERANGE").map(unquote), Some("10@0"));
        assert_eq!(attribute(list, "IV"), None);
        assert_eq!(unquote("\"\""), "");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("plain"), "plain");
    }
}
