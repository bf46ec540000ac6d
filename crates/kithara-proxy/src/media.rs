//! Init and media segments: a hit is read from the cache; a miss joins
//! (or starts) the resource's flight and is served as its bytes arrive.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;
use hyper::header::HeaderMap;
use kithara_cache::{AssetReader, CachePath};
use kithara_hls::Target;

use crate::asset::Asset;
use crate::error::Refusal;
use crate::flight::{self, Joined};
use crate::respond::{self, Body, Part};
use crate::server::State;
use crate::tee;

/// Bytes read at once from a cached file: a segment of up to this size is
/// served from one read.
const READ: u64 = 1 << 20;

/// Serve the media resource `target` at `path` of `asset`.
pub(crate) async fn serve(
    state: &Arc<State>,
    asset: &Arc<Asset>,
    path: &CachePath,
    target: Target,
    parent: Option<CachePath>,
    headers: &HeaderMap,
    head_only: bool,
) -> Result<Response<Body>, Refusal> {
    let ctype = respond::content_type(target.kind, path);
    let key = (asset.id(), path.clone());
    let want = target.range.as_ref().map(|r| r.end - r.start);
    let mut lookup_cache = true;
    loop {
        let handle = asset.handle.clone();
        let p = path.clone();
        let joined = state
            .flights
            .join(&key, || lookup_cache && handle.exists(&p));
        match joined {
            Joined::Cached => {
                if let Some(resp) = hit(state, asset, path, want, headers, head_only, ctype).await?
                {
                    return Ok(resp);
                }
                // Gone, empty or of the wrong length: fetch it again.
                lookup_cache = false;
            }
            Joined::Follow(f) => {
                state.counters.joined();
                return follow(&f, headers, head_only, ctype).await;
            }
            Joined::Lead(f) => {
                state.counters.miss();
                let task = tee::fly(
                    Arc::clone(state),
                    Arc::clone(asset),
                    path.clone(),
                    target.clone(),
                    parent.clone(),
                    Arc::clone(&f),
                );
                {
                    let mut tasks = state.tasks.lock();
                    // Reap the finished ones: the set only grows otherwise.
                    while tasks.try_join_next().is_some() {}
                    tasks.spawn(task);
                }
                return follow(&f, headers, head_only, ctype).await;
            }
        }
    }
}

/// A response that follows a flight.
async fn follow(
    f: &flight::Flight,
    headers: &HeaderMap,
    head_only: bool,
    ctype: &'static str,
) -> Result<Response<Body>, Refusal> {
    let mut rx = f.subscribe();
    let head = flight::head(&mut rx).await?;
    let part = match head.len {
        Some(len) => respond::plan(headers, len)?,
        // Unknown length: the whole, as it comes.
        None => Part {
            range: 0..u64::MAX,
            partial: false,
        },
    };
    let body = if head_only {
        respond::empty()
    } else {
        respond::stream(flight::follow(rx, head.spool, part.range.clone()))
    };
    Ok(respond::resource(&part, head.len, ctype, body))
}

/// The cached resource, or `None` if it is not there or not whole: empty,
/// or not the length of its byte range (what a power cut can leave of a
/// write that had not reached the disk; the same rule as kithara-hls).
async fn hit(
    state: &State,
    asset: &Asset,
    path: &CachePath,
    want: Option<u64>,
    headers: &HeaderMap,
    head_only: bool,
    ctype: &'static str,
) -> Result<Option<Response<Body>>, Refusal> {
    let (handle, p, headers_c) = (asset.handle.clone(), path.clone(), headers.clone());
    // Open, plan and read the first piece in one blocking call.
    let opened = tokio::task::spawn_blocking(move || -> Result<Option<Opened>, Refusal> {
        let Some(mut reader) = handle.open(&p).ok().flatten() else {
            return Ok(None);
        };
        let len = reader.len();
        if len == 0 || want.is_some_and(|w| w != len) {
            tracing::warn!(path = %p, len, "cached file empty or of the wrong length: fetched again");
            return Ok(None);
        }
        let part = respond::plan(&headers_c, len)?;
        let first = if head_only {
            Bytes::new()
        } else {
            read(&mut reader, part.range.start, (part.range.end - part.range.start).min(READ))
                .map_err(|e| Refusal::Upstream(format!("reading the cache: {e}")))?
        };
        Ok(Some(Opened { reader, len, part, first }))
    })
    .await
    .map_err(|e| Refusal::Upstream(format!("read task failed: {e}")))??;
    let Some(Opened {
        reader,
        len,
        part,
        first,
    }) = opened
    else {
        return Ok(None);
    };
    let size = part.range.end - part.range.start;
    state.counters.hit(if head_only { 0 } else { size });
    let body = if head_only {
        respond::empty()
    } else if first.len() as u64 == size {
        respond::full(first)
    } else {
        let next = part.range.start + first.len() as u64;
        respond::stream(rest(first, reader, next..part.range.end))
    };
    Ok(Some(respond::resource(&part, Some(len), ctype, body)))
}

struct Opened {
    reader: AssetReader,
    len: u64,
    part: Part,
    first: Bytes,
}

/// `n` bytes from `at`.
fn read(reader: &mut AssetReader, at: u64, n: u64) -> io::Result<Bytes> {
    reader.seek(SeekFrom::Start(at))?;
    let mut buf = Vec::with_capacity(n as usize);
    reader.take(n).read_to_end(&mut buf)?;
    if (buf.len() as u64) < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the cached file is shorter than it was",
        ));
    }
    Ok(Bytes::from(buf))
}

/// `first`, then the rest of `range` read piece by piece.
fn rest(
    first: Bytes,
    reader: AssetReader,
    range: std::ops::Range<u64>,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    let head = futures_util::stream::once(async move { Ok(first) });
    let tail =
        futures_util::stream::try_unfold((reader, range), |(mut reader, range)| async move {
            if range.start >= range.end {
                return Ok(None);
            }
            let n = (range.end - range.start).min(READ);
            let (reader, bytes) = tokio::task::spawn_blocking(move || {
                let bytes = read(&mut reader, range.start, n);
                (reader, bytes)
            })
            .await
            .map_err(io::Error::other)?;
            let bytes = bytes?;
            let next = range.start + bytes.len() as u64..range.end;
            Ok(Some((bytes, (reader, next))))
        });
    futures_util::StreamExt::chain(head, tail)
}
