//! Every resource goes through here: cache first, then (unless offline) the
//! network, then into the cache. Cache I/O is blocking file I/O, so it runs on
//! tokio's blocking pool (`spawn_blocking`): segments can be megabytes, and
//! keeping one code path for small files too costs little.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use kithara_cache::{AssetHandle, CachePath, Durability};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::error::HlsError;
use crate::fetch::{HttpClient, HttpRequest, HttpResponse};
use crate::mode::Stores;
use crate::resource::{Extras, Resource, ResourceKind};
use crate::source::{Fetched, Source, StatsCounters};
use crate::write_behind::{WriteJob, WriteQueue};

/// The most bytes a key response may have.
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// The largest buffer a cache read is given before it knows the length.
const MAX_READ_HINT: usize = 16 << 20;

/// Permits of the blocking-operation gate; far more than can ever run at once.
const GATE_PERMITS: u32 = 1 << 20;

/// Loads resources through the cache. Shared by the session's tasks.
pub(crate) struct Loader {
    stores: Stores,
    /// Every blocking cache operation holds a permit until it has finished
    /// (and dropped its store handle), so `quiesce` can wait for all of them.
    gate: Arc<Semaphore>,
    writes: WriteQueue,
    http: Option<HttpClient>,
    stats: Arc<StatsCounters>,
    max_playlist_bytes: u64,
    max_resource_bytes: u64,
    /// The bound on URI lines of a playlist (segments or variants).
    max_segments: usize,
    /// How init and media segments are written (playlists and keys use the cache's own).
    segment_durability: Durability,
    /// The length of the last segment read from the cache: the size of
    /// the buffer the next one gets (segments of a track are alike).
    last_read: AtomicUsize,
}

/// Whether a cached file of `len` bytes can be all of `res`: not empty, and
/// as long as its byte range if it has one.
fn whole(res: &Resource, len: u64) -> bool {
    let want = res.range.as_ref().map(|r| r.end.saturating_sub(r.start));
    len > 0 && want.is_none_or(|want| want == len)
}

fn join_error(e: tokio::task::JoinError) -> HlsError {
    HlsError::Task(e.to_string())
}

impl Loader {
    /// `http` is `None` in offline mode: every miss is then an `OfflineMiss`.
    pub(crate) fn new(
        stores: Stores,
        http: Option<HttpClient>,
        stats: Arc<StatsCounters>,
        max_playlist_bytes: u64,
        max_resource_bytes: u64,
        max_segments: usize,
        segment_durability: Durability,
    ) -> Self {
        Self {
            last_read: AtomicUsize::new(0),
            segment_durability,
            stores,
            gate: Arc::new(Semaphore::new(GATE_PERMITS as usize)),
            writes: WriteQueue::new(Arc::clone(&stats)),
            http,
            stats,
            max_playlist_bytes,
            max_resource_bytes,
            max_segments,
        }
    }

    /// Run blocking cache I/O on the blocking pool, holding a gate permit.
    async fn blocking<T, F>(&self, store: AssetHandle, f: F) -> Result<T, HlsError>
    where
        T: Send + 'static,
        F: FnOnce(&AssetHandle) -> T + Send + 'static,
    {
        let permit = self.permit().await?;
        let keepalive = self.stores.keepalive();
        tokio::task::spawn_blocking(move || {
            let out = f(&store);
            // The handle goes first, then the shared cache it belongs to.
            drop(store);
            drop(keepalive);
            drop(permit);
            out
        })
        .await
        .map_err(join_error)
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, HlsError> {
        Arc::clone(&self.gate)
            .acquire_owned()
            .await
            // The gate is never closed.
            .map_err(|_| HlsError::Internal("cache gate closed"))
    }

    /// Wait until no blocking cache operation of this loader is running (also
    /// those of aborted tasks, which the blocking pool finishes anyway).
    pub(crate) async fn quiesce(&self) {
        if let Ok(all) = self.gate.acquire_many(GATE_PERMITS).await {
            drop(all);
        }
    }

    pub(crate) fn stats(&self) -> &Arc<StatsCounters> {
        &self.stats
    }

    pub(crate) fn is_offline(&self) -> bool {
        self.http.is_none()
    }

    fn store_of(&self, kind: ResourceKind, path: &CachePath) -> AssetHandle {
        match kind {
            ResourceKind::Playlist | ResourceKind::Key => self.stores.meta().clone(),
            ResourceKind::Init | ResourceKind::Segment => self.stores.media(path),
        }
    }

    /// Whether the resource is cached whole and sound, so that a prefetch
    /// may skip it: its bytes pass the cache's check against their
    /// integrity record (the length always, the digest too when the cache
    /// verifies reads; a resource that fails is dropped by the cache) and
    /// are [`whole`]. Reads the bytes; not counted as a hit.
    pub(crate) async fn intact(&self, res: &Resource) -> Result<bool, HlsError> {
        let path = res.path.clone();
        let bytes = self
            .blocking(self.store_of(res.kind, &res.path), move |s| s.read(&path))
            .await??;
        let Some(bytes) = bytes else {
            return Ok(false);
        };
        let sound = whole(res, bytes.len() as u64);
        if !sound {
            tracing::info!(url = %res.url, path = %res.path, len = bytes.len(), "cached copy empty or of the wrong length: fetched again");
        }
        Ok(sound)
    }

    /// The cached bytes, if any; a hit is counted. An empty file is a miss,
    /// and so is a byte range of another length than the playlist's: no
    /// playlist, key or segment is empty, and an empty or short file is what
    /// a power cut can leave of a `Buffered` write that had not reached the
    /// disk (the name reached the disk, the data did not). The download that
    /// follows replaces it.
    pub(crate) async fn cached(&self, res: &Resource) -> Result<Option<Bytes>, HlsError> {
        let path = res.path.clone();
        // Allocated here, on the caller's long-lived thread, and filled on
        // the blocking pool: with glibc each thread draws from an arena of
        // its own, and the blocking pool's threads come and go, so buffers
        // allocated there spread a long track's reads over more and more
        // arenas (peak RSS of a 30,000-segment offline read: 1.63x of a
        // 300-segment one with them, 1.19x with one arena for all; see
        // BENCHMARKS.md section 7). Never empty: a growth of even one byte
        // stays in the arena it was allocated from.
        let media = matches!(res.kind, ResourceKind::Segment | ResourceKind::Init);
        let hint = match &res.range {
            Some(r) => usize::try_from(r.end - r.start).unwrap_or(0),
            None if media => self.last_read.load(Ordering::Relaxed),
            None => 0,
        };
        let buf = Vec::with_capacity(hint.clamp(1, MAX_READ_HINT));
        let got = self
            .blocking(self.store_of(res.kind, &res.path), move |s| {
                s.read_in(&path, buf)
            })
            .await??;
        let Some(bytes) = got else {
            return Ok(None);
        };
        if !whole(res, bytes.len() as u64) {
            tracing::warn!(url = %res.url, path = %res.path, len = bytes.len(), "cached file empty or of the wrong length (an interrupted write?): treated as missing");
            return Ok(None);
        }
        if media {
            self.last_read.store(bytes.len(), Ordering::Relaxed);
        }
        self.stats.record(Source::Cache, bytes.len());
        tracing::trace!(url = %res.url, path = %res.path, len = bytes.len(), "cache hit");
        Ok(Some(bytes))
    }

    /// Append the cached bytes of `batch`, in order, to `out`, on this thread
    /// (blocking file I/O: the caller runs it where blocking is allowed),
    /// until one is not cached whole (as [`cached`](Self::cached) sees it)
    /// or `max_bytes` are appended; returns the length of each appended
    /// (hits are counted).
    pub(crate) fn append_cached(
        &self,
        batch: &[Resource],
        out: &mut Vec<u8>,
        max_bytes: u64,
    ) -> Result<Vec<u64>, HlsError> {
        let mut lens = Vec::with_capacity(batch.len());
        let mut total = 0u64;
        // Each file is read into one small buffer that stays in the CPU's
        // cache, then copied to `out`. Reading straight into `out` (one
        // copy instead of two) was twice as slow: perf put 64 % of the
        // warm read in the kernel's copy into a cold, many-megabyte
        // destination (BENCHMARKS.md section 6).
        let mut bounce = Vec::new();
        for res in batch {
            if total >= max_bytes {
                break;
            }
            let store = self.store_of(res.kind, &res.path);
            let Some(mut reader) = store.open(&res.path)? else {
                break;
            };
            let len = reader.len();
            if !whole(res, len) {
                break;
            }
            bounce.clear();
            match std::io::Read::read_to_end(&mut reader, &mut bounce) {
                Ok(n) if n as u64 == len => out.extend_from_slice(&bounce),
                // Changed under us: the normal path reads it again.
                _ => break,
            }
            self.stats.record(Source::Cache, len as usize);
            lens.push(len);
            total += len;
        }
        Ok(lens)
    }

    /// Download the resource (after a cache miss). Offline, this is the
    /// `OfflineMiss` naming the resource.
    pub(crate) async fn download(
        &self,
        res: &Resource,
        extras: Extras<'_>,
    ) -> Result<HttpResponse, HlsError> {
        self.stats.miss();
        let Some(http) = &self.http else {
            tracing::debug!(url = %res.url, path = %res.path, "offline miss");
            return Err(HlsError::OfflineMiss {
                url: res.url.to_string(),
            });
        };
        let max_bytes = match res.kind {
            ResourceKind::Playlist => self.max_playlist_bytes,
            ResourceKind::Key => MAX_KEY_BYTES,
            ResourceKind::Init | ResourceKind::Segment => self.max_resource_bytes,
        };
        let attempts = http
            .get(&HttpRequest {
                url: &res.url,
                range: res.range.clone(),
                query: extras.query,
                headers: extras.headers,
                validator: extras.validator,
                max_bytes,
                max_uri_lines: (res.kind == ResourceKind::Playlist).then_some(self.max_segments),
                compressed: res.kind == ResourceKind::Playlist,
            })
            .await;
        self.stats.retried(attempts.retries, attempts.waited);
        let resp = attempts.result?;
        self.stats.record(Source::Network, resp.bytes.len());
        tracing::debug!(url = %res.url, len = resp.bytes.len(), "downloaded");
        Ok(resp)
    }

    /// Queue the resource's write to its store and return; see
    /// [`write_behind`](crate::write_behind). A failed write does not fail:
    /// the caller keeps serving the bytes from memory.
    pub(crate) async fn store(&self, res: &Resource, bytes: Bytes) -> Result<(), HlsError> {
        let files = vec![(res.path.clone(), bytes)];
        self.store_all(res.kind, &res.url, files, None).await
    }

    /// Queue one job writing `files` of one kind in order (a side file
    /// before the playlist it describes) to the store of the first (memory
    /// mode keeps each media resource apart, so media jobs hold one file);
    /// once all are written, `source` is recorded as where the asset came
    /// from, so an open that fails before leaves no empty asset behind.
    pub(crate) async fn store_all(
        &self,
        kind: ResourceKind,
        url: &Url,
        files: Vec<(CachePath, Bytes)>,
        source: Option<Url>,
    ) -> Result<(), HlsError> {
        let Some((first, _)) = files.first() else {
            return Ok(());
        };
        let media = matches!(kind, ResourceKind::Init | ResourceKind::Segment);
        let permit = self.permit().await?;
        let job = WriteJob {
            store: self.store_of(kind, first),
            durability: media.then_some(self.segment_durability),
            files,
            url: url.clone(),
            source,
            // `quiesce` waits for the job through the gate permit.
            _hold: Box::new((self.stores.keepalive(), permit)),
        };
        self.writes.push(job).await
    }

    /// Wait until every write queued so far has finished.
    pub(crate) async fn flush(&self) {
        self.writes.flush().await;
    }

    /// Record `source` as where the asset came from, for a top playlist
    /// found in the cache (a downloaded one records it in its write job).
    /// Failing to record it is logged, never fatal.
    pub(crate) async fn record_source(
        &self,
        top: &CachePath,
        source: &Url,
    ) -> Result<(), HlsError> {
        let (top, u) = (top.clone(), source.clone());
        let recorded = self
            .blocking(self.stores.meta().clone(), move |s| {
                if s.exists(&top) {
                    s.set_source_url(&u).map(|()| true)
                } else {
                    Ok(false)
                }
            })
            .await?;
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(url = %source, "top playlist not cached: source not recorded")
            }
            Err(e) => tracing::debug!(url = %source, error = %e, "source URL not recorded"),
        }
        Ok(())
    }

    /// Read a side file (no stats).
    pub(crate) async fn read_side(
        &self,
        kind: ResourceKind,
        path: &CachePath,
    ) -> Result<Option<Bytes>, HlsError> {
        let p = path.clone();
        Ok(self
            .blocking(self.store_of(kind, path), move |s| s.read(&p))
            .await??)
    }

    /// The length of the cached resource and its last `n` bytes (fewer when
    /// it is shorter), reading nothing else; `None` when it is not cached
    /// whole (as [`cached`](Self::cached) sees it). Not counted as a hit.
    pub(crate) async fn cached_tail(
        &self,
        res: &Resource,
        n: u64,
    ) -> Result<Option<(u64, Bytes)>, HlsError> {
        let res = res.clone();
        type Tail = Result<Option<(u64, Bytes)>, kithara_cache::CacheError>;
        self.blocking(self.store_of(res.kind, &res.path), move |s| -> Tail {
            let Some(reader) = s.open(&res.path)? else {
                return Ok(None);
            };
            let len = reader.len();
            if !whole(&res, len) {
                return Ok(None);
            }
            let n = n.min(len);
            // A failed read: the download that follows replaces the file.
            Ok(reader.read_at(len - n, n).ok().map(|tail| (len, tail)))
        })
        .await?
        .map_err(HlsError::from)
    }

    /// The length of the resource on the network (`HEAD`, `Content-Length`);
    /// `None` when the answer has none or the server refuses `HEAD` (any
    /// status but those of an expired URL, which a refresh handles).
    /// Offline it is the `OfflineMiss`.
    pub(crate) async fn remote_len(&self, res: &Resource) -> Result<Option<u64>, HlsError> {
        let Some(http) = &self.http else {
            return Err(HlsError::OfflineMiss {
                url: res.url.to_string(),
            });
        };
        match http.content_length(&res.url).await {
            Err(HlsError::Http { status, .. }) if !matches!(status, 403 | 404 | 410) => Ok(None),
            other => other,
        }
    }

    /// A segment (media or init) as stored: from the cache, else
    /// downloaded and cached.
    pub(crate) async fn load_segment(&self, res: &Resource) -> Result<Fetched, HlsError> {
        if let Some(bytes) = self.cached(res).await? {
            return Ok(Fetched {
                bytes,
                source: Source::Cache,
            });
        }
        let resp = self.download(res, Extras::default()).await?;
        self.store(res, resp.bytes.clone()).await?;
        Ok(Fetched {
            bytes: resp.bytes,
            source: Source::Network,
        })
    }
}
