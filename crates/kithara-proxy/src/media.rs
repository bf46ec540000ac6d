//! Init and media segments: a hit is read from the cache; a miss joins
//! (or starts) the resource's flight and is served as its bytes arrive.

use std::sync::Arc;

use http::Response;
use http::header::HeaderMap;
use kithara_cache::{AssetReader, CachePath};
use kithara_hls::Target;

use crate::asset::Asset;
use crate::error::Refusal;
use crate::flight::{self, Joined};
use crate::respond::{self, Body, FileBody, Part};
use crate::server::State;
use crate::tee;

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
        // Opened under the flights' lock: one path walk for the probe and
        // the read, and no flight can land in between.
        let joined = state.flights.join(&key, || {
            lookup_cache
                .then(|| asset.handle.open(path).ok().flatten())
                .flatten()
        });
        match joined {
            Joined::Cached(reader) => {
                if let Some(resp) = hit(state, path, reader, want, headers, head_only, ctype)? {
                    return Ok(resp);
                }
                // Empty or of the wrong length: fetch it again.
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
        respond::stream(flight::follow(rx, part.range.clone()))
    };
    Ok(respond::resource(&part, head.len, ctype, body))
}

/// The cached resource open in `reader`, or `None` if it is not whole:
/// empty, or not the length of its byte range (what a power cut can leave
/// of a write that had not reached the disk; the same rule as
/// kithara-hls). Its bytes go from the page cache to the socket
/// (`conn/write.rs`), never through a buffer here.
fn hit(
    state: &State,
    path: &CachePath,
    reader: AssetReader,
    want: Option<u64>,
    headers: &HeaderMap,
    head_only: bool,
    ctype: &'static str,
) -> Result<Option<Response<Body>>, Refusal> {
    let len = reader.len();
    if len == 0 || want.is_some_and(|w| w != len) {
        tracing::warn!(%path, len, "cached file empty or of the wrong length: fetched again");
        return Ok(None);
    }
    let part = respond::plan(headers, len)?;
    state.counters.hit(if head_only {
        0
    } else {
        part.range.end - part.range.start
    });
    let body = if head_only {
        respond::empty()
    } else {
        Body::File(FileBody {
            reader,
            range: part.range.clone(),
        })
    };
    Ok(Some(respond::resource(&part, Some(len), ctype, body)))
}
