//! The schema of `state.json`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::{AssetId, IdMap};

/// Version of the `state.json` schema this build reads and writes.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The whole index as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    pub schema: u32,
    /// The logical clock: every access takes the next tick.
    pub clock: u64,
    /// The size limit the last owner used.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    pub assets: IdMap<Entry>,
}

/// What the index knows of one asset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub bytes: u64,
    pub files: u64,
    /// Logical tick of the last access (the LRU order).
    pub last_access: u64,
    /// Wall time of the last access, Unix milliseconds (for people).
    pub last_access_ms: u64,
    pub created_ms: u64,
    #[serde(default)]
    pub source_url: Option<String>,
}

impl Serialize for AssetId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for AssetId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
