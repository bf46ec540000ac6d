//! Keys: served from the cache, where only the processed key is kept (the
//! key processor's output, never what the key server sent); on a miss
//! fetched with the key extras, processed by kithara-hls's own rule, cached.

use bytes::Bytes;
use kithara_cache::CachePath;
use kithara_hls::{KeyContext, Target, process_key};

use crate::asset::Asset;
use crate::error::Refusal;
use crate::server::State;
use crate::upstream::Ask;

/// The most bytes a key server's answer may have.
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// The processed key at `path` of `asset`.
pub(crate) async fn key(
    state: &State,
    asset: &Asset,
    path: &CachePath,
    target: &Target,
) -> Result<Bytes, Refusal> {
    let lock = asset.lock(path);
    let _one_at_a_time = lock.lock().await;
    let (handle, p) = (asset.handle.clone(), path.clone());
    let cached = tokio::task::spawn_blocking(move || handle.read(&p))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    match cached {
        Some(key) if key.len() == 16 => {
            state.counters.hit(16);
            return Ok(key);
        }
        Some(bad) => {
            tracing::warn!(asset = %asset.id(), %path, len = bad.len(), "cached key unusable: fetching it again");
        }
        None => {}
    }
    state.counters.miss();
    let raw = state
        .upstream
        .get_whole(
            &target.url,
            Ask {
                key: true,
                home: &asset.source(),
            },
            MAX_KEY_BYTES,
        )
        .await
        .map_err(|e| e.refusal("the key"))?;
    let ctx = KeyContext {
        key_url: target.url.clone(),
        iv: None,
    };
    let key = process_key(state.key_processor.as_ref(), raw.bytes, ctx)
        .await
        .map_err(|e| Refusal::Upstream(e.to_string()))?;
    let (handle, p) = (asset.handle.clone(), path.clone());
    match tokio::task::spawn_blocking(move || handle.put_atomic(&p, &key)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(asset = %asset.id(), error = %e, "key not cached"),
        Err(e) => tracing::warn!(asset = %asset.id(), error = %e, "key not cached"),
    }
    Ok(Bytes::copy_from_slice(&key))
}
