//! Reading `state.json`, tolerating every way it can be damaged.

use crate::persist::state::{SCHEMA_VERSION, State};
use crate::store::FsStore;

/// What was found at the index path.
#[derive(Debug)]
pub(crate) enum Loaded {
    Found(State),
    Missing,
    /// Unreadable, truncated, garbage or of another schema; the reason says which.
    Damaged(String),
}

/// The index file `name` at the root of `fs`: read as any cached file is,
/// never through a link, and a FIFO or device there is damage, not a hang.
pub(crate) fn load(fs: &FsStore, name: &str) -> Loaded {
    let bytes = match fs.read_file(name) {
        Ok(Some(b)) => b,
        Ok(None) => return Loaded::Missing,
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
