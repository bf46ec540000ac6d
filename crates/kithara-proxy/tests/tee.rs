//! Behaviours 2 and 3: a miss is a streaming tee, and one upstream fetch
//! serves every request for the resource. An origin that dies mid-body
//! leaves nothing in the cache, and the player's response is cut.

mod common;

use common::{get, segment_url, served, start, until};
use futures_util::StreamExt;
use kithara_test_utils::OriginConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_make_one_upstream_fetch() {
    let delay = std::time::Duration::from_millis(300);
    let s = start(
        OriginConfig::default()
            .segments(3)
            .segment_size(256 * 1024)
            .segment_delay(delay),
        |o| o,
    )
    .await;
    let url = segment_url(&s, 1).await;
    let seg = s.origin.segment_path(0, 1);
    let first = tokio::spawn({
        let url = url.clone();
        async move { get(&url).await }
    });
    until("the first request to reach the origin", || {
        s.origin.requests(&seg) == 1
    })
    .await;
    // Whenever they arrive, the others join the flight or hit the cache.
    let others: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get(&url).await })
        })
        .collect();
    let want = served(&s.origin, 0, 3)[1].clone();
    assert_eq!(first.await.unwrap().body, want);
    for o in others {
        let got = o.await.unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(got.body, want);
    }
    assert_eq!(s.origin.requests(&seg), 1, "one upstream fetch");
    let stats = s.proxy.stats();
    assert_eq!(
        (stats.misses, stats.joined + stats.hits),
        (1, 8),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_dies_mid_body_leaves_nothing_and_the_response_is_cut() {
    let s = start(
        OriginConfig::default().segments(3).segment_size(200_000),
        |o| o,
    )
    .await;
    let url = segment_url(&s, 2).await;
    let seg = s.origin.segment_path(0, 2);
    s.origin.cut(&seg, Some(50_000));
    let resp = common::client().get(url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(200_000));
    let mut got = 0usize;
    let mut failed = false;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => got += c.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the cut response must fail, not end cleanly");
    assert!(got < 200_000, "got {got} bytes: padded?");
    let asset = s.cache.assets().unwrap();
    let path = kithara_cache::CachePath::parse("v0/seg/000002.ts").unwrap();
    assert!(
        !s.cache.asset(asset[0].id).exists(&path),
        "a partial segment was cached"
    );
    // Healed, the next request fetches and caches it whole.
    s.origin.cut(&seg, None);
    let again = get(&url).await;
    assert_eq!(again.body, served(&s.origin, 0, 3)[2]);
    until("the segment to be committed", || {
        s.cache.asset(asset[0].id).exists(&path)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_streams_bytes_before_the_origin_sent_them_all() {
    let size = 300_000;
    let s = start(
        OriginConfig::default().segments(2).segment_size(size),
        |o| o,
    )
    .await;
    let url = segment_url(&s, 0).await;
    let seg = s.origin.segment_path(0, 0);
    let half = size / 2;
    let hold = s.origin.hold(&seg, half);
    let resp = common::client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut got = Vec::new();
    // The first half arrives while the origin still holds the second back.
    while got.len() < half {
        got.extend_from_slice(&body.next().await.expect("more bytes").unwrap());
    }
    assert_eq!(got.len(), half, "bytes past the held half arrived");
    hold.release();
    while let Some(c) = body.next().await {
        got.extend_from_slice(&c.unwrap());
    }
    assert_eq!(got, served(&s.origin, 0, 2)[0]);
}

/// A request that joins a flight late gets the bytes already received
/// (more than a flight keeps in memory, so they come from its spool, the
/// cache writer's file), then the rest; the origin is asked once and the
/// resource is cached whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_gets_what_arrived_before_it_then_the_rest() {
    let size = 1_200_000;
    let s = start(
        OriginConfig::default().segments(2).segment_size(size),
        |o| o,
    )
    .await;
    let url = segment_url(&s, 1).await;
    let seg = s.origin.segment_path(0, 1);
    let held = size * 3 / 4;
    let hold = s.origin.hold(&seg, held);
    let first = common::client().get(url.clone()).send().await.unwrap();
    let mut first = first.bytes_stream();
    let mut a = Vec::new();
    while a.len() < held {
        a.extend_from_slice(&first.next().await.expect("more bytes").unwrap());
    }
    // Joins with 900 kB received and the rest held back.
    let late = common::client().get(url.clone()).send().await.unwrap();
    assert_eq!(late.status(), 200);
    let mut late = late.bytes_stream();
    let mut b = Vec::new();
    while b.len() < held {
        b.extend_from_slice(&late.next().await.expect("more bytes").unwrap());
    }
    assert_eq!(
        b.len(),
        held,
        "the late joiner got bytes the origin still held"
    );
    hold.release();
    for (body, got) in [(&mut first, &mut a), (&mut late, &mut b)] {
        while let Some(c) = body.next().await {
            got.extend_from_slice(&c.unwrap());
        }
    }
    let want = served(&s.origin, 0, 2)[1].clone();
    assert!(
        a == want && b == want,
        "both whole and equal to what was served"
    );
    assert_eq!(s.origin.requests(&seg), 1);
    let asset = s.cache.assets().unwrap();
    let path = kithara_cache::CachePath::parse("v0/seg/000001.ts").unwrap();
    until("the segment to be committed", || {
        s.cache.asset(asset[0].id).exists(&path)
    })
    .await;
    assert_eq!(
        s.cache.asset(asset[0].id).read(&path).unwrap().unwrap(),
        want
    );
}
