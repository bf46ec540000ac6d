//! The early bound on a playlist's size in entries, applied while its body
//! streams in.

/// Counts the URI lines of a playlist as it streams in: a line whose first
/// non-blank byte is ASCII and not `#`. A line starting with a non-ASCII byte
/// is not counted, so the count never exceeds what the parser's own bound
/// (`parse_media`) counts; this only makes the refusal early.
#[derive(Debug)]
pub(super) struct UriLines {
    pub(super) max: usize,
    count: usize,
    /// No non-blank byte seen yet on the current line.
    undecided: bool,
}

impl UriLines {
    pub(super) fn new(max: usize) -> Self {
        Self {
            max,
            count: 0,
            undecided: true,
        }
    }

    /// Feed the next bytes; true once more than `max` URI lines were seen.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if b == b'\n' {
                self.undecided = true;
            } else if self.undecided && !b.is_ascii_whitespace() {
                self.undecided = false;
                if b.is_ascii() && b != b'#' {
                    self.count += 1;
                }
            }
        }
        self.count > self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_lines_are_counted_across_chunks() {
        let text =
            b"#EXTM3U\n#EXTINF:4,\nseg/0.ts\n\n  \r\n#EXTINF:4,\r\n  seg/1.ts\r\n#X\nseg/2.ts";
        for split in 0..text.len() {
            let mut c = UriLines::new(3);
            assert!(!c.feed(&text[..split]));
            assert!(!c.feed(&text[split..]));
            assert_eq!(c.count, 3, "split at {split}");
            let mut c = UriLines::new(2);
            let over = c.feed(&text[..split]) | c.feed(&text[split..]);
            assert!(over, "split at {split}");
        }
    }

    #[test]
    fn non_ascii_first_bytes_are_not_counted() {
        let mut c = UriLines::new(0);
        assert!(!c.feed("\u{a0}\n\u{feff}#EXTM3U\n".as_bytes()));
        assert!(c.feed(b"x\n"));
    }
}
