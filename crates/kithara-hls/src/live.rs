//! Following a live (or EVENT) media playlist: a task reloads it on the
//! schedule of RFC 8216 §6.3.4 and appends the new segments to the track;
//! the reader waits on that task when it reaches the end of what is known.
//!
//! * After a load that changed the playlist, the next starts one target
//!   duration after the last one began; after a load that did not, half of
//!   one.
//! * `EXT-X-ENDLIST` ends the stream: the reader gets the last segments, then
//!   the end.
//! * A playlist that brings no new segment for 3 target durations is
//!   [`HlsError::LiveStalled`]; so is any reload that fails (after the
//!   client's retries). The reader gets the error once it has read what
//!   came before.
//!
//! Reloads after the first are conditional (`If-None-Match` with the last
//! `ETag`, or `If-Modified-Since` with the last `Last-Modified` when the
//! origin sends no `ETag`): an unchanged playlist costs a `304` without a
//! body, and counts as a reload that brought no change.
//!
//! Live playlists are never cached (a cached copy could only be stale);
//! their segments and keys are, like a VOD's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kithara_cache::CachePath;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;

use crate::error::HlsError;
use crate::fetch::Validator;
use crate::open::Ctx;
use crate::playlist::{Vars, parse_media};
use crate::resource::{Extras, Resource, ResourceKind};

/// How many target durations without a new segment make a stall.
const STALL_TARGETS: u32 = 3;

/// Where the live playlist is loaded from, and what its first load gave.
pub(crate) struct LiveStart {
    /// The media playlist to reload.
    pub url: Url,
    /// Its cache path (named in the request's resource, never written).
    pub path: CachePath,
    /// The text of the first load.
    pub text: Bytes,
    /// Its `EXT-X-TARGETDURATION`.
    pub target: Duration,
    /// When the first load began.
    pub began: Instant,
    /// The playlist size bound.
    pub max_segments: usize,
    /// The master's variables, for `EXT-X-DEFINE:IMPORT`.
    pub imports: Vars,
}

/// Where the follower is.
#[derive(Clone, Debug)]
enum Status {
    Following,
    Ended,
    Failed(HlsError),
}

/// What the follower publishes: the track's item count and its status.
#[derive(Clone, Debug)]
struct Feed {
    items: usize,
    status: Status,
}

/// The wait before the next reload (RFC 8216 §6.3.4), measured from when
/// the last load began.
pub(crate) fn reload_delay(changed: bool, target: Duration) -> Duration {
    if changed { target } else { target / 2 }
}

/// Whether a playlist that last brought a segment `since` ago has stalled.
pub(crate) fn stalled(since: Duration, target: Duration) -> bool {
    since >= target * STALL_TARGETS
}

/// The follower of one session's live playlist; aborted when dropped.
pub(crate) struct Follower {
    feed: watch::Receiver<Feed>,
    task: JoinHandle<()>,
}

impl Follower {
    /// Start following; `ctx.track` holds the first load's segments.
    pub(crate) fn start(ctx: Arc<Ctx>, start: LiveStart) -> Self {
        let (tx, feed) = watch::channel(Feed {
            items: ctx.track.len(),
            status: Status::Following,
        });
        let task = tokio::spawn(follow(ctx, start, tx));
        Self { feed, task }
    }

    /// Wait until the track has more than `have` items (their new count),
    /// or has ended with none (`None`), or failed.
    pub(crate) async fn more(&mut self, have: usize) -> Result<Option<usize>, HlsError> {
        loop {
            {
                let feed = self.feed.borrow_and_update();
                if feed.items > have {
                    return Ok(Some(feed.items));
                }
                match &feed.status {
                    Status::Following => {}
                    Status::Ended => return Ok(None),
                    Status::Failed(e) => return Err(e.clone()),
                }
            }
            if self.feed.changed().await.is_err() {
                return Err(HlsError::Task("the live playlist follower ended".into()));
            }
        }
    }

    /// Stop reloading and wait until the task has ended.
    pub(crate) async fn shutdown(&mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reload `start.url` until it ends, stalls or fails, appending the new
/// segments to the track and publishing the item count.
async fn follow(ctx: Arc<Ctx>, start: LiveStart, tx: watch::Sender<Feed>) {
    let LiveStart {
        url,
        path,
        text,
        mut target,
        began,
        max_segments,
        imports,
    } = start;
    let res = Resource {
        kind: ResourceKind::Playlist,
        url,
        range: None,
        path,
    };
    let mut last = text;
    // The last answer's validator: a reload is then a conditional request,
    // which costs a `304` and no body while nothing changed.
    let mut validator: Option<Validator> = None;
    let mut began = began;
    let mut changed = true;
    let mut advanced = began;
    let fail = |e: HlsError| {
        tx.send_modify(|f| f.status = Status::Failed(e));
    };
    loop {
        tokio::time::sleep_until(began + reload_delay(changed, target)).await;
        began = Instant::now();
        let extras = Extras {
            validator: validator.as_ref(),
            ..Extras::default()
        };
        let loaded = async {
            let resp = ctx.loader.download(&res, extras).await?;
            if resp.not_modified {
                return Ok(None);
            }
            let playlist = parse_media(&resp.final_url, &resp.bytes, max_segments, &imports)?;
            Ok::<_, HlsError>(Some((resp.bytes, resp.validator, playlist)))
        }
        .await;
        let added = match loaded {
            // 304: unchanged, so no new segment.
            Ok(None) => {
                changed = false;
                0
            }
            Ok(Some((bytes, v, playlist))) => {
                validator = v;
                changed = bytes != last;
                last = bytes;
                target = Duration::from_secs(playlist.target_duration.max(1));
                let added = match ctx.track.extend(&playlist) {
                    Ok(n) => n,
                    Err(e) => return fail(e),
                };
                if playlist.ended {
                    let items = ctx.track.len();
                    tx.send_modify(|f| {
                        f.items = items;
                        f.status = Status::Ended;
                    });
                    return;
                }
                added
            }
            Err(e) => return fail(e),
        };
        tracing::debug!(url = %res.url, changed, added, "live playlist reloaded");
        if added > 0 {
            advanced = began;
            let items = ctx.track.len();
            tx.send_modify(|f| f.items = items);
        } else if stalled(began - advanced, target) {
            return fail(HlsError::LiveStalled {
                url: res.url.to_string(),
                after: began - advanced,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_after_a_target_duration_after_a_change_half_after_none() {
        let t = Duration::from_secs(6);
        assert_eq!(reload_delay(true, t), Duration::from_secs(6));
        assert_eq!(reload_delay(false, t), Duration::from_secs(3));
    }

    #[test]
    fn three_target_durations_without_a_segment_are_a_stall() {
        let t = Duration::from_secs(2);
        assert!(!stalled(Duration::from_millis(5999), t));
        assert!(stalled(Duration::from_secs(6), t));
    }
}
