//! Deterministic payloads and their AES-128 encryption.
//!
//! Everything here is a pure function of the configuration, so two origins
//! with the same [`OriginConfig`] serve identical bytes.

use std::ops::Range;

use aes::Aes128;
use bytes::Bytes;
use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};

use crate::config::{Encryption, IvMode, OriginConfig};
use crate::playlist::Track;

/// The real AES-128 key (16 readable bytes).
pub(crate) const RAW_KEY: [u8; 16] = *b"kithara-test-key";

/// The IV announced with `IV=0x...` in [`IvMode::Fixed`].
pub(crate) const FIXED_IV: [u8; 16] = [
    0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
];

/// Size of an init segment in bytes.
pub(crate) const INIT_SIZE: usize = 512;

/// The key as served: raw, or wrapped (every byte XOR `0xFF`).
pub(crate) fn served_key(wrapped: bool) -> [u8; 16] {
    if wrapped {
        RAW_KEY.map(|b| b ^ 0xFF)
    } else {
        RAW_KEY
    }
}

/// The IV of the segment with media sequence number `msn`, or `None` when
/// the stream is not encrypted.
pub(crate) fn segment_iv(encryption: Encryption, msn: u64) -> Option<[u8; 16]> {
    match encryption {
        Encryption::None => None,
        Encryption::Aes128 { iv: IvMode::Fixed } => Some(FIXED_IV),
        Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        } => Some(u128::from(msn).to_be_bytes()),
    }
}

/// Plaintext of segment `i` of `track`: the marker `V{v}-SEG-{i}:` (or
/// `A{k}-SEG-{i}:` for an audio rendition) followed by filler, `size` bytes
/// in total (at least the marker).
pub(crate) fn segment_plaintext(track: Track, i: usize, size: usize) -> Vec<u8> {
    let (letter, n, kind) = match track {
        Track::Variant(v) => ('V', v, 1),
        Track::Audio(k) => ('A', k, 3),
    };
    payload(format!("{letter}{n}-SEG-{i}:"), seed(n, i, kind), size)
}

/// Plaintext of the init segment of `track`: `V{v}-INIT:` (or `A{k}-INIT:`)
/// + filler.
pub(crate) fn init_plaintext(track: Track) -> Vec<u8> {
    let (letter, n, kind) = match track {
        Track::Variant(v) => ('V', v, 2),
        Track::Audio(k) => ('A', k, 4),
    };
    payload(format!("{letter}{n}-INIT:"), seed(n, 0, kind), INIT_SIZE)
}

/// AES-128-CBC with PKCS#7 padding.
pub(crate) fn encrypt(plaintext: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
    cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

/// Everything served for one track (variant or audio rendition).
#[derive(Debug)]
pub(crate) struct TrackContent {
    /// Init segment, if configured.
    pub(crate) init: Option<Bytes>,
    /// Segment plaintexts, in playlist order.
    pub(crate) plaintexts: Vec<Bytes>,
    /// Segment bodies as served (ciphertext when encrypted).
    pub(crate) served: Vec<Bytes>,
    /// All served segment bodies concatenated (the `all.ts` resource).
    pub(crate) packed: Bytes,
    /// Range of each served segment inside `packed`.
    pub(crate) ranges: Vec<Range<u64>>,
}

impl TrackContent {
    /// Builds the content of `track`.
    pub(crate) fn build(config: &OriginConfig, track: Track) -> Self {
        let init = config.init.then(|| Bytes::from(init_plaintext(track)));
        let mut plaintexts = Vec::with_capacity(config.segments);
        let mut served = Vec::with_capacity(config.segments);
        let mut packed = Vec::new();
        let mut ranges = Vec::with_capacity(config.segments);
        for i in 0..config.segments {
            let plain = segment_plaintext(track, i, config.segment_size);
            let msn = config.media_sequence + i as u64;
            let body = match segment_iv(config.encryption, msn) {
                Some(iv) => encrypt(&plain, &RAW_KEY, &iv),
                None => plain.clone(),
            };
            let start = packed.len() as u64;
            packed.extend_from_slice(&body);
            ranges.push(start..packed.len() as u64);
            plaintexts.push(Bytes::from(plain));
            served.push(Bytes::from(body));
        }
        Self {
            init,
            plaintexts,
            served,
            packed: Bytes::from(packed),
            ranges,
        }
    }
}

fn seed(v: usize, i: usize, kind: u64) -> u64 {
    ((v as u64) << 40) ^ ((i as u64) << 8) ^ kind ^ 0x6B69_7468_6172_6121
}

fn payload(marker: String, seed: u64, size: usize) -> Vec<u8> {
    let mut out = marker.into_bytes();
    let mut state = seed;
    while out.len() < size {
        let word = splitmix64(&mut state).to_le_bytes();
        let take = (size - out.len()).min(word.len());
        out.extend_from_slice(&word[..take]);
    }
    out
}

/// SplitMix64: a tiny, well-mixed deterministic generator for filler bytes.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_marker_and_size() {
        let p = segment_plaintext(Track::Variant(1), 3, 100);
        assert!(p.starts_with(b"V1-SEG-3:"));
        assert_eq!(p.len(), 100);
        assert_eq!(segment_plaintext(Track::Variant(0), 0, 2), b"V0-SEG-0:");
        assert_ne!(
            segment_plaintext(Track::Variant(0), 1, 64)[9..],
            segment_plaintext(Track::Variant(0), 2, 64)[9..]
        );
        let a = segment_plaintext(Track::Audio(1), 3, 100);
        assert!(a.starts_with(b"A1-SEG-3:"));
        assert_ne!(a[9..], p[9..]);
    }

    #[test]
    fn media_sequence_iv_is_big_endian() {
        let iv = segment_iv(
            Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            },
            0x0102,
        );
        let mut expected = [0u8; 16];
        expected[14] = 1;
        expected[15] = 2;
        assert_eq!(iv, Some(expected));
    }
}
