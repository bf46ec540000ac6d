//! Without the `faults` feature nothing can set a fault: the type a
//! response would carry one in has no values, so the code that applies
//! faults is not built into the product.

use axum::body::Body;
use bytes::Bytes;

/// The fault of one response; none exists without the `faults` feature.
#[derive(Debug, Clone)]
pub(crate) enum Fault {}

impl Fault {
    /// Never called: there is no `Fault` to call it on.
    pub(crate) fn body(self, _body: Bytes) -> Body {
        match self {}
    }
}
