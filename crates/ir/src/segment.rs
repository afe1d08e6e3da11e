//! Load segments: this process's deterministic share of a load split over N processes
//! (Kubernetes Indexed Job pods), such that the N shares add up to exactly the whole.
//!
//! Work items (VU numbers, iteration numbers, arrivals) are striped: global item `g`
//! belongs to segment `g mod N`. Striping keeps every share within one of the others,
//! keeps arrivals evenly interleaved, and makes `vu` numbers globally unique.

use std::fmt;

/// Segment `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    index: u32,
    count: u32,
}

impl Segment {
    /// The whole load in one process.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Segment, String> {
        if count == 0 {
            return Err("a load cannot be split into 0 segments".into());
        }
        if index >= count {
            return Err(format!(
                "segment {index}/{count}: the index must be below {count} (0-based)"
            ));
        }
        Ok(Segment { index, count })
    }

    /// Parses `I/N`, e.g. `2/4`.
    pub fn parse(text: &str) -> Result<Segment, String> {
        let (i, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("invalid segment `{text}`: expected I/N, like 0/4"))?;
        let i: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("invalid segment `{text}`: `{i}` is not a number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("invalid segment `{text}`: `{n}` is not a number"))?;
        Segment::new(i, n)
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// Whether global item `g` (VU, iteration or arrival number, 0-based) is ours.
    pub fn owns(&self, g: u64) -> bool {
        g % self.count as u64 == self.index as u64
    }

    /// How many of the global items `0..total` are ours; the shares sum to `total`.
    pub fn share(&self, total: u64) -> u64 {
        let n = self.count as u64;
        total / n + u64::from((self.index as u64) < total % n)
    }

    /// Our `k`-th item's global number (0-based): the inverse of striping.
    pub fn global(&self, k: u64) -> u64 {
        k * self.count as u64 + self.index as u64
    }

    /// Our share of a rate: arrivals are striped, so each segment sees `rate / N`.
    pub fn share_rate(&self, per_second: f64) -> f64 {
        per_second / self.count as f64
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_the_whole_and_items_are_owned_once() {
        for n in 1..=7u32 {
            for total in [0u64, 1, 5, 10, 99, 1000] {
                let segs: Vec<Segment> = (0..n).map(|i| Segment::new(i, n).unwrap()).collect();
                assert_eq!(segs.iter().map(|s| s.share(total)).sum::<u64>(), total);
                for g in 0..total {
                    assert_eq!(segs.iter().filter(|s| s.owns(g)).count(), 1);
                }
                for s in &segs {
                    let owned: Vec<u64> = (0..total).filter(|&g| s.owns(g)).collect();
                    let mapped: Vec<u64> = (0..s.share(total)).map(|k| s.global(k)).collect();
                    assert_eq!(owned, mapped);
                }
            }
        }
    }

    #[test]
    fn parse_refuses_nonsense() {
        assert_eq!(Segment::parse("1/4").unwrap(), Segment::new(1, 4).unwrap());
        assert!(Segment::parse("4/4").is_err());
        assert!(Segment::parse("0/0").is_err());
        assert!(Segment::parse("a/b").is_err());
        assert!(Segment::parse("3").is_err());
    }
}
