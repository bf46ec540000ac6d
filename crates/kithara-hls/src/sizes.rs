//! The plaintext size of each item of a session, once known, and where each
//! starts in the stream: about four bytes per item.
//!
//! A long VOD has tens of thousands of items, and a session keeps this table
//! for as long as it plays. Sizes are `u32`s (a segment over 4 GiB goes to a
//! side map); starts are kept only every [`BLOCK`] items and summed from
//! there, since the stream's positions are asked for once per item loaded
//! or per seek.

use std::collections::BTreeMap;

/// Items between two kept starts.
const BLOCK: usize = 64;
/// The size is not known yet.
const UNKNOWN: u32 = u32::MAX;
/// The size is in [`Sizes::large`].
const LARGE: u32 = u32::MAX - 1;

/// Sizes and starts of the items of a stream.
#[derive(Debug)]
pub(crate) struct Sizes {
    sizes: Vec<u32>,
    large: BTreeMap<usize, u64>,
    /// Bit `i`: the size of item `i` is a probe ([`crate::probe`]) that no
    /// read has checked yet.
    probed: Vec<u64>,
    /// `starts[b]`: the start of item `b * BLOCK`, for each such item up to
    /// `known`.
    starts: Vec<u64>,
    /// Items `..known` have known sizes.
    known: usize,
    /// The start of item `known`: the end of the known prefix.
    known_end: u64,
}

impl Sizes {
    /// No item.
    pub(crate) fn new() -> Self {
        Self {
            sizes: Vec::new(),
            large: BTreeMap::new(),
            probed: Vec::new(),
            starts: vec![0],
            known: 0,
            known_end: 0,
        }
    }

    /// `n` items, the size of each as `hint` tells.
    pub(crate) fn with_hints(n: usize, hint: impl Fn(usize) -> Option<u64>) -> Self {
        let mut s = Self::new();
        s.sizes.reserve_exact(n);
        s.probed.reserve_exact(n.div_ceil(64));
        for i in 0..n {
            s.push(hint(i));
        }
        s
    }

    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Append an item of size `hint`.
    pub(crate) fn push(&mut self, hint: Option<u64>) {
        let i = self.sizes.len();
        self.sizes.push(UNKNOWN);
        if i.is_multiple_of(64) {
            self.probed.push(0);
        }
        if let Some(size) = hint {
            self.put(i, size);
        }
        self.extend();
    }

    /// The size of item `i`, if known.
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        match *self.sizes.get(i)? {
            UNKNOWN => None,
            LARGE => self.large.get(&i).copied(),
            n => Some(u64::from(n)),
        }
    }

    /// Item `i` is `size` bytes. When that changes a size the starts after
    /// it were summed from, those starts are forgotten and summed again.
    pub(crate) fn set(&mut self, i: usize, size: u64) {
        if i < self.known && self.get(i) != Some(size) {
            self.known = i;
            self.starts.truncate(i / BLOCK + 1);
            self.known_end = self.start(i);
        }
        self.put(i, size);
        self.extend();
    }

    /// Item `i` is `size` bytes by a probe, which the read that loads it
    /// checks ([`take_probed`](Self::take_probed)).
    pub(crate) fn set_probed(&mut self, i: usize, size: u64) {
        self.set(i, size);
        if let Some(word) = self.probed.get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }

    /// Whether the size of item `i` was probed and not checked since; it
    /// counts as checked from now on.
    pub(crate) fn take_probed(&mut self, i: usize) -> bool {
        let Some(word) = self.probed.get_mut(i / 64) else {
            return false;
        };
        let bit = 1 << (i % 64);
        let was = *word & bit != 0;
        *word &= !bit;
        was
    }

    /// How many items from the first have known sizes.
    pub(crate) fn known(&self) -> usize {
        self.known
    }

    /// The start of item `i`, for `i <= known()`.
    pub(crate) fn start(&self, i: usize) -> u64 {
        let b = i / BLOCK;
        let from = self.starts.get(b).copied().unwrap_or(self.known_end);
        (b * BLOCK..i).fold(from, |at, j| at + self.get(j).unwrap_or(0))
    }

    /// The end of the known prefix: the stream's length once every size is
    /// known.
    pub(crate) fn known_end(&self) -> u64 {
        self.known_end
    }

    /// The item holding `pos` (`pos < known_end()`) and its start: the last
    /// item starting at or before it, so empty items are passed over.
    pub(crate) fn find(&self, pos: u64) -> (usize, u64) {
        let b = self.starts.partition_point(|&s| s <= pos).saturating_sub(1);
        let mut at = self.starts[b];
        let mut found = (b * BLOCK, at);
        for j in b * BLOCK..self.known.min((b + 1) * BLOCK) {
            if at > pos {
                break;
            }
            found = (j, at);
            at += self.get(j).unwrap_or(0);
        }
        found
    }

    fn put(&mut self, i: usize, size: u64) {
        match u32::try_from(size) {
            Ok(n) if n < LARGE => {
                self.sizes[i] = n;
                self.large.remove(&i);
            }
            _ => {
                self.sizes[i] = LARGE;
                self.large.insert(i, size);
            }
        }
    }

    /// Grow the known prefix over the sizes known after it.
    fn extend(&mut self) {
        while let Some(size) = self.get(self.known) {
            self.known_end += size;
            self.known += 1;
            if self.known.is_multiple_of(BLOCK) {
                self.starts.push(self.known_end);
            }
        }
    }

    /// Heap bytes held.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.sizes.capacity() * 4 + self.probed.capacity() * 8 + self.starts.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The starts of the known prefix, summed from scratch.
    fn model_starts(sizes: &[Option<u64>]) -> Vec<u64> {
        let mut out = vec![0];
        for s in sizes.iter().map_while(|s| *s) {
            out.push(out.last().unwrap() + s);
        }
        out
    }

    proptest! {
        /// Whatever order sizes become known in, and whatever they are
        /// changed to, the table answers as a plain list of sizes would.
        #[test]
        fn answers_as_a_list_of_sizes_does(
            hints in prop::collection::vec(prop::option::of(prop_oneof![0u64..3, 0u64..100_000, Just(u64::from(u32::MAX)), Just(5 << 32)]), 0..300),
            sets in prop::collection::vec((0usize..300, 0u64..100_000, any::<bool>()), 0..200),
        ) {
            let mut model: Vec<Option<u64>> = hints.clone();
            let mut t = Sizes::with_hints(hints.len(), |i| hints[i]);
            let mut probed = vec![false; hints.len()];
            for (i, size, probe) in sets {
                if i >= model.len() { continue; }
                if probe { t.set_probed(i, size); probed[i] = true; } else { t.set(i, size); }
                model[i] = Some(size);
                let starts = model_starts(&model);
                prop_assert_eq!(t.known(), starts.len() - 1);
                prop_assert_eq!(t.known_end(), *starts.last().unwrap());
                for (k, &s) in starts.iter().enumerate() {
                    prop_assert_eq!(t.start(k), s, "start of {}", k);
                }
                // Every start, the byte before it, and one inside each item.
                let positions = starts.iter().flat_map(|&s| [s.saturating_sub(1), s, s + 1]);
                for pos in positions.filter(|&p| p < t.known_end()) {
                    let want = starts.partition_point(|&o| o <= pos) - 1;
                    prop_assert_eq!(t.find(pos), (want, starts[want]), "pos {}", pos);
                }
            }
            for (i, m) in model.iter().enumerate() {
                prop_assert_eq!(t.get(i), *m);
                prop_assert_eq!(t.take_probed(i), probed[i]);
                prop_assert!(!t.take_probed(i));
            }
        }
    }

    #[test]
    fn a_live_stream_grows_item_by_item() {
        let mut t = Sizes::new();
        for i in 0..200u64 {
            t.push((i != 150).then_some(i));
        }
        assert_eq!(t.known(), 150);
        assert_eq!(t.known_end(), (0..150).sum::<u64>());
        t.set(150, 7);
        assert_eq!(t.known(), 200);
        assert_eq!(t.start(151), (0..150).sum::<u64>() + 7);
    }

    #[test]
    fn an_item_costs_about_four_bytes() {
        let n = 30_000;
        let t = Sizes::with_hints(n, |_| Some(65_536));
        let per_item = t.heap_bytes() as f64 / n as f64;
        assert!(per_item < 4.5, "{per_item} bytes per item");
        assert_eq!(t.known_end(), 65_536 * n as u64);
        assert_eq!(t.find(65_536 * 12_345 + 5), (12_345, 65_536 * 12_345));
    }
}
