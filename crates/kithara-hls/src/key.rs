//! Decryption keys: fetched once per URL and session, processed by the
//! caller's key processor, and cached *after* processing only. Key bytes are
//! never logged and never part of an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use tokio::sync::Mutex;
use url::Url;

use crate::error::HlsError;
use crate::fetch::header_map;
use crate::layout;
use crate::loader::Loader;
use crate::options::{KeyContext, KeyProcessor};
use crate::playlist::KeyRef;
use crate::resource::{Extras, Resource, ResourceKind};

/// An AES-128 key (16 bytes).
pub type Key = [u8; 16];

/// How errors and logs name a key URL: as it is, except an inline `data:`
/// URI, which holds the key itself.
pub(crate) fn key_name(url: &Url) -> String {
    if url.scheme() == "data" {
        "data: URI (inline key)".to_owned()
    } else {
        url.to_string()
    }
}

/// The bytes of an inline `data:` key URI (RFC 2397: base64 with
/// `;base64`, else percent-encoded). Errors never show the bytes.
fn data_bytes(url: &Url) -> Result<Bytes, HlsError> {
    let bad = |reason: &str| HlsError::Key {
        url: key_name(url),
        reason: reason.to_owned(),
    };
    let (meta, data) = url
        .path()
        .split_once(',')
        .ok_or_else(|| bad("data: URI without a comma"))?;
    if meta.to_ascii_lowercase().ends_with(";base64") {
        use base64::Engine as _;
        let text: String = percent_encoding::percent_decode_str(data)
            .decode_utf8()
            .map_err(|_| bad("data: URI is not base64"))?
            .split_ascii_whitespace()
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(|_| bad("data: URI is not base64"))
    } else {
        Ok(Bytes::from(
            percent_encoding::percent_decode_str(data).collect::<Vec<u8>>(),
        ))
    }
}

/// Run `processor` (if any) on the `raw` key bytes a key server sent, off
/// the async workers (a processor may block: DRM, HSM), and check that the
/// result is a 16-byte AES-128 key. What a session caches and decrypts
/// with, and what a proxy caches and serves. Errors name the key URL, never
/// key bytes.
pub async fn process_key(
    processor: Option<&KeyProcessor>,
    raw: Bytes,
    ctx: KeyContext,
) -> Result<Key, HlsError> {
    let url = key_name(&ctx.key_url);
    let bad = |reason: String| HlsError::Key {
        url: url.clone(),
        reason,
    };
    let processed = match processor {
        None => raw.to_vec(),
        Some(p) => {
            let p = Arc::clone(p);
            tokio::task::spawn_blocking(move || p(&raw, &ctx))
                .await
                .map_err(|e| HlsError::Task(e.to_string()))?
                .map_err(|e| bad(format!("key processor failed: {e}")))?
        }
    };
    Key::try_from(processed.as_slice()).map_err(|_| {
        bad(format!(
            "key is {} bytes after processing, expected 16",
            processed.len()
        ))
    })
}

/// A key ready for use, and whether it was read from the cache (a cached key
/// that does not decrypt may be corrupt, and is worth fetching again).
#[derive(Clone, Copy)]
pub(crate) struct UsableKey {
    pub key: Key,
    pub from_cache: bool,
}

/// The state of one key URL within a session.
#[derive(Default)]
struct KeySlot {
    /// Attempts that have finished (success or failure).
    finished: AtomicU64,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    key: Option<UsableKey>,
    last_error: Option<HlsError>,
}

/// Keys of one session, each fetched and processed at most once even when
/// several segment tasks need it at the same time. When an attempt fails,
/// every task that was waiting for it gets the same error instead of asking
/// the key server again; a later request (the reader trying again) retries.
///
/// A cached key that is unusable (wrong length, or a segment does not decrypt
/// with it) is fetched and processed again once, online, and the cached copy
/// overwritten; offline it is a [`HlsError::CachedKey`] naming the key.
pub(crate) struct KeyManager {
    slots: StdMutex<HashMap<Url, Arc<KeySlot>>>,
    processor: Option<KeyProcessor>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
}

impl KeyManager {
    /// Validates the extra headers now, so a bad one fails the session at open.
    pub(crate) fn new(
        processor: Option<KeyProcessor>,
        query: Vec<(String, String)>,
        headers: &[(String, String)],
    ) -> Result<Self, HlsError> {
        Ok(Self {
            slots: StdMutex::new(HashMap::new()),
            processor,
            query,
            headers: header_map(headers, "key header")?,
        })
    }

    fn slot(&self, url: &Url) -> Arc<KeySlot> {
        // The table is only ever locked for this lookup, which cannot panic
        // half-way: a poisoned lock still holds a consistent map.
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(slots.entry(url.clone()).or_default())
    }

    /// The key for `key`, from this session's memory, the cache or the network.
    pub(crate) async fn get(&self, loader: &Loader, key: &KeyRef) -> Result<UsableKey, HlsError> {
        let slot = self.slot(&key.url);
        let seen = slot.finished.load(Ordering::Acquire);
        let mut state = slot.state.lock().await;
        if let Some(k) = state.key {
            return Ok(k);
        }
        if slot.finished.load(Ordering::Acquire) != seen
            && let Some(e) = &state.last_error
        {
            // An attempt failed while we waited for it: share its outcome.
            return Err(e.clone());
        }
        let got = self.load(loader, key).await;
        match &got {
            Ok(k) => state.key = Some(*k),
            Err(e) => state.last_error = Some(e.clone()),
        }
        slot.finished.fetch_add(1, Ordering::AcqRel);
        got
    }

    /// `bad`, a key read from the cache, did not decrypt `resource`
    /// (`reason`): fetch and process the key again and overwrite the cached
    /// copy (online), or fail with [`HlsError::CachedKey`] (offline). Tasks
    /// that hit the same bad key at once share one refetch.
    pub(crate) async fn replace_cached(
        &self,
        loader: &Loader,
        key: &KeyRef,
        bad: &Key,
        reason: String,
    ) -> Result<Key, HlsError> {
        let slot = self.slot(&key.url);
        let mut state = slot.state.lock().await;
        if let Some(k) = state.key
            && k.key != *bad
        {
            return Ok(k.key); // another task replaced it already
        }
        if loader.is_offline() {
            return Err(HlsError::CachedKey {
                url: key_name(&key.url),
                reason,
            });
        }
        tracing::warn!(url = %key_name(&key.url), %reason, "cached key unusable: fetching it again");
        let fresh = self.fetch(loader, key).await?;
        state.key = Some(UsableKey {
            key: fresh,
            from_cache: false,
        });
        Ok(fresh)
    }

    /// The resource a key is cached as.
    pub(crate) fn resource(url: &Url) -> Result<Resource, HlsError> {
        Ok(Resource {
            kind: ResourceKind::Key,
            url: url.clone(),
            range: None,
            path: layout::key(url)?,
        })
    }

    async fn load(&self, loader: &Loader, key: &KeyRef) -> Result<UsableKey, HlsError> {
        let res = Self::resource(&key.url)?;
        if let Some(cached) = loader.cached(&res).await? {
            match Key::try_from(cached.as_ref()) {
                Ok(k) => {
                    return Ok(UsableKey {
                        key: k,
                        from_cache: true,
                    });
                }
                Err(_) => {
                    let reason = format!("cached key is {} bytes, expected 16", cached.len());
                    if loader.is_offline() {
                        return Err(HlsError::CachedKey {
                            url: key_name(&key.url),
                            reason,
                        });
                    }
                    tracing::warn!(url = %key_name(&key.url), %reason, "cached key unusable: fetching it again");
                }
            }
        }
        Ok(UsableKey {
            key: self.fetch(loader, key).await?,
            from_cache: false,
        })
    }

    /// Download, process and cache (over any cached copy) the key.
    async fn fetch(&self, loader: &Loader, key: &KeyRef) -> Result<Key, HlsError> {
        let res = Self::resource(&key.url)?;
        let raw = if key.url.scheme() == "data" {
            // In the playlist itself: no request, offline too.
            data_bytes(&key.url)?
        } else {
            loader
                .download(
                    &res,
                    Extras {
                        query: &self.query,
                        headers: Some(&self.headers),
                        validator: None,
                    },
                )
                .await?
                .bytes
        };
        let ctx = KeyContext {
            key_url: key.url.clone(),
            iv: Some(key.iv),
        };
        let out = process_key(self.processor.as_ref(), raw, ctx).await?;
        loader.store(&res, Bytes::copy_from_slice(&out)).await?;
        tracing::debug!(url = %key_name(&key.url), "key fetched, processed and cached");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keys_decode_and_errors_do_not_show_them() {
        let url = |s: &str| Url::parse(s).unwrap();
        let key = b"0123456789abcdef";
        let b64 = url("data:application/octet-stream;base64,MDEyMzQ1Njc4OWFiY2RlZg==");
        assert_eq!(&data_bytes(&b64).unwrap()[..], key);
        let pct = url("data:,0123456789abcde%66");
        assert_eq!(&data_bytes(&pct).unwrap()[..], key);
        let err = data_bytes(&url("data:;base64,M!!DEy")).unwrap_err();
        assert!(!err.to_string().contains("M!!DEy"), "{err}");
        assert_eq!(key_name(&b64), "data: URI (inline key)");
        assert_eq!(key_name(&url("https://k/x")), "https://k/x");
    }

    #[test]
    fn bad_headers_are_rejected_without_echoing_the_value() {
        let err = KeyManager::new(None, vec![], &[("x-token".into(), "sec\nret".into())])
            .err()
            .unwrap();
        assert!(!err.to_string().contains("sec"), "{err}");
        assert!(KeyManager::new(None, vec![], &[("bad name".into(), "v".into())]).is_err());
        assert!(KeyManager::new(None, vec![], &[("x-ok".into(), "v".into())]).is_ok());
    }
}
