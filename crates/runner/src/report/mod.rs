//! What a run measured and how it is told: per-thread recorders merged each second
//! (`metrics`), the results contract (`results`), thresholds judged on results
//! (`thresholds`), the console summary (`summary`), the HTML report (`html`), the merge of
//! segments (`merge`) and the once-a-second live snapshot (`live`).
//!
//! Uses nothing else in the crate. Inside it, `results` is the data every other module
//! reads; `merge` also uses `thresholds` and `summary`'s time helpers.

pub mod html;
pub mod live;
pub mod merge;
pub(crate) mod metrics;
pub mod results;
pub mod summary;
pub mod thresholds;
