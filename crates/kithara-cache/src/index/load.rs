//! Reading `state.json`, tolerating every way it can be damaged.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::index::state::{SCHEMA_VERSION, State};

/// What was found at the index path.
#[derive(Debug)]
pub(crate) enum Loaded {
    Found(State),
    Missing,
    /// Unreadable, truncated, garbage or of another schema; the reason says which.
    Damaged(String),
}

pub(crate) fn load(path: &Path) -> Loaded {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Loaded::Missing,
        Err(e) => return Loaded::Damaged(format!("unreadable: {e}")),
    };
    parse(&bytes)
}

pub(crate) fn parse(bytes: &[u8]) -> Loaded {
    match serde_json::from_slice::<State>(bytes) {
        Ok(state) if state.schema == SCHEMA_VERSION => Loaded::Found(state),
        Ok(state) => Loaded::Damaged(format!("unsupported schema version {}", state.schema)),
        Err(e) => Loaded::Damaged(format!("not a valid index: {e}")),
    }
}
