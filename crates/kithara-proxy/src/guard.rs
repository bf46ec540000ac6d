//! The refusals that come before routing: methods, and the `Host` header
//! (a page on the user's machine can reach a loopback port; DNS rebinding
//! would let it read the answers unless the Host is pinned); and the CORS
//! headers that let a page's player (hls.js) read what it is allowed to.

use std::net::SocketAddr;

use http::Method;
use http::header::{self, HeaderMap, HeaderValue};

use crate::error::Refusal;

/// The `Host` values the proxy answers to.
#[derive(Debug)]
pub(crate) struct Hosts {
    allowed: Vec<String>,
    /// Listening on every address (remote clients allowed): any name.
    any: bool,
}

impl Hosts {
    /// For a proxy bound to `addr`: the address itself and, on loopback,
    /// `localhost` with the port.
    pub(crate) fn new(addr: SocketAddr) -> Self {
        let port = addr.port();
        let mut allowed = vec![addr.to_string()];
        if addr.ip().is_loopback() {
            allowed.push(format!("localhost:{port}"));
        }
        Self {
            allowed,
            any: addr.ip().is_unspecified(),
        }
    }

    /// Refuse a request whose `Host` is not ours (case-insensitive).
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if self.any {
            return Ok(());
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(Refusal::Misdirected)?;
        if self.allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
            Ok(())
        } else {
            Err(Refusal::Misdirected)
        }
    }
}

/// What a request's method allows: `None` to serve it, or a preflight.
pub(crate) enum Verb {
    Get,
    Head,
    Preflight,
}

pub(crate) fn verb(method: &Method) -> Result<Verb, Refusal> {
    match *method {
        Method::GET => Ok(Verb::Get),
        Method::HEAD => Ok(Verb::Head),
        Method::OPTIONS => Ok(Verb::Preflight),
        _ => Err(Refusal::Method),
    }
}

/// CORS: any page may play through the proxy (the token in the URL is the
/// capability), reading the headers a player needs.
pub(crate) fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, Accept-Ranges"),
    );
}

/// The answer to a preflight.
pub(crate) fn preflight(headers: &mut HeaderMap) {
    cors(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn only_our_own_names_pass() {
        let hosts = Hosts::new("127.0.0.1:4321".parse().unwrap());
        for ok in ["127.0.0.1:4321", "localhost:4321", "LOCALHOST:4321"] {
            assert!(hosts.check(&with_host(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example:4321",
            "127.0.0.1:4322",
            "localhost",
            "127.0.0.1",
            "127.0.0.2:4321",
        ] {
            assert!(
                matches!(hosts.check(&with_host(bad)), Err(Refusal::Misdirected)),
                "{bad}"
            );
        }
        assert!(hosts.check(&HeaderMap::new()).is_err());
        let any = Hosts::new("0.0.0.0:4321".parse().unwrap());
        assert!(any.check(&with_host("box.lan:4321")).is_ok());
    }
}
