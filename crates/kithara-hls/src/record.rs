//! Recording a live stream into the cache (`kithara fetch --live-for`):
//! follow the playlist for a while, fetch every key, init segment and
//! segment as it appears, then store a VOD playlist of what was fetched,
//! marked as a recording, so that the recording plays offline. Online a
//! recording is never used: the live playlist is followed again.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use url::Url;

use crate::error::HlsError;
use crate::live::Follower;
use crate::open::{Ctx, Unstored};
use crate::prefetch::{PrefetchProgress, PrefetchSummary, store_missing};
use crate::resource::Resource;
use crate::source::Source;

/// Where a recording is stored: the media playlist (URL and cache path),
/// the asset's source (the session URL), and a downloaded master not
/// cached yet.
pub(crate) struct Target {
    pub media: (Url, kithara_cache::CachePath),
    pub source: Url,
    pub top: Option<Unstored>,
}

/// Fetch item `idx` (its key first) into the cache unless it is there.
async fn record_item(ctx: &Ctx, idx: usize) -> Result<(Resource, Source, u64), HlsError> {
    let (res, key) = ctx.track.item(idx)?;
    if let Some(key) = key {
        ctx.keys.get(&ctx.loader, &key).await?;
    }
    let (source, bytes) = store_missing(ctx, &res).await?;
    Ok((res, source, bytes))
}

/// Follow the live track of `ctx` for `duration` (or to its end), fetching
/// each new item, then store the recording; the error that ended the
/// stream early, if any, comes after what was recorded is stored.
pub(crate) async fn record<F>(
    ctx: &Arc<Ctx>,
    follower: &mut Follower,
    target: Target,
    duration: Duration,
    mut progress: F,
) -> Result<PrefetchSummary, HlsError>
where
    F: FnMut(&PrefetchProgress) + Send,
{
    let until = Instant::now() + duration;
    let mut summary = PrefetchSummary::default();
    let mut done = 0;
    let ended = 'follow: loop {
        let known = ctx.track.len();
        while done < known {
            let (res, source, bytes) = match record_item(ctx, done).await {
                Ok(got) => got,
                Err(e) => break 'follow Err(e),
            };
            done += 1;
            summary.count(source, bytes);
            progress(&PrefetchProgress {
                variant: ctx.track.variant,
                done,
                total: known,
                kind: res.kind,
                url: res.url,
                source,
                bytes,
            });
        }
        match tokio::time::timeout_at(until, follower.more(done)).await {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) | Err(_) => break Ok(()),
            Ok(Err(e)) => break Err(e),
        }
    };
    store(ctx, target, done).await?;
    ended.map(|()| summary)
}

/// Store the recording of the first `items` items (nothing when no segment
/// was fetched) and the master it came from, and wait for the writes.
async fn store(ctx: &Ctx, target: Target, items: usize) -> Result<(), HlsError> {
    let Some(text) = ctx.track.recording(items) else {
        return Ok(());
    };
    let (url, path) = target.media;
    if let Some(top) = target.top {
        top.store(&ctx.loader).await?;
    }
    Unstored {
        final_url: url.clone(),
        url,
        path,
        bytes: Bytes::from(text),
        source: Some(target.source),
    }
    .store(&ctx.loader)
    .await?;
    ctx.loader.flush().await;
    Ok(())
}
