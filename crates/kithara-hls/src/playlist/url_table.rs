//! The segment URLs of a media playlist, front-coded into one byte string.
//!
//! A `Url` per segment costs ~90 bytes inline plus its own heap string, and a
//! long VOD has tens of thousands of segments whose URLs differ from the one
//! before in a few characters (`…/seg/01234.ts`, `…/seg/01235.ts`). Each URL
//! is kept as the length of the prefix it shares with the URL before it and
//! the bytes that follow: about 6 bytes for a numbered segment. Every
//! [`RESTART`]th URL is coded against the playlist's own URL instead, so
//! rebuilding one URL decodes at most [`RESTART`] entries (once per fetch,
//! next to a network or disk read).

use url::Url;

/// Entries between two restart points.
const RESTART: usize = 16;

/// Too many URL bytes for the 32-bit offsets of the restart points.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TableFull;

/// Front-coded URLs, addressed by their position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlTable {
    /// The playlist's URL, which restart entries share a prefix with.
    base: String,
    /// The entries: varint shared length, varint rest length, the rest.
    bytes: Vec<u8>,
    /// Offset in `bytes` of entries `0, RESTART, 2 * RESTART, …`.
    restarts: Vec<u32>,
    /// The last URL pushed, which the next entry is coded against.
    last: String,
    len: usize,
}

impl UrlTable {
    /// An empty table whose restart URLs are coded against `base`.
    pub(crate) fn new(base: &Url) -> Self {
        Self {
            base: base.as_str().to_owned(),
            ..Self::default()
        }
    }

    /// Number of URLs stored.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Store `url` as the next entry.
    pub(crate) fn push(&mut self, url: &Url) -> Result<(), TableFull> {
        let full = url.as_str();
        let restart = self.len.is_multiple_of(RESTART);
        if restart {
            self.restarts
                .push(u32::try_from(self.bytes.len()).map_err(|_| TableFull)?);
        }
        let against = if restart { &self.base } else { &self.last };
        let mut shared = full
            .bytes()
            .zip(against.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        // Serialised URLs are ASCII, but a split inside a character would
        // make `get` slice off a boundary: never let it happen.
        while !full.is_char_boundary(shared) {
            shared -= 1;
        }
        let rest = &full.as_bytes()[shared..];
        put_varint(&mut self.bytes, shared);
        put_varint(&mut self.bytes, rest.len());
        self.bytes.extend_from_slice(rest);
        self.last.clear();
        self.last.push_str(full);
        self.len += 1;
        Ok(())
    }

    /// The URL at position `i`: a URL's own serialisation, which parses back
    /// to the same URL; `None` past the end.
    pub(crate) fn get(&self, i: usize) -> Option<Url> {
        if i >= self.len {
            return None;
        }
        let mut at = *self.restarts.get(i / RESTART)? as usize;
        let mut url = String::new();
        for k in 0..=(i % RESTART) {
            let shared = get_varint(&self.bytes, &mut at)?;
            let len = get_varint(&self.bytes, &mut at)?;
            let rest = std::str::from_utf8(self.bytes.get(at..at.checked_add(len)?)?).ok()?;
            at += len;
            if k == 0 {
                url.clear();
                url.push_str(self.base.get(..shared)?);
            } else {
                url.truncate(shared);
            }
            url.push_str(rest);
        }
        Url::parse(&url).ok()
    }

    /// Give back the spare capacity once every URL is stored.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.restarts.shrink_to_fit();
        self.last = String::new();
    }

    /// Bytes held for the URLs (without the base).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.restarts.capacity() * size_of::<u32>()
    }
}

/// LEB128: seven bits a byte, low bits first.
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    for shift in (0..usize::BITS).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        n |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn urls_come_back_unchanged() {
        let base = u("https://cdn.example.com/a/b/playlist.m3u8?tok=1");
        let mut t = UrlTable::new(&base);
        let urls = [
            "https://cdn.example.com/a/b/seg-0001.ts",
            "https://cdn.example.com/a/b/playlist.m3u8?tok=1",
            "https://cdn.example.com/a/b/playlist.m3u8?tok=12#f",
            "https://cdn.example.com/x/seg.ts?tok=1",
            "https://other.example.org/seg.ts",
            "http://cdn.example.com/a/b/seg.ts",
            "https://cdn.example.com:8443/a/b/seg.ts",
            "https://xn--bcher-kva.example/%C3%BC/seg.ts",
        ];
        // Past several restart points, in every position between them.
        let all: Vec<&str> = urls.iter().cycle().take(5 * RESTART + 3).copied().collect();
        for s in &all {
            t.push(&u(s)).unwrap();
        }
        assert_eq!(t.len(), all.len());
        for (i, s) in all.iter().enumerate() {
            assert_eq!(t.get(i).unwrap(), u(s), "{i}: {s}");
        }
        assert_eq!(t.get(all.len()), None);
    }

    #[test]
    fn numbered_segments_cost_a_few_bytes_each() {
        let base = u("http://127.0.0.1:8080/v0/playlist.m3u8");
        let mut t = UrlTable::new(&base);
        let n = 30_000;
        for i in 0..n {
            t.push(&u(&format!("http://127.0.0.1:8080/v0/seg/{i:06}.ts")))
                .unwrap();
        }
        t.shrink_to_fit();
        // Written out, each URL is 38 bytes; after the base, 13.
        let per_url = t.heap_bytes() as f64 / f64::from(n);
        assert!(per_url < 8.0, "{per_url} bytes per URL");
        assert_eq!(
            t.get(12_345).unwrap().as_str(),
            "http://127.0.0.1:8080/v0/seg/012345.ts"
        );
    }

    #[test]
    fn varints_round_trip_and_a_truncated_one_is_none() {
        for n in [0, 1, 127, 128, 300, u32::MAX as usize, usize::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            let mut at = 0;
            assert_eq!(get_varint(&out, &mut at), Some(n));
            assert_eq!(at, out.len());
            let mut at = 0;
            assert_eq!(get_varint(&out[..out.len() - 1], &mut at), None);
        }
    }
}
