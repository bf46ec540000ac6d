//! Variable substitution (`EXT-X-DEFINE`, RFC 8216bis §4.4.2.3): a playlist
//! defines variables by `NAME`/`VALUE`, by `QUERYPARAM` (the value of that
//! query parameter of the playlist's own URL) or, in a media playlist, by
//! `IMPORT` (a variable of the master playlist that led to it), and
//! references them as `{$name}` in URI lines and quoted-string attribute
//! values. The text is substituted before it is parsed, so the parsers
//! never see a reference. A reference to a variable not defined before it,
//! a second definition of a name, a missing query parameter or import are
//! playlist errors, as the RFC requires.

use std::borrow::Cow;

use url::Url;

use super::attributes::text_attribute;
use super::parse::bad;
use crate::error::HlsError;

/// Variables by name, in order of definition.
pub(crate) type Vars = Vec<(String, String)>;

const DEFINE: &str = "#EXT-X-DEFINE:";

/// Whether `name` is a valid variable name (`[a-zA-Z0-9-_]+`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The variable an `EXT-X-DEFINE` attribute list defines.
fn definition(
    url: &Url,
    list: &str,
    imports: &[(String, String)],
) -> Result<(String, String), HlsError> {
    let get = |n| text_attribute(list, n).map_err(|e| bad(url, e));
    let (name, value) = match (get("NAME")?, get("QUERYPARAM")?, get("IMPORT")?) {
        (Some(name), None, None) => {
            let value = get("VALUE")?
                .ok_or_else(|| bad(url, format!("EXT-X-DEFINE NAME={name:?} has no VALUE")))?;
            (name, value.to_owned())
        }
        (None, Some(param), None) => {
            let value = url
                .query_pairs()
                .find(|(n, _)| n == param)
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| {
                    bad(
                        url,
                        format!("EXT-X-DEFINE QUERYPARAM={param:?}: not in the playlist URL"),
                    )
                })?;
            (param, value)
        }
        (None, None, Some(import)) => {
            let value = imports
                .iter()
                .find(|(n, _)| n == import)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    bad(
                        url,
                        format!("EXT-X-DEFINE IMPORT={import:?}: no such variable in the master playlist"),
                    )
                })?;
            (import, value)
        }
        _ => {
            return Err(bad(
                url,
                "EXT-X-DEFINE needs exactly one of NAME, QUERYPARAM and IMPORT",
            ));
        }
    };
    if !valid_name(name) {
        return Err(bad(url, format!("EXT-X-DEFINE: invalid name {name:?}")));
    }
    Ok((name.to_owned(), value))
}

/// `line` with every `{$name}` replaced, in the whole line (`all`, a URI
/// line) or only inside quoted strings (a tag).
fn replace(url: &Url, line: &str, all: bool, vars: &Vars) -> Result<String, HlsError> {
    let mut out = String::with_capacity(line.len());
    let mut quoted = false;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            quoted = !quoted;
        }
        if (all || quoted)
            && let Some(after) = rest.strip_prefix("{$")
            && let Some(end) = after.find('}')
            && valid_name(&after[..end])
        {
            let name = &after[..end];
            let value = vars
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| bad(url, format!("undefined variable {{${name}}}")))?;
            out.push_str(value);
            rest = &after[end + 1..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// `text` (served at `url`) with its variables substituted, and the
/// variables it defines. `imports` are the master playlist's, for `IMPORT`.
/// A playlist without `EXT-X-DEFINE` is returned as it is.
pub(crate) fn substitute<'a>(
    url: &Url,
    text: &'a str,
    imports: &[(String, String)],
) -> Result<(Cow<'a, str>, Vars), HlsError> {
    if !text.contains(DEFINE) {
        return Ok((Cow::Borrowed(text), Vars::new()));
    }
    let mut vars = Vars::new();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(list) = trimmed.strip_prefix(DEFINE) {
            let (name, value) = definition(url, list, imports)?;
            if vars.iter().any(|(n, _)| *n == name) {
                return Err(bad(url, format!("EXT-X-DEFINE: {name:?} defined twice")));
            }
            vars.push((name, value));
            out.push_str(line);
        } else if trimmed.contains("{$") {
            out.push_str(&replace(url, line, !trimmed.starts_with('#'), &vars)?);
        } else {
            out.push_str(line);
        }
    }
    Ok((Cow::Owned(out), vars))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://cdn.example.com/t/v0.m3u8?token=abc%20d&x=1").unwrap()
    }

    fn sub(text: &str, imports: &[(String, String)]) -> Result<String, HlsError> {
        substitute(&url(), text, imports).map(|(t, _)| t.into_owned())
    }

    #[test]
    fn names_query_parameters_and_imports_are_substituted() {
        let imports = vec![("cdn".to_owned(), "https://c.example".to_owned())];
        let text = "#EXTM3U\n#EXT-X-DEFINE:NAME=\"seg\",VALUE=\"s\"\n\
                    #EXT-X-DEFINE:QUERYPARAM=\"token\"\n#EXT-X-DEFINE:IMPORT=\"cdn\"\n\
                    #EXT-X-KEY:METHOD=AES-128,URI=\"{$cdn}/k?t={$token}\"\n\
                    #EXTINF:4,{$seg}\n{$cdn}/{$seg}1.ts?t={$token}\n";
        let got = sub(text, &imports).unwrap();
        assert!(got.contains("URI=\"https://c.example/k?t=abc d\""), "{got}");
        assert!(got.contains("\nhttps://c.example/s1.ts?t=abc d\n"), "{got}");
        // Outside quotes in a tag, a reference is not one.
        assert!(got.contains("#EXTINF:4,{$seg}\n"), "{got}");
        let (_, vars) = substitute(&url(), text, &imports).unwrap();
        assert_eq!(vars.len(), 3);
    }

    #[test]
    fn what_the_rfc_calls_an_error_is_one() {
        for (text, imports) in [
            (
                "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"1\"\n{$b}.ts\n",
                vec![],
            ),
            (
                "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"1\"\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"2\"\n",
                vec![],
            ),
            ("#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"nope\"\n", vec![]),
            ("#EXTM3U\n#EXT-X-DEFINE:IMPORT=\"nope\"\n", vec![]),
            ("#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\"\n", vec![]),
            ("#EXTM3U\n#EXT-X-DEFINE:NAME=\"a b\",VALUE=\"1\"\n", vec![]),
            // Used before it is defined.
            (
                "#EXTM3U\n{$a}.ts\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"1\"\n",
                vec![],
            ),
        ] {
            assert!(
                matches!(sub(text, &imports), Err(HlsError::Playlist { .. })),
                "{text:?}"
            );
        }
        // No EXT-X-DEFINE: nothing is touched, not even what looks like a reference.
        assert_eq!(
            sub("#EXTM3U\n{$a}.ts\n", &[]).unwrap(),
            "#EXTM3U\n{$a}.ts\n"
        );
    }
}
