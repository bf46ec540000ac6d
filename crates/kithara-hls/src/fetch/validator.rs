//! What identifies the version of an answer, so that asking again costs a
//! `304 Not Modified` without a body while nothing changed (RFC 9110 §13):
//! the `ETag`, or without one the `Last-Modified` date.

use reqwest::header::{
    ETAG, HeaderMap, HeaderName, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

/// The validator of an earlier answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Validator {
    /// Its `ETag`: asked again with `If-None-Match`.
    ETag(String),
    /// Its `Last-Modified` date, as sent: asked again with
    /// `If-Modified-Since` (the origin's own date, so no clock is compared).
    LastModified(String),
}

impl Validator {
    /// The validator of an answer with `headers`: its `ETag` when it has one
    /// (the stronger of the two), else its `Last-Modified` when that is an
    /// HTTP date; `None` when neither is usable.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Self> {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let Some(tag) = text(ETAG) {
            return Some(Self::ETag(tag.to_owned()));
        }
        text(LAST_MODIFIED)
            .filter(|date| httpdate::parse_http_date(date).is_ok())
            .map(|date| Self::LastModified(date.to_owned()))
    }

    /// The request header that asks "only if changed".
    pub(crate) fn condition(&self) -> (HeaderName, &str) {
        match self {
            Self::ETag(tag) => (IF_NONE_MATCH, tag),
            Self::LastModified(date) => (IF_MODIFIED_SINCE, date),
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    fn headers(pairs: &[(HeaderName, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (n.clone(), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn an_etag_wins_over_a_date() {
        let both = headers(&[(ETAG, "\"a\""), (LAST_MODIFIED, DATE)]);
        let v = Validator::of(&both).unwrap();
        assert_eq!(v, Validator::ETag("\"a\"".into()));
        assert_eq!(v.condition(), (IF_NONE_MATCH, "\"a\""));
    }

    #[test]
    fn without_an_etag_the_date_is_sent_back_as_it_came() {
        let v = Validator::of(&headers(&[(LAST_MODIFIED, DATE)])).unwrap();
        assert_eq!(v.condition(), (IF_MODIFIED_SINCE, DATE));
        // An empty ETag is none.
        let v = Validator::of(&headers(&[(ETAG, ""), (LAST_MODIFIED, DATE)])).unwrap();
        assert_eq!(v, Validator::LastModified(DATE.into()));
    }

    #[test]
    fn neither_or_a_date_that_is_not_one_is_no_validator() {
        assert_eq!(Validator::of(&HeaderMap::new()), None);
        assert_eq!(
            Validator::of(&headers(&[(LAST_MODIFIED, "yesterday")])),
            None
        );
    }
}
