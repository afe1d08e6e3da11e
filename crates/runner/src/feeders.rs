//! CSV data feeders: each iteration takes one row per feeder, sequentially (one shared
//! cursor, wrapping), at random, or uniquely (each row once, then the run ends).
//!
//! Split over load segments, rows are striped like everything else: a segment's `i`-th
//! draw takes global draw `i * N + I`, so row `r` of a `unique` feeder belongs to segment
//! `r mod N` alone, and `sequential` cursors of the segments interleave into the single
//! process's sequence.
//!
//! Rows are turned into template values once at start, so handing one out is an atomic
//! increment and an `Arc` clone.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use minijinja::Value;
use rand::Rng;
use throng_ir::{Feeder, Pick, Segment};

pub struct FeederData {
    pub name: String,
    pub columns: Vec<String>,
    rows: Vec<Value>,
    pick: Pick,
    cursor: AtomicUsize,
    segment: Segment,
}

impl FeederData {
    /// Reads the whole CSV; a missing header, ragged rows or (for non-unique feeders) no rows
    /// at all are errors, reported before any traffic is sent.
    pub fn load(name: &str, feeder: &Feeder) -> Result<FeederData, String> {
        let path = if feeder.resolved.as_os_str().is_empty() {
            &feeder.csv
        } else {
            &feeder.resolved
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| format!("data `{name}`: cannot read {}: {e}", path.display()))?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| format!("data `{name}`: {}: {e}", path.display()))?
            .iter()
            .map(|c| c.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("data `{name}`: {}: {e}", path.display()))?;
            rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
        }
        FeederData::from_rows(name, columns, rows, feeder.pick)
    }

    pub fn from_rows(
        name: &str,
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
        pick: Pick,
    ) -> Result<FeederData, String> {
        if columns.is_empty() || columns.iter().all(String::is_empty) {
            return Err(format!(
                "data `{name}`: the CSV needs a header row naming its columns"
            ));
        }
        if rows.is_empty() && pick != Pick::Unique {
            return Err(format!("data `{name}`: the CSV has a header but no rows"));
        }
        let rows = rows
            .into_iter()
            .map(|r| {
                let map: BTreeMap<String, Value> = columns
                    .iter()
                    .cloned()
                    .zip(r.into_iter().map(Value::from))
                    .collect();
                Value::from(map)
            })
            .collect();
        Ok(FeederData {
            name: name.to_string(),
            columns,
            rows,
            pick,
            cursor: AtomicUsize::new(0),
            segment: Segment::WHOLE,
        })
    }

    /// Stripes the rows for one segment of a split load.
    pub fn for_segment(mut self, segment: Segment) -> FeederData {
        self.segment = segment;
        self
    }

    /// The global draw number of this process's next draw.
    fn draw(&self) -> usize {
        let i = self.cursor.fetch_add(1, Ordering::Relaxed);
        self.segment.global(i as u64).min(usize::MAX as u64) as usize
    }

    /// The next row, or None when a unique feeder has run out.
    pub fn next(&self, rng: &mut impl Rng) -> Option<Value> {
        match self.pick {
            Pick::Sequential => Some(self.rows[self.draw() % self.rows.len()].clone()),
            Pick::Random => Some(self.rows[rng.random_range(0..self.rows.len())].clone()),
            Pick::Unique => self.rows.get(self.draw()).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn feeder(pick: Pick, n: usize) -> FeederData {
        let rows = (0..n)
            .map(|i| vec![format!("user{i}"), format!("{i}")])
            .collect();
        FeederData::from_rows("users", vec!["email".into(), "n".into()], rows, pick).unwrap()
    }

    fn email(v: &Value) -> String {
        v.get_attr("email").unwrap().to_string()
    }

    #[test]
    fn sequential_wraps() {
        let f = feeder(Pick::Sequential, 3);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let got: Vec<_> = (0..5).map(|_| email(&f.next(&mut rng).unwrap())).collect();
        assert_eq!(got, ["user0", "user1", "user2", "user0", "user1"]);
    }

    #[test]
    fn unique_never_reuses_and_runs_out_across_threads() {
        let f = std::sync::Arc::new(feeder(Pick::Unique, 1000));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let f = f.clone();
                std::thread::spawn(move || {
                    let mut rng = rand::rngs::SmallRng::seed_from_u64(t);
                    let mut got = Vec::new();
                    while let Some(v) = f.next(&mut rng) {
                        got.push(email(&v));
                    }
                    got
                })
            })
            .collect();
        let mut all: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(all.len(), 1000);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn segments_partition_unique_rows_and_interleave_sequential_ones() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let mut all = Vec::new();
        for i in 0..4 {
            let f = feeder(Pick::Unique, 10).for_segment(Segment::new(i, 4).unwrap());
            let mut mine = Vec::new();
            while let Some(v) = f.next(&mut rng) {
                mine.push(email(&v));
            }
            assert_eq!(mine.len() as u64, Segment::new(i, 4).unwrap().share(10));
            all.extend(mine);
        }
        all.sort();
        let mut want: Vec<String> = (0..10).map(|i| format!("user{i}")).collect();
        want.sort();
        assert_eq!(all, want);
        let f = feeder(Pick::Sequential, 3).for_segment(Segment::new(1, 2).unwrap());
        let got: Vec<_> = (0..4).map(|_| email(&f.next(&mut rng).unwrap())).collect();
        assert_eq!(got, ["user1", "user0", "user2", "user1"]);
    }

    #[test]
    fn random_stays_in_range_and_empty_files_are_refused() {
        let f = feeder(Pick::Random, 4);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(email(&f.next(&mut rng).unwrap()));
        }
        assert_eq!(seen.len(), 4);
        assert!(FeederData::from_rows("x", vec!["a".into()], vec![], Pick::Sequential).is_err());
        assert!(
            FeederData::from_rows("x", vec!["a".into()], vec![], Pick::Unique)
                .unwrap()
                .next(&mut rng)
                .is_none()
        );
        assert!(FeederData::from_rows("x", vec![], vec![], Pick::Unique).is_err());
    }
}
