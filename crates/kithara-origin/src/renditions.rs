//! Alternate audio renditions ([`OriginConfig::alternate_audio`]) and the
//! I-frame playlist: their URLs and bytes. Rendition `k` is served like a
//! variant under `/a{k}/`, so serving it needs nothing of its own.
//!
//! [`OriginConfig::alternate_audio`]: crate::OriginConfig::alternate_audio

use url::Url;

use crate::playlist::{self, IFRAMES_PATH, Track};
use crate::server::{HlsOrigin, expected_stream};

impl HlsOrigin {
    /// Number of alternate audio renditions.
    pub fn renditions(&self) -> usize {
        self.shared.audio.len()
    }

    /// `http://127.0.0.1:PORT/a{k}/playlist.m3u8`, the media playlist of
    /// audio rendition `k` (404 for an unknown `k`).
    pub fn rendition_url(&self, k: usize) -> Url {
        self.url(&playlist::media_path(Track::Audio(k)))
    }

    /// Path (the counter key) of the resource that holds segment `i` of
    /// audio rendition `k`: `/a{k}/seg/{i}.ts`, or `/a{k}/all.ts` in
    /// byte-range mode.
    pub fn rendition_segment_path(&self, k: usize, i: usize) -> String {
        playlist::holder_path(&self.shared.config, Track::Audio(k), i)
    }

    /// URL of the resource that holds segment `i` of audio rendition `k`;
    /// with [`OriginConfig::signed_uris`](crate::OriginConfig::signed_uris)
    /// it carries the current token.
    pub fn rendition_segment_url(&self, k: usize, i: usize) -> Url {
        self.signed_url(&self.rendition_segment_path(k, i))
    }

    /// URL of the init segment of audio rendition `k` (signed when
    /// signing), `None` without [`OriginConfig::init`](crate::OriginConfig::init).
    pub fn rendition_init_url(&self, k: usize) -> Option<Url> {
        self.track_init_url(Track::Audio(k))
    }

    /// Plaintext payload of segment `i` of audio rendition `k` (starts with
    /// `A{k}-SEG-{i}:`).
    ///
    /// # Panics
    ///
    /// Panics if `k` or `i` is out of range.
    pub fn rendition_segment_plaintext(&self, k: usize, i: usize) -> Vec<u8> {
        self.content(Track::Audio(k)).plaintexts[i].to_vec()
    }

    /// Segment `i` of audio rendition `k` exactly as served (ciphertext
    /// when encrypted).
    ///
    /// # Panics
    ///
    /// Panics if `k` or `i` is out of range.
    pub fn rendition_segment_served_bytes(&self, k: usize, i: usize) -> Vec<u8> {
        self.content(Track::Audio(k)).served[i].to_vec()
    }

    /// What a decoder consumes for audio rendition `k`: its init segment
    /// (if any, starts with `A{k}-INIT:`) and the plaintext of every
    /// segment.
    ///
    /// # Panics
    ///
    /// Panics if `k` is out of range.
    pub fn rendition_expected_stream(&self, k: usize) -> Vec<u8> {
        expected_stream(self.content(Track::Audio(k)))
    }

    /// `http://127.0.0.1:PORT/v0/iframes.m3u8`, the I-frame playlist served
    /// with [`OriginConfig::alternate_audio`](crate::OriginConfig::alternate_audio)
    /// above 0 (404 otherwise).
    pub fn iframes_url(&self) -> Url {
        self.url(IFRAMES_PATH)
    }
}
