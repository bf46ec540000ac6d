//! Playlist freshness: a VOD playlist never changes; a live (or EVENT)
//! playlist is fetched again once its copy is older than half its target
//! duration (RFC 8216 §6.3.4, the reload interval after an unchanged
//! playlist, the shorter of the two), so it is never frozen.

use std::time::Instant;

use crate::asset::Loaded;

/// Whether `loaded` may be served without asking the origin again.
pub(crate) fn fresh(loaded: &Loaded, now: Instant) -> bool {
    if !loaded.map.is_live() {
        return true;
    }
    // A live copy read from the cache is of unknown age: stale.
    let (Some(fetched), Some(target)) = (loaded.fetched, loaded.map.target_duration()) else {
        return false;
    };
    now.saturating_duration_since(fetched) < target / 2
}
