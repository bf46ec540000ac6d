//! Configuration of the loopback origin (a consuming builder).

#[cfg(feature = "faults")]
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
    #[cfg(feature = "faults")]
    pub(crate) segment_delay: Option<Duration>,
    pub(crate) byte_ranges: bool,
    pub(crate) media_sequence: u64,
    pub(crate) relative_uris: bool,
    pub(crate) live_window: Option<usize>,
    pub(crate) target_duration: u64,
    pub(crate) signed_uris: bool,
    pub(crate) redirect_master: bool,
    pub(crate) alternate_audio: usize,
    pub(crate) codecs: Vec<String>,
    pub(crate) etags: bool,
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
            #[cfg(feature = "faults")]
            segment_delay: None,
            byte_ranges: false,
            media_sequence: 0,
            relative_uris: true,
            live_window: None,
            target_duration: 4,
            signed_uris: false,
            redirect_master: false,
            alternate_audio: 0,
            codecs: Vec::new(),
            etags: true,
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
    #[cfg(feature = "faults")]
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

    /// Serve live media playlists: no `#EXT-X-PLAYLIST-TYPE`, no
    /// `#EXT-X-ENDLIST`, a sliding window of the last `window` published
    /// segments. Default: VOD.
    ///
    /// The *head* (number of published segments) starts at `window`, clamped
    /// to [`segments`](Self::segments); [`HlsOrigin::advance`] moves it
    /// forward and [`HlsOrigin::end_live`] ends the stream. A playlist lists
    /// segments `head - window .. head` (fewer while `head < window`) and
    /// announces `#EXT-X-MEDIA-SEQUENCE:{media_sequence + head - listed}`.
    /// Segments at or past the head answer 404 (in byte-range mode `all.ts`
    /// holds only the published segments). Content, IVs and segment indices
    /// are those of the VOD with the same configuration. A `window` below 1
    /// is raised to 1.
    ///
    /// [`HlsOrigin::advance`]: crate::HlsOrigin::advance
    /// [`HlsOrigin::end_live`]: crate::HlsOrigin::end_live
    #[must_use]
    pub fn live(mut self, window: usize) -> Self {
        self.live_window = Some(window.max(1));
        self
    }

    /// `#EXT-X-TARGETDURATION` in seconds, also the `#EXTINF` duration of
    /// every segment. Default 4. Values below 1 are raised to 1.
    #[must_use]
    pub fn target_duration(mut self, secs: u64) -> Self {
        self.target_duration = secs.max(1);
        self
    }

    /// Sign segment URLs: in media playlists every segment URI (and init
    /// URI, and in byte-range mode the `all.ts` URI) carries
    /// `?token=<generation>`; the generation starts at 1 and
    /// [`HlsOrigin::rotate_tokens`] increments it. Segment and init requests
    /// whose `token` is missing or not the current generation get 403.
    /// Playlists and the key are not signed. Default `false`.
    ///
    /// [`HlsOrigin::rotate_tokens`]: crate::HlsOrigin::rotate_tokens
    #[must_use]
    pub fn signed_uris(mut self, signed: bool) -> Self {
        self.signed_uris = signed;
        self
    }

    /// Also serve the whole tree under the prefix `/m/` (`/m/master.m3u8`,
    /// `/m/v0/playlist.m3u8`, `/m/v0/seg/0.ts`, `/m/key.bin`, ...), and answer
    /// `/redir/master.m3u8` with `302 Found`, `Location: /m/master.m3u8`.
    /// A client that resolves the relative playlist URIs against the URL
    /// before the redirect gets 404s (`/redir/v0/playlist.m3u8`); one that
    /// uses the final URL works. With [`relative_uris(false)`] the playlists
    /// under `/m/` carry absolute URLs under `/m/`. Default `false`.
    ///
    /// [`relative_uris(false)`]: Self::relative_uris
    #[must_use]
    pub fn redirect_master(mut self, enabled: bool) -> Self {
        self.redirect_master = enabled;
        self
    }

    /// Add `n` alternate audio renditions. Default 0.
    ///
    /// The master gets one
    /// `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="a{k}",LANGUAGE="l{k}",DEFAULT=YES|NO,AUTOSELECT=YES,URI="a{k}/playlist.m3u8"`
    /// line per rendition (only `a0` is `DEFAULT=YES`), every
    /// `#EXT-X-STREAM-INF` gets `AUDIO="aud"`, and one
    /// `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10000,URI="v0/iframes.m3u8"` is
    /// added. Rendition `k` is served like a variant under `/a{k}/`
    /// (`playlist.m3u8`, `seg/{i}.ts`, `init.mp4`, `all.ts`), with the same
    /// segment count, size, encryption, init, byte-range, live and signing
    /// rules; its payloads start with `A{k}-SEG-{i}:` (init `A{k}-INIT:`).
    /// `/v0/iframes.m3u8` is a small VOD playlist (`#EXT-X-I-FRAMES-ONLY`,
    /// even when live) of two byte ranges into the resource holding segment
    /// 0 of variant 0 (its halves; not real I-frames).
    #[must_use]
    pub fn alternate_audio(mut self, n: usize) -> Self {
        self.alternate_audio = n;
        self
    }

    /// The `CODECS` of each variant, in order; variants past the list
    /// (all by default) say `mp4a.40.2`. The content does not change: only
    /// what the master playlist announces (to test codec-based choice).
    #[must_use]
    pub fn codecs<I, S>(mut self, codecs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.codecs = codecs.into_iter().map(Into::into).collect();
        self
    }

    /// Whether media playlists carry an `ETag` (default `true`). With
    /// `false` they carry a `Last-Modified` date instead, which changes
    /// with their text (a date derived from its hash; deterministic), and a
    /// request whose `If-Modified-Since` is exactly that date gets `304 Not
    /// Modified` without a body (exact match, as nginx does by default): an
    /// origin whose only validator is the date.
    #[must_use]
    pub fn etags(mut self, enabled: bool) -> Self {
        self.etags = enabled;
        self
    }

    /// Whether media segments are encrypted.
    pub(crate) fn encrypted(&self) -> bool {
        matches!(self.encryption, Encryption::Aes128 { .. })
    }
}
