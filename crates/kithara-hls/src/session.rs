//! `HlsSession`: the virtual byte stream of one variant (init segment, then
//! segments in order, decrypted), read through the cache with look-ahead.

use std::io::SeekFrom;
use std::sync::Arc;

use bytes::Bytes;
use kithara_cache::{AssetId, CachePath};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinSet;
use url::Url;

use crate::BlockingReader;
use crate::crypto::{DecryptError, decrypt_aes128_cbc};
use crate::error::HlsError;
use crate::key::{Key, KeyManager};
use crate::live::Follower;
use crate::lookahead::{ItemFetcher, Lookahead};
use crate::open::Unstored;
use crate::open::{Ctx, Opened, open};
use crate::options::{HlsOptions, Rendition};
use crate::playlist::{RenditionInfo, VariantInfo};
use crate::prefetch::{self, PrefetchProgress, PrefetchSummary};
use crate::probe;
use crate::record;
use crate::refresh::with_fresh_urls;
use crate::resource::ResourceKind;
use crate::sizes::Sizes;
use crate::source::{Fetched, SessionStats, Source};

/// The most items [`HlsSession::read_to_end`] reads from the cache in one go.
const BATCH_ITEMS: usize = 64;
/// The bytes after which it stops a batch (it ends with the item that
/// crossed the bound).
const BATCH_BYTES: u64 = 16 << 20;

impl ItemFetcher for Ctx {
    async fn fetch(self: Arc<Self>, item: usize) -> Result<Fetched, HlsError> {
        fetch_item(&self, item).await
    }
}

/// Fetch item `idx` and decrypt it. The key is obtained first so that a key
/// failure costs no segment download. A cached key the item does not decrypt
/// with (bad padding) may be corrupt: it is replaced (`KeyManager::
/// replace_cached`) and the item decrypted once more.
pub(crate) async fn fetch_item(ctx: &Ctx, idx: usize) -> Result<Fetched, HlsError> {
    let (res, key, fetched) = with_fresh_urls(ctx, || async move {
        let (res, key_ref) = ctx.track.item(idx)?;
        let key = match key_ref {
            Some(k) => {
                let usable = ctx.keys.get(&ctx.loader, &k).await?;
                Some((k, usable))
            }
            None => None,
        };
        let fetched = ctx.loader.load_segment(&res).await?;
        Ok((res, key, fetched))
    })
    .await?;
    let Some((key_ref, key)) = key else {
        return Ok(fetched);
    };
    let key_ref = &key_ref;
    // Kept for a second attempt only when the key may be the culprit.
    let again = key.from_cache.then(|| fetched.bytes.clone());
    let plain = match decrypt(key.key, key_ref.iv, fetched.bytes).await? {
        Err(DecryptError::Padding) if let Some(bytes) = again => {
            let reason = format!(
                "{} does not decrypt with it ({})",
                res.url,
                DecryptError::Padding.reason()
            );
            let fresh = ctx
                .keys
                .replace_cached(&ctx.loader, key_ref, &key.key, reason)
                .await?;
            decrypt(fresh, key_ref.iv, bytes).await?
        }
        other => other,
    };
    let plain = plain.map_err(|e| HlsError::Decrypt {
        url: res.url.to_string(),
        reason: e.reason(),
    })?;
    Ok(Fetched {
        bytes: Bytes::from(plain),
        source: fetched.source,
    })
}

/// Decrypt on the blocking pool (segments can be megabytes).
async fn decrypt(
    key: Key,
    iv: [u8; 16],
    bytes: Bytes,
) -> Result<Result<Vec<u8>, DecryptError>, HlsError> {
    tokio::task::spawn_blocking(move || decrypt_aes128_cbc(&key, &iv, Vec::from(bytes)))
        .await
        .map_err(|e| HlsError::Task(e.to_string()))
}

/// One resource of a session, for listings and progress bars.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// What it is.
    pub kind: ResourceKind,
    /// Where it comes from.
    pub url: Url,
    /// Where it is cached, relative to the asset directory.
    pub cache_path: String,
}

struct Current {
    start: u64,
    data: Bytes,
    source: Source,
}

enum Located {
    /// The item holding the position, with its start offset (size may be unknown).
    Item(usize, u64),
    /// At or past the end of a stream whose length is known.
    End,
}

/// An open HLS VOD: read it like a file.
///
/// The stream is the chosen variant's first init segment, its segments in
/// order (decrypted), and any later init segment where it starts to apply.
/// Every resource goes through the cache; segments are fetched ahead of the
/// reader (see [`HlsOptions::lookahead_segments`] and
/// [`HlsOptions::lookahead_bytes`]). The session pins its asset while alive.
pub struct HlsSession {
    pub(crate) ctx: Arc<Ctx>,
    lookahead: Lookahead<Ctx>,
    url: Url,
    asset_id: AssetId,
    variants: Vec<VariantInfo>,
    pub(crate) top_path: String,
    pub(crate) media_playlist: Option<(Url, String)>,
    /// Plaintext size of each item, once known, and where each starts.
    sizes: Sizes,
    pos: u64,
    current: Option<Current>,
    /// Whether an item was loaded: the first load waits for the cache writes.
    loaded_once: bool,
    /// The follower of a live playlist: the track grows behind the reader.
    live: Option<Follower>,
    /// A live stream's downloaded master, for a recording to store.
    live_top: Option<Unstored>,
    renditions: Vec<RenditionInfo>,
    /// What it was opened with (a prefetch opens its renditions alike).
    options: HlsOptions,
}

impl std::fmt::Debug for HlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsSession")
            .field("url", &self.url.as_str())
            .field("asset_id", &self.asset_id)
            .field("variant", &self.ctx.track.variant)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl HlsSession {
    /// Open the HLS VOD at `url` (a master playlist, or a media playlist).
    ///
    /// Loads the playlists (from the cache, else the network), picks the
    /// variant and pins the asset. Downloaded playlists and the asset's
    /// source URL are written behind (see [`flush`](Self::flush)): they are
    /// in the cache once the first read has returned. Nothing else is
    /// fetched before the first read.
    pub async fn open(url: impl AsRef<str>, options: HlsOptions) -> Result<Self, HlsError> {
        let Opened {
            ctx,
            url,
            asset_id,
            variants,
            top_path,
            media_playlist,
            live,
            renditions,
            live_top,
        } = open(url.as_ref(), &options).await?;
        let n = ctx.track.len();
        let sizes = Sizes::with_hints(n, |i| ctx.track.size_hint(i));
        let lookahead = Lookahead::new(
            Arc::clone(&ctx),
            n,
            options.lookahead_segments,
            options.lookahead_bytes,
        );
        let live = live.map(|start| Follower::start(Arc::clone(&ctx), start));
        Ok(Self {
            ctx,
            lookahead,
            url,
            asset_id,
            variants,
            top_path: top_path.to_string(),
            media_playlist: media_playlist.map(|(u, p)| (u, p.to_string())),
            sizes,
            pos: 0,
            current: None,
            loaded_once: false,
            live,
            live_top,
            renditions,
            options,
        })
    }

    /// The URL the session was opened with.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The asset all resources of this session are cached under.
    pub fn asset_id(&self) -> AssetId {
        self.asset_id
    }

    /// The variants of the master playlist (empty when a media playlist was opened).
    pub fn variants(&self) -> &[VariantInfo] {
        &self.variants
    }

    /// The renditions of the master playlist (`EXT-X-MEDIA` with a `URI`;
    /// empty when a media playlist was opened).
    pub fn renditions(&self) -> &[RenditionInfo] {
        &self.renditions
    }

    /// The index of the variant being played (0 for a media playlist).
    pub fn variant_index(&self) -> usize {
        self.ctx.track.variant
    }

    /// The number of media segments of the variant (so far, for a live
    /// playlist).
    pub fn segment_count(&self) -> usize {
        self.ctx.track.segment_count()
    }

    /// Whether the session follows a live (or EVENT) playlist: one without
    /// `EXT-X-ENDLIST` when it was opened. Reads then wait for segments to
    /// appear and end at `EXT-X-ENDLIST`
    /// (see [`HlsOptions::follow_live`]).
    pub fn is_live(&self) -> bool {
        self.ctx.track.is_live()
    }

    /// Whether the session runs without network.
    pub fn is_offline(&self) -> bool {
        self.ctx.loader.is_offline()
    }

    /// A snapshot of the counters: hits, misses and bytes by source. Cache
    /// writes run behind the reader, so their outcomes (`cache_full`,
    /// `cache_write_errors`) are counted as they finish; call
    /// [`flush`](Self::flush) first for the count of everything read so far.
    pub fn stats(&self) -> SessionStats {
        self.ctx.loader.stats().snapshot()
    }

    /// Where the last bytes returned by `read` came from.
    pub fn last_source(&self) -> Option<Source> {
        self.current.as_ref().map(|c| c.source)
    }

    /// The current position in the stream.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The stream length, once the size of every item is known (for a live
    /// playlist, once it has ended and been read to the end). Sizes learned
    /// without a read ([`content_length`](Self::content_length)) count.
    pub fn len(&self) -> Option<u64> {
        (self.live.is_none() && self.sizes.known() == self.sizes.len())
            .then(|| self.sizes.known_end())
    }

    /// Whether the stream is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The stream length, learning every item's size without downloading
    /// the items where it can (see [`seek_time`](Self::seek_time)). For a
    /// live playlist this waits for its end.
    pub async fn content_length(&mut self) -> Result<u64, HlsError> {
        loop {
            if let Some(len) = self.len() {
                return Ok(len);
            }
            if self.sizes.known() == self.sizes.len() {
                // A live stream at the end of what is known so far.
                self.grow().await?;
                continue;
            }
            self.learn_sizes(self.sizes.len()).await?;
        }
    }

    /// The duration of the track by `EXTINF` (so far, for a live playlist),
    /// gaps included.
    pub fn duration(&self) -> std::time::Duration {
        self.ctx.track.duration()
    }

    /// Move to time `t` from the start of the track (by the segments'
    /// `EXTINF`): to the start of the segment that contains it (of the init
    /// segment before it, when one starts to apply there; of the next
    /// segment, when `t` falls in an `EXT-X-GAP`). Returns the new byte
    /// position.
    ///
    /// The segments before are not downloaded: their sizes are learned from
    /// the playlist's byte ranges, the cache, `HEAD` requests and, for
    /// encrypted ones, their last 32 bytes (see the crate's README), at most
    /// [`HlsOptions::lookahead_segments`] at a time. A live session seeks in
    /// what its playlist lists so far. At the end of the track or past it
    /// the position stays and the error is [`HlsError::SeekPastEnd`].
    ///
    /// Learned sizes are hints: the read that loads an item checks its
    /// length, and when it differs (a server whose `HEAD` disagrees with
    /// its `GET`), the positions after the item move by the difference
    /// (logged as a warning) and the stream goes on with the real bytes.
    pub async fn seek_time(&mut self, t: std::time::Duration) -> Result<u64, HlsError> {
        let Some(idx) = self.ctx.track.item_at(t) else {
            return Err(HlsError::SeekPastEnd {
                requested: t,
                duration: self.duration(),
            });
        };
        self.learn_sizes(idx).await?;
        self.pos = self.sizes.start(idx);
        Ok(self.pos)
    }

    /// Learn the sizes of items `..upto` not known yet, probing them
    /// concurrently (at most `lookahead_segments` at a time).
    async fn learn_sizes(&mut self, upto: usize) -> Result<(), HlsError> {
        // Items not yet probed start at `next` (those before are known or
        // being probed).
        let mut next = self.sizes.known();
        let limit = self.ctx.lookahead_segments.max(1);
        let mut set = JoinSet::new();
        loop {
            while set.len() < limit {
                let Some(idx) = (next..upto).find(|&i| self.sizes.get(i).is_none()) else {
                    break;
                };
                next = idx + 1;
                let ctx = Arc::clone(&self.ctx);
                set.spawn(async move { (idx, probe::item_len(&ctx, idx).await) });
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            match joined.map_err(|e| HlsError::Task(e.to_string())) {
                Ok((idx, Ok(len))) => self.sizes.set_probed(idx, len),
                Ok((_, Err(e))) | Err(e) => {
                    set.shutdown().await;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// A live stream read to the end of what is known: wait for more items
    /// (`true`), or for its end (`false`, and the session is a VOD from
    /// now on). A VOD has no more.
    async fn grow(&mut self) -> Result<bool, HlsError> {
        let Some(live) = &mut self.live else {
            return Ok(false);
        };
        match live.more(self.sizes.len()).await? {
            Some(n) => {
                for i in self.sizes.len()..n {
                    self.sizes.push(self.ctx.track.size_hint(i));
                }
                self.lookahead.grow(n);
                Ok(true)
            }
            None => {
                self.live = None;
                Ok(false)
            }
        }
    }

    fn locate(&self, pos: u64) -> Located {
        let known = self.sizes.known();
        let known_end = self.sizes.known_end();
        if pos < known_end {
            let (idx, start) = self.sizes.find(pos);
            Located::Item(idx, start)
        } else if known == self.sizes.len() {
            Located::End
        } else {
            Located::Item(known, known_end)
        }
    }

    /// Record that item `idx` is `len` bytes, as a read found it: a byte
    /// range that said otherwise is a bad answer; a probed length that said
    /// otherwise moves the starts of the items after it.
    fn settle_size(&mut self, idx: usize, len: u64) -> Result<(), HlsError> {
        let probed = self.sizes.take_probed(idx);
        if let Some(hint) = self.sizes.get(idx)
            && hint != len
        {
            let (res, _) = self.ctx.track.item(idx)?;
            if !probed {
                // The playlist's byte range said so: the answer is wrong.
                return Err(HlsError::BadResponse {
                    url: res.url.to_string(),
                    reason: format!("expected {hint} bytes, got {len}"),
                });
            }
            tracing::warn!(url = %res.url, probed = hint, read = len,
                "an item's length differs from its probe: the positions after it move");
        }
        self.sizes.set(idx, len);
        Ok(())
    }

    async fn load(&mut self, idx: usize, start: u64) -> Result<(), HlsError> {
        let f = self.lookahead.take(idx).await?;
        if !self.loaded_once {
            // The playlists, keys and this item are on disk before the
            // first byte is returned; after that, writes run behind.
            self.ctx.loader.flush().await;
            self.loaded_once = true;
        }
        self.settle_size(idx, f.bytes.len() as u64)?;
        self.current = Some(Current {
            start,
            data: f.bytes,
            source: f.source,
        });
        Ok(())
    }

    /// Read up to `buf.len()` bytes at the current position; 0 at the end.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, HlsError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(cur) = &self.current {
                let end = cur.start + cur.data.len() as u64;
                if self.pos >= cur.start && self.pos < end {
                    let off = (self.pos - cur.start) as usize;
                    let n = buf.len().min(cur.data.len() - off);
                    buf[..n].copy_from_slice(&cur.data[off..off + n]);
                    self.pos += n as u64;
                    return Ok(n);
                }
            }
            match self.locate(self.pos) {
                Located::End => {
                    if !self.grow().await? {
                        return Ok(0);
                    }
                }
                // Loading always makes progress: either the item holds the
                // position, or its size becomes known and the next is located.
                Located::Item(idx, start) => self.load(idx, start).await?,
            }
        }
    }

    /// Read the rest of the stream into `out`; returns the bytes read.
    ///
    /// Each item is appended to `out` whole. On a multi-thread runtime,
    /// clear items found in the cache while no look-ahead is in flight are
    /// read from their files (through a small buffer, see
    /// `Loader::append_cached`), up to 64 items or 16 MiB at a time, on
    /// this task (`block_in_place`): no task nor blocking-pool hand-off per
    /// item.
    pub async fn read_to_end(&mut self, out: &mut Vec<u8>) -> Result<usize, HlsError> {
        let before = out.len();
        loop {
            if let Some(cur) = &self.current {
                let end = cur.start + cur.data.len() as u64;
                if self.pos >= cur.start && self.pos < end {
                    let off = (self.pos - cur.start) as usize;
                    out.extend_from_slice(&cur.data[off..]);
                    self.pos = end;
                }
            }
            match self.locate(self.pos) {
                Located::End => {
                    if !self.grow().await? {
                        return Ok(out.len() - before);
                    }
                }
                Located::Item(idx, start) => {
                    if start == self.pos
                        && self.lookahead.is_idle()
                        && self.append_cached(idx, out).await?
                    {
                        continue;
                    }
                    self.load(idx, start).await?;
                }
            }
        }
    }

    /// `read_to_end`'s cached path: append the clear items from `idx` on
    /// that are cached whole, straight from their files; false when not one
    /// is (or the runtime cannot block in place), for the normal path.
    async fn append_cached(&mut self, idx: usize, out: &mut Vec<u8>) -> Result<bool, HlsError> {
        if Handle::current().runtime_flavor() != RuntimeFlavor::MultiThread {
            return Ok(false);
        }
        let end = (idx + BATCH_ITEMS).min(self.sizes.len());
        let mut batch = Vec::with_capacity(end - idx);
        for i in idx..end {
            match self.ctx.track.item(i)? {
                (res, None) => batch.push(res),
                (_, Some(_)) => break, // encrypted: decrypted by the normal path
            }
        }
        if batch.is_empty() {
            return Ok(false);
        }
        if !self.loaded_once {
            // As `load`: the playlists are on disk before the first byte.
            self.ctx.loader.flush().await;
        }
        let loader = &self.ctx.loader;
        let lens = tokio::task::block_in_place(|| loader.append_cached(&batch, out, BATCH_BYTES))?;
        if lens.is_empty() {
            return Ok(false);
        }
        self.loaded_once = true;
        for (k, &len) in lens.iter().enumerate() {
            self.settle_size(idx + k, len)?;
            self.pos += len;
        }
        self.current = Some(Current {
            start: self.pos,
            data: Bytes::new(),
            source: Source::Cache,
        });
        Ok(true)
    }

    /// Move the position, like [`std::io::Seek::seek`]. Seeking from the end
    /// first learns the length ([`content_length`](Self::content_length));
    /// seeking anywhere else is free until the next read.
    pub async fn seek(&mut self, pos: SeekFrom) -> Result<u64, HlsError> {
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.content_length().await?.checked_add_signed(d),
        };
        let target = target.ok_or(HlsError::InvalidSeek)?;
        self.pos = target;
        Ok(target)
    }

    /// Every resource of the chosen variant: playlists, keys, init segments
    /// and segments, with their cache paths.
    pub fn resources(&self) -> Vec<ResourceInfo> {
        let track = &self.ctx.track;
        let mut out = vec![ResourceInfo {
            kind: ResourceKind::Playlist,
            url: self.url().clone(),
            cache_path: self.top_path.clone(),
        }];
        if let Some((url, path)) = &self.media_playlist {
            out.push(ResourceInfo {
                kind: ResourceKind::Playlist,
                url: url.clone(),
                cache_path: path.clone(),
            });
        }
        for key in track.keys() {
            if let Ok(res) = KeyManager::resource(&key.url) {
                out.push(ResourceInfo {
                    kind: ResourceKind::Key,
                    url: res.url,
                    cache_path: res.path.to_string(),
                });
            }
        }
        // Building a segment's resource cannot fail for a parsed playlist;
        // a listing skips what it cannot name rather than failing.
        for res in track.media_resources().filter_map(Result::ok) {
            out.push(ResourceInfo {
                kind: res.kind,
                url: res.url.clone(),
                cache_path: res.path.to_string(),
            });
        }
        out
    }

    /// Download every key, init segment and segment of the chosen variant
    /// that is not cached yet, without decrypting or reading them, with up to
    /// [`HlsOptions::lookahead_segments`] downloads at a time. `progress` is
    /// called once per resource. Playlists were loaded by `open`.
    ///
    /// The renditions of the variant's `AUDIO` and `SUBTITLES` groups
    /// (`EXT-X-MEDIA` with a `URI`) are fetched too, each under `r{n}/`
    /// (not when the session itself plays a rendition).
    pub async fn prefetch_all<F>(&self, mut progress: F) -> Result<PrefetchSummary, HlsError>
    where
        F: FnMut(&PrefetchProgress) + Send,
    {
        let mut summary = self.prefetch_track(&mut progress).await?;
        if self.options.rendition.is_some() {
            return Ok(summary);
        }
        let Some(variant) = self.variants().get(self.variant_index()) else {
            return Ok(summary);
        };
        let groups = [variant.audio.as_ref(), variant.subtitles.as_ref()];
        for r in self.renditions() {
            if !groups.contains(&Some(&r.group)) {
                continue;
            }
            let mut opts = self.options.clone();
            opts.rendition = Some(Rendition::Index(r.index));
            let session = HlsSession::open(self.url().as_str(), opts).await?;
            let fetched = session.prefetch_track(&mut progress).await;
            session.close().await;
            summary.add(fetched?);
        }
        Ok(summary)
    }

    /// [`prefetch_all`](Self::prefetch_all) of this session's own track.
    async fn prefetch_track<F>(&self, progress: F) -> Result<PrefetchSummary, HlsError>
    where
        F: FnMut(&PrefetchProgress) + Send,
    {
        let playlist = self.media_playlist.as_ref().map_or(&self.url, |(u, _)| u);
        prefetch::track(&self.ctx, &self.url, playlist, progress).await
    }

    /// Record a live stream into the cache: follow it for `duration` (or to
    /// its `EXT-X-ENDLIST`), fetching every key, init segment and segment as
    /// it appears, then store a VOD playlist of what was fetched, marked as
    /// a recording: offline the recording plays; online a recording is
    /// never used (the live playlist is followed again). Call it on a fresh
    /// session, instead of reading. On a VOD it is
    /// [`prefetch_all`](Self::prefetch_all). If the stream fails early
    /// (stalled, a failed reload or fetch), what was recorded is stored and
    /// the error returned.
    pub async fn record_live<F>(
        &mut self,
        duration: std::time::Duration,
        progress: F,
    ) -> Result<PrefetchSummary, HlsError>
    where
        F: FnMut(&PrefetchProgress) + Send,
    {
        let Some(follower) = &mut self.live else {
            return self.prefetch_all(progress).await;
        };
        let media = match &self.media_playlist {
            Some((url, path)) => (url.clone(), CachePath::parse(path)?),
            None => (self.url.clone(), CachePath::parse(&self.top_path)?),
        };
        let target = record::Target {
            media,
            source: self.url.clone(),
            top: self.live_top.take(),
        };
        record::record(&self.ctx, follower, target, duration, progress).await
    }

    /// End the session and wait until nothing it started is still running:
    /// look-ahead fetches are aborted (their partial downloads never reach the
    /// cache) and in-flight cache writes finish. After this, dropping the
    /// caller's `AssetCache` releases the cache directory. Dropping a session
    /// without `close` is fine too; its tasks then end in the background,
    /// and its queued cache writes land after its pin on the asset is gone
    /// (so an eviction may take them) and keep the cache open until then.
    pub async fn close(mut self) {
        if let Some(live) = &mut self.live {
            live.shutdown().await;
        }
        self.lookahead.shutdown().await;
        self.ctx.loader.quiesce().await;
    }

    /// Waits until every resource downloaded so far is in the cache, or
    /// its write has failed and been counted in [`stats`](Self::stats).
    /// Writes run behind the reader, at most a few at a time, so a session
    /// streams at the speed of the slower of the network and the disk. Only
    /// the first item loaded waits for them (a read that returned bytes has
    /// left its playlists, keys and first item on disk), and
    /// [`close`](Self::close) waits for all.
    pub async fn flush(&self) {
        self.ctx.loader.flush().await;
    }

    /// A blocking reader (`std::io::Read + Seek`) over this session; see
    /// [`BlockingReader`]. Called outside a multi-thread tokio runtime, the
    /// reader starts a runtime of its own; if that fails, so does this
    /// (`HlsError::ClientSetup`).
    pub fn into_blocking(self) -> Result<BlockingReader, HlsError> {
        BlockingReader::new(self)
    }

    /// Open a session and wrap it in a [`BlockingReader`] that owns its own
    /// tokio runtime. Call it outside any async context.
    pub fn open_blocking(
        url: impl AsRef<str>,
        options: HlsOptions,
    ) -> Result<BlockingReader, HlsError> {
        BlockingReader::open(url.as_ref(), options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send + 'static>() {}

    fn assert_send_future<F: std::future::Future + Send>(_: F) {}

    /// Type-checked only: the session's futures can run in spawned tasks.
    #[allow(dead_code)]
    fn futures_are_send(s: &mut HlsSession, buf: &mut [u8]) {
        assert_send_future(s.read(buf));
        assert_send_future(s.seek(SeekFrom::Start(0)));
        assert_send_future(s.prefetch_all(|_| {}));
        assert_send_future(HlsSession::open("http://h/m.m3u8", HlsOptions::new()));
    }

    #[test]
    fn session_and_blocking_reader_can_move_to_other_threads() {
        assert_send::<HlsSession>();
        assert_send::<BlockingReader>();
        assert_send::<HlsError>();
    }
}
