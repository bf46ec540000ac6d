//! The schema of `state.json`.

use serde::{Deserialize, Serialize};

use crate::id::IdMap;

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
    /// The limit on kept assets stored by an owner; absent: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kept_bytes: Option<u64>,
    #[serde(with = "hex_keys")]
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
    /// Whether the asset is kept. Never read from nor written to
    /// `state.json`: the asset's own marker file says it (`layout.rs`),
    /// so a lost index cannot turn a download into an evictable asset.
    #[serde(skip)]
    pub kept: bool,
}

/// `state.json` writes asset ids as their 64 lowercase hex digits. This is
/// the only place ids are serialized: `AssetId` itself has no serde impls
/// on purpose, so the index format is chosen here and no other crate comes
/// to depend on one by accident (the CLI's `--json` prints `to_hex()`).
mod hex_keys {
    use std::fmt;

    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserializer, Serializer};

    use super::Entry;
    use crate::id::{AssetId, IdMap};

    pub(super) fn serialize<S: Serializer>(map: &IdMap<Entry>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(id, entry)| (id.to_hex(), entry)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IdMap<Entry>, D::Error> {
        d.deserialize_map(Keys)
    }

    struct Keys;

    impl<'de> Visitor<'de> for Keys {
        type Value = IdMap<Entry>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map from hex asset ids to entries")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = IdMap::default();
            while let Some((key, entry)) = access.next_entry::<String, Entry>()? {
                let id: AssetId = key.parse().map_err(de::Error::custom)?;
                map.insert(id, entry);
            }
            Ok(map)
        }
    }
}
