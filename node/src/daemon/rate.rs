//! Token buckets: how many of something a peer or an author may do per minute.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// Keys a [`Buckets`] keeps at most; the one idle longest makes room for a new one.
const MAX_KEYS: usize = 4_096;

/// A token bucket: `capacity` tokens, refilled evenly over a minute.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    capacity: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn new(per_minute: u32) -> Bucket {
        Bucket {
            tokens: f64::from(per_minute),
            capacity: f64::from(per_minute),
            last: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.capacity / 60.0;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One bucket per key (a peer, an author), at most [`MAX_KEYS`] of them. A key forgotten to
/// make room starts again with a full bucket: the bound errs on the generous side, never on
/// the memory side.
#[derive(Debug)]
pub(crate) struct Buckets<K> {
    per_minute: u32,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub(crate) fn new(per_minute: u32) -> Buckets<K> {
        Buckets {
            per_minute,
            buckets: HashMap::new(),
        }
    }

    /// Takes one of `key`'s tokens if it has one left this minute.
    pub(crate) fn take(&mut self, key: &K) -> bool {
        if !self.buckets.contains_key(key) && self.buckets.len() >= MAX_KEYS {
            let idle = self
                .buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.last)
                .map(|(key, _)| key.clone());
            if let Some(idle) = idle {
                self.buckets.remove(&idle);
            }
        }
        let per_minute = self.per_minute;
        self.buckets
            .entry(key.clone())
            .or_insert_with(|| Bucket::new(per_minute))
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_gets_its_own_minute_and_the_map_stays_bounded() {
        let mut rates = Buckets::new(3);
        for _ in 0..3 {
            assert!(rates.take(&"a"));
        }
        assert!(!rates.take(&"a"), "the fourth in a minute is refused");
        assert!(rates.take(&"b"), "another key is not affected");
        let mut many = Buckets::new(1);
        for key in 0..(MAX_KEYS + 100) {
            assert!(many.take(&key));
        }
        assert_eq!(many.buckets.len(), MAX_KEYS);
    }
}
