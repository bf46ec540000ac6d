//! Asset identity: a full-length hash of a canonical URL.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::str::FromStr;

use sha2::{Digest, Sha256};
use url::Url;

use crate::error::CacheError;

/// Identifies one asset (one track: an HLS VOD with everything it needs).
///
/// It is the SHA-256 of the canonical master-playlist URL: scheme and host
/// lower-cased, default port and fragment dropped, and the query dropped unless
/// asked for ([`AssetId::from_url_with_query`]). The whole 256-bit hash is the
/// id and the directory name, so two assets never share files.
///
/// Its text form is [`AssetId::to_hex`] (64 lowercase hex digits), parsed
/// back by [`str::parse`]. It deliberately has no serde impls: the one
/// serialized use, the keys of the index (`state.json`), is written by the
/// index's own schema, and callers that print ids (the CLI's `--json`) use
/// the hex form, so no format is promised beyond it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AssetId([u8; 32]);

impl AssetId {
    /// The id of the asset whose master (or single media) playlist is `url`,
    /// ignoring its query and fragment.
    pub fn from_url(url: &Url) -> Result<Self, CacheError> {
        Self::canonical(url, false)
    }

    /// Like [`AssetId::from_url`] but the query is part of the identity
    /// (for origins where the query selects the content).
    pub fn from_url_with_query(url: &Url) -> Result<Self, CacheError> {
        Self::canonical(url, true)
    }

    /// A different id derived from this one and `discriminator`, for callers
    /// that keep several assets per URL (a quality tier, a user).
    pub fn with_discriminator(&self, discriminator: &str) -> Self {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(b"\0discriminator\0");
        h.update(discriminator.as_bytes());
        Self(h.finalize().into())
    }

    /// The id of arbitrary bytes (for assets that are not keyed by URL).
    pub fn from_key(key: &[u8]) -> Self {
        Self(Sha256::digest(key).into())
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.hex().as_str().to_owned()
    }

    /// The hex digits on the stack: building a file path on every hit must
    /// not allocate for them.
    pub(crate) fn hex(&self) -> Hex {
        let mut out = [0u8; 64];
        // 64 bytes is exactly twice 32; encoding cannot fail.
        let _ = hex::encode_to_slice(self.0, &mut out);
        Hex(out)
    }

    fn canonical(url: &Url, keep_query: bool) -> Result<Self, CacheError> {
        if url.cannot_be_a_base() || url.host_str().is_none() {
            return Err(CacheError::InvalidUrl {
                url: url.to_string(),
                reason: "an asset url needs a host",
            });
        }
        let mut canon = url.clone();
        canon.set_fragment(None);
        if !keep_query {
            canon.set_query(None);
        }
        Ok(Self::from_key(canon.as_str().as_bytes()))
    }
}

/// The 64 hex digits of an [`AssetId`], without a heap allocation.
pub(crate) struct Hex([u8; 64]);

impl Hex {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("only ASCII hex digits are stored")
    }
}

// The id is already a uniformly distributed digest: eight of its bytes are
// as good a hash as SipHash of all 32, and cost nothing (see `IdHasher`).
impl Hash for AssetId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(word));
    }
}

/// A map keyed by asset id that uses the id's own bits as the hash: ids are
/// SHA-256 digests, which nobody can steer into collisions without breaking
/// SHA-256 (or writing the cache's own directory names, which gives them the
/// files anyway). Every hit does several lookups, so this is on the hot path.
pub(crate) type IdMap<V> = HashMap<AssetId, V, BuildHasherDefault<IdHasher>>;

/// The hasher of [`IdMap`]: passes [`AssetId`]'s one `u64` through.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }

    // Only reached for keys other than `AssetId`; FNV-1a keeps it a hash.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetId({})", self.hex().as_str())
    }
}

impl FromStr for AssetId {
    type Err = CacheError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(CacheError::InvalidId(s.to_owned()));
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| CacheError::InvalidId(s.to_owned()))?;
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> AssetId {
        AssetId::from_url(&Url::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn canonical_form_ignores_query_case_port_and_fragment() {
        let a = id("https://cdn.example.com/t/master.m3u8");
        assert_eq!(a, id("HTTPS://CDN.example.COM:443/t/master.m3u8?token=1#x"));
        assert_ne!(a, id("https://cdn.example.com/t/other.m3u8"));
    }

    #[test]
    fn query_and_discriminator_change_identity_when_asked() {
        let u = Url::parse("https://h/m.m3u8?q=1").unwrap();
        let plain = AssetId::from_url(&u).unwrap();
        assert_ne!(plain, AssetId::from_url_with_query(&u).unwrap());
        assert_ne!(plain, plain.with_discriminator("hq"));
        assert_eq!(
            plain.with_discriminator("hq"),
            plain.with_discriminator("hq")
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_short_or_upper() {
        let a = id("https://h/m.m3u8");
        assert_eq!(a.to_hex().len(), 64);
        assert_eq!(a.to_hex().parse::<AssetId>().unwrap(), a);
        assert!(a.to_hex()[..16].parse::<AssetId>().is_err());
        assert!(a.to_hex().to_uppercase().parse::<AssetId>().is_err());
    }

    #[test]
    fn urls_without_host_are_rejected() {
        let u = Url::parse("data:text/plain,x").unwrap();
        assert!(matches!(
            AssetId::from_url(&u),
            Err(CacheError::InvalidUrl { .. })
        ));
    }
}
