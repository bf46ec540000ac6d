//! The segment URLs of a media playlist, packed into one string.
//!
//! A `Url` per segment costs ~90 bytes inline plus its own heap string; a
//! long VOD has thousands of segments whose URLs mostly repeat the playlist's
//! own URL up to the file name. Each URL is kept here as the text that follows
//! the part it shares with the playlist URL, and rebuilt when a segment is
//! fetched (once per fetch, next to a network or disk read).

use url::Url;

/// Where one URL lives in a [`UrlTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UrlRef {
    /// How many leading bytes of the table's base the URL shares.
    shared: u32,
    /// Start of the rest of the URL in the table's text.
    start: u32,
    /// Length of the rest.
    len: u32,
}

/// Too many URL bytes for the 32-bit offsets of [`UrlRef`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TableFull;

/// URLs stored as suffixes of a shared base.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlTable {
    base: String,
    text: String,
}

impl UrlTable {
    /// An empty table whose URLs share their prefix with `base`.
    pub(crate) fn new(base: &Url) -> Self {
        Self {
            base: base.as_str().to_owned(),
            text: String::new(),
        }
    }

    /// Store `url`.
    pub(crate) fn push(&mut self, url: &Url) -> Result<UrlRef, TableFull> {
        let full = url.as_str();
        let mut shared = full
            .bytes()
            .zip(self.base.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        // Serialised URLs are ASCII, but a split inside a character would
        // make `get` slice off a boundary: never let it happen.
        while !full.is_char_boundary(shared) {
            shared -= 1;
        }
        let rest = &full[shared..];
        let start = self.text.len();
        let out = UrlRef {
            shared: u32::try_from(shared).map_err(|_| TableFull)?,
            start: u32::try_from(start).map_err(|_| TableFull)?,
            len: u32::try_from(rest.len()).map_err(|_| TableFull)?,
        };
        u32::try_from(start + rest.len()).map_err(|_| TableFull)?;
        self.text.push_str(rest);
        Ok(out)
    }

    /// The URL stored at `r`. The text is a URL's own serialisation, which
    /// parses back to the same URL; `None` only for a `r` of another table.
    pub(crate) fn get(&self, r: UrlRef) -> Option<Url> {
        let prefix = self.base.get(..r.shared as usize)?;
        let start = r.start as usize;
        let rest = self.text.get(start..start + r.len as usize)?;
        let mut s = String::with_capacity(prefix.len() + rest.len());
        s.push_str(prefix);
        s.push_str(rest);
        Url::parse(&s).ok()
    }

    /// Give back the spare capacity once every URL is stored.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
    }

    /// Bytes of URL text held (without the base).
    #[cfg(test)]
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }
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
        let refs: Vec<UrlRef> = urls.iter().map(|s| t.push(&u(s)).unwrap()).collect();
        for (s, r) in urls.iter().zip(refs) {
            assert_eq!(t.get(r).unwrap(), u(s), "{s}");
        }
    }

    #[test]
    fn only_the_part_after_the_shared_prefix_is_stored() {
        let base = u("http://127.0.0.1:8080/v0/playlist.m3u8");
        let mut t = UrlTable::new(&base);
        t.push(&u("http://127.0.0.1:8080/v0/seg/000001.ts"))
            .unwrap();
        assert_eq!(t.text_len(), "seg/000001.ts".len());
        // Another origin shares only its scheme's first letters.
        t.push(&u("https://k.example/key")).unwrap();
        assert_eq!(
            t.text_len(),
            "seg/000001.ts".len() + "s://k.example/key".len()
        );
    }

    #[test]
    fn a_ref_of_another_table_is_none_not_a_panic() {
        let mut big = UrlTable::new(&u("http://h/a/very/long/base/path.m3u8"));
        let r = big.push(&u("http://h/a/very/long/base/x.ts")).unwrap();
        let small = UrlTable::new(&u("http://h/"));
        assert_eq!(small.get(r), None);
    }
}
