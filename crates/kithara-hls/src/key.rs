//! Decryption keys: fetched once per URL and session, processed by the
//! caller's key processor, and cached *after* processing only. Key bytes are
//! never logged and never part of an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use bytes::Bytes;
use kithara_cache::CachePath;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use url::Url;

use crate::error::HlsError;
use crate::options::{KeyContext, KeyProcessor};
use crate::playlist::KeyRef;
use crate::resource::{Extras, Loader, Resource, ResourceKind};

/// An AES-128 key.
pub(crate) type Key = [u8; 16];

/// Where the processed key of `url` is cached: `keys/<sha256(url)>.key`.
pub(crate) fn key_cache_path(url: &Url) -> Result<CachePath, HlsError> {
    let digest = Sha256::digest(url.as_str().as_bytes());
    Ok(CachePath::parse(&format!(
        "keys/{}.key",
        hex::encode(digest)
    ))?)
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
    key: Option<Key>,
    last_error: Option<HlsError>,
}

/// Keys of one session, each fetched and processed at most once even when
/// several segment tasks need it at the same time. When an attempt fails,
/// every task that was waiting for it gets the same error instead of asking
/// the key server again; a later request (the reader trying again) retries.
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
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| HlsError::ClientSetup {
                reason: format!("invalid key header name {name:?}"),
            })?;
            // The value may be a secret: never echo it.
            let mut v = HeaderValue::from_str(value).map_err(|_| HlsError::ClientSetup {
                reason: format!("invalid value for key header {name:?}"),
            })?;
            v.set_sensitive(true);
            map.append(n, v);
        }
        Ok(Self {
            slots: StdMutex::new(HashMap::new()),
            processor,
            query,
            headers: map,
        })
    }

    /// The key for `key`, from this session's memory, the cache or the network.
    pub(crate) async fn get(&self, loader: &Loader, key: &KeyRef) -> Result<Key, HlsError> {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .map_err(|_| HlsError::Task("key table poisoned".into()))?;
            Arc::clone(slots.entry(key.url.clone()).or_default())
        };
        let seen = slot.finished.load(Ordering::Acquire);
        let mut state = slot.state.lock().await;
        if let Some(k) = state.key {
            return Ok(k);
        }
        if slot.finished.load(Ordering::Acquire) != seen
            && let Some(e) = &state.last_error
        {
            // An attempt failed while we waited for it: share its outcome.
            return Err(e.duplicate());
        }
        let got = self.load(loader, key).await;
        match &got {
            Ok(k) => state.key = Some(*k),
            Err(e) => state.last_error = Some(e.duplicate()),
        }
        slot.finished.fetch_add(1, Ordering::AcqRel);
        got
    }

    /// The resource a key is cached as.
    pub(crate) fn resource(url: &Url) -> Result<Resource, HlsError> {
        Ok(Resource {
            kind: ResourceKind::Key,
            url: url.clone(),
            range: None,
            path: key_cache_path(url)?,
        })
    }

    async fn load(&self, loader: &Loader, key: &KeyRef) -> Result<Key, HlsError> {
        let res = Self::resource(&key.url)?;
        let bad = |reason: String| HlsError::Key {
            url: key.url.to_string(),
            reason,
        };
        if let Some(cached) = loader.cached(&res).await? {
            return Key::try_from(cached.as_ref())
                .map_err(|_| bad(format!("cached key is {} bytes, expected 16", cached.len())));
        }
        let raw = loader
            .download(
                &res,
                Extras {
                    query: &self.query,
                    headers: Some(&self.headers),
                },
            )
            .await?
            .bytes;
        let processed = match &self.processor {
            None => raw.to_vec(),
            Some(p) => {
                let ctx = KeyContext {
                    key_url: key.url.clone(),
                    iv: Some(key.iv),
                };
                p(&raw, &ctx).map_err(|e| bad(format!("key processor failed: {e}")))?
            }
        };
        drop(raw);
        let out = Key::try_from(processed.as_slice()).map_err(|_| {
            bad(format!(
                "key is {} bytes after processing, expected 16",
                processed.len()
            ))
        })?;
        loader.store(&res, Bytes::from(processed)).await?;
        tracing::debug!(url = %key.url, "key fetched, processed and cached");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_is_full_sha256_of_url() {
        let u = Url::parse("https://k.example/key?id=1").unwrap();
        let p = key_cache_path(&u).unwrap().to_string();
        assert!(p.starts_with("keys/"));
        assert!(p.ends_with(".key"));
        assert_eq!(p.len(), "keys/".len() + 64 + ".key".len());
        let other = key_cache_path(&Url::parse("https://k.example/key?id=2").unwrap()).unwrap();
        assert_ne!(p, other.to_string());
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
