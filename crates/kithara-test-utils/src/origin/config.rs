//! Configuration of the loopback origin (a consuming builder).

use std::time::Duration;

/// How the IV of an AES-128 encrypted segment is chosen (RFC 8216 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IvMode {
    /// One fixed IV for every segment, announced with an explicit
    /// `IV=0x...` attribute on `#EXT-X-KEY`.
    Fixed,
    /// No `IV` attribute: the IV of a segment is its media sequence number as
    /// a 16-byte big-endian integer.
    MediaSequence,
}

/// Encryption of the media segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// Segments are served in clear, no `#EXT-X-KEY` tag.
    #[default]
    None,
    /// Every media segment is encrypted on its own with AES-128-CBC and
    /// PKCS#7 padding (`#EXT-X-KEY:METHOD=AES-128`).
    Aes128 {
        /// How the IV is chosen.
        iv: IvMode,
    },
}

/// What the origin serves. Build it from [`OriginConfig::default`] and the
/// chained methods, then pass it to [`HlsOrigin::start`](crate::HlsOrigin::start).
///
/// Content is a pure function of the configuration: two origins started with
/// the same configuration serve identical bytes (only the port differs, and
/// with it absolute URLs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginConfig {
    pub(crate) variants: usize,
    pub(crate) segments: usize,
    pub(crate) segment_size: usize,
    pub(crate) init: bool,
    pub(crate) encryption: Encryption,
    pub(crate) wrapped_key: bool,
    pub(crate) key_queries: Vec<(String, String)>,
    pub(crate) key_headers: Vec<(String, String)>,
    pub(crate) segment_delay: Option<Duration>,
    pub(crate) byte_ranges: bool,
    pub(crate) media_sequence: u64,
    pub(crate) relative_uris: bool,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            variants: 2,
            segments: 6,
            segment_size: 4096,
            init: false,
            encryption: Encryption::None,
            wrapped_key: false,
            key_queries: Vec::new(),
            key_headers: Vec::new(),
            segment_delay: None,
            byte_ranges: false,
            media_sequence: 0,
            relative_uris: true,
        }
    }
}

impl OriginConfig {
    /// Number of variants (renditions) in the master playlist. Default 2.
    /// Variant 0 has the lowest bandwidth. Values below 1 are raised to 1.
    #[must_use]
    pub fn variants(mut self, n: usize) -> Self {
        self.variants = n.max(1);
        self
    }

    /// Number of media segments per variant. Default 6.
    #[must_use]
    pub fn segments(mut self, m: usize) -> Self {
        self.segments = m;
        self
    }

    /// Plaintext size of every media segment in bytes. Default 4096.
    ///
    /// The payload is the marker `V{v}-SEG-{i}:` followed by deterministic
    /// filler; if the marker is longer than `bytes`, the payload is the
    /// marker alone.
    #[must_use]
    pub fn segment_size(mut self, bytes: usize) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Serve an `#EXT-X-MAP` init segment per variant (`V{v}-INIT:` +
    /// filler, never encrypted). Default `false`.
    #[must_use]
    pub fn init(mut self, enabled: bool) -> Self {
        self.init = enabled;
        self
    }

    /// Encryption of media segments. Default [`Encryption::None`].
    #[must_use]
    pub fn encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// Serve the key wrapped: every byte XOR `0xFF`. The segments are still
    /// encrypted with the raw key ([`HlsOrigin::raw_key`](crate::HlsOrigin::raw_key)).
    /// Default `false`.
    #[must_use]
    pub fn wrapped_key(mut self, wrapped: bool) -> Self {
        self.wrapped_key = wrapped;
        self
    }

    /// Require the query parameter `name=value` on key requests; requests
    /// without it get 403. The key URI in the playlists carries it. May be
    /// called several times (all are required).
    #[must_use]
    pub fn key_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.key_queries.push((name.into(), value.into()));
        self
    }

    /// Require the header `name: value` on key requests; requests without it
    /// get 403. The header name is case-insensitive. May be called several
    /// times (all are required).
    #[must_use]
    pub fn key_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.key_headers.push((name.into(), value.into()));
        self
    }

    /// Sleep (asynchronously) this long before serving each media segment
    /// body (`seg/{i}.ts` and `all.ts`). Default: no delay.
    #[must_use]
    pub fn segment_delay(mut self, delay: std::time::Duration) -> Self {
        self.segment_delay = Some(delay);
        self
    }

    /// Pack all segments of a variant into one resource `/v{v}/all.ts`,
    /// addressed with `#EXT-X-BYTERANGE`. Every odd entry omits the offset
    /// (implicit offset = end of the previous range). Default `false`.
    #[must_use]
    pub fn byte_ranges(mut self, enabled: bool) -> Self {
        self.byte_ranges = enabled;
        self
    }

    /// First media sequence number (`#EXT-X-MEDIA-SEQUENCE`). Default 0.
    #[must_use]
    pub fn media_sequence(mut self, first: u64) -> Self {
        self.media_sequence = first;
        self
    }

    /// Use relative URIs in the playlists (default `true`); `false` writes
    /// absolute `http://127.0.0.1:PORT/...` URLs.
    #[must_use]
    pub fn relative_uris(mut self, relative: bool) -> Self {
        self.relative_uris = relative;
        self
    }

    /// Whether media segments are encrypted.
    pub(crate) fn encrypted(&self) -> bool {
        matches!(self.encryption, Encryption::Aes128 { .. })
    }
}
