//! Extra request headers given as `(name, value)` pairs (key servers'
//! tokens, a CDN's auth): checked once, values marked sensitive so that no
//! log or error ever shows them.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::HlsError;

/// `pairs` as headers; `what` names them in errors ("key header"). An
/// invalid value is reported by its header's name only: it may be a secret.
pub fn header_map(pairs: &[(String, String)], what: &str) -> Result<HeaderMap, HlsError> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| HlsError::ClientSetup {
            reason: format!("invalid {what} name {name:?}"),
        })?;
        let mut v = HeaderValue::from_str(value).map_err(|_| HlsError::ClientSetup {
            reason: format!("invalid value for {what} {name:?}"),
        })?;
        v.set_sensitive(true);
        map.append(n, v);
    }
    Ok(map)
}
