//! Expired signed URLs: CDNs sign segment and key URLs with a token that
//! expires, so the URLs of a cached VOD playlist stop working after a while.
//! When a segment, init segment or key answers 403, 404 or 410 online, the
//! VOD's media playlist is fetched again (once for all the fetches that hit
//! the same expiry), its segments are mapped to the track's by media
//! sequence number, it replaces the cached playlist, and the fetch is tried
//! once more with the new URL. Offline nothing expires: the cached copy is
//! used as it is. Cached segments are named by sequence number, so they stay
//! valid.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::error::HlsError;
use crate::open::{Ctx, Unstored};
use crate::playlist::{Vars, parse_media};
use crate::resource::{Extras, Resource};

/// Whether `e` is what an expired signed URL answers.
fn expired(e: &HlsError) -> bool {
    matches!(
        e,
        HlsError::Http {
            status: 403 | 404 | 410,
            ..
        }
    )
}

/// The media playlist of a session and the refreshes made of it.
pub(crate) struct Refresh {
    /// The media playlist (the top playlist when a media playlist was opened).
    playlist: Resource,
    max_segments: usize,
    /// The master's variables, for `EXT-X-DEFINE:IMPORT`.
    imports: Vars,
    /// Bumped by each refresh: a fetch that failed with the URLs of an older
    /// generation retries without fetching the playlist again.
    generation: AtomicU64,
    /// One refresh at a time.
    lock: Mutex<()>,
    /// The URLs whose failure caused a refresh: one that fails again with
    /// URLs as fresh as the last refresh gave is refused for good, so a
    /// resource the CDN really refuses costs one refetch, not one per fetch
    /// in flight.
    tried: parking_lot::Mutex<HashSet<String>>,
}

impl Refresh {
    pub(crate) fn new(playlist: Resource, max_segments: usize, imports: Vars) -> Self {
        Self {
            playlist,
            max_segments,
            imports,
            generation: AtomicU64::new(0),
            lock: Mutex::new(()),
            tried: parking_lot::Mutex::new(HashSet::new()),
        }
    }

    /// Fetch the playlist again unless a refresh happened since
    /// `generation` (then the caller just retries); `cause` is returned
    /// when its URL already caused a refresh, or when the new playlist
    /// cannot stand in for the old (not a VOD, or not one segment in
    /// common).
    async fn run(&self, ctx: &Ctx, generation: u64, cause: &HlsError) -> Result<(), HlsError> {
        let _one = self.lock.lock().await;
        if self.generation.load(Ordering::Acquire) != generation {
            return Ok(());
        }
        let url = cause.url().unwrap_or_default().to_owned();
        if !self.tried.lock().insert(url) {
            return Err(cause.clone());
        }
        let resp = ctx
            .loader
            .download(&self.playlist, Extras::default())
            .await?;
        let fresh = parse_media(
            &resp.final_url,
            &resp.bytes,
            self.max_segments,
            &self.imports,
        )?;
        if !fresh.ended {
            return Err(cause.clone());
        }
        let mapped = ctx.track.refresh(fresh);
        tracing::info!(url = %self.playlist.url, mapped, "playlist fetched again after an expired URL");
        if mapped == 0 {
            return Err(cause.clone());
        }
        Unstored {
            url: self.playlist.url.clone(),
            path: self.playlist.path.clone(),
            final_url: resp.final_url,
            bytes: resp.bytes,
            source: None,
        }
        .store(&ctx.loader)
        .await?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// Run `attempt` (which builds its resources from the track each time);
/// if it fails the way an expired URL does, online and on a VOD, fetch the
/// playlist again and run it once more.
pub(crate) async fn with_fresh_urls<'a, T, F, Fut>(ctx: &'a Ctx, attempt: F) -> Result<T, HlsError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, HlsError>> + 'a,
{
    let generation = ctx.refresh.generation.load(Ordering::Acquire);
    match attempt().await {
        Err(e) if expired(&e) && !ctx.loader.is_offline() && !ctx.track.is_live() => {
            tracing::debug!(error = %e, "a URL may have expired");
            ctx.refresh.run(ctx, generation, &e).await?;
            attempt().await
        }
        other => other,
    }
}
