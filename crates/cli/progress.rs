//! Progress while a run works: on a terminal a live view redrawn every second (indicatif:
//! elapsed/total, active VUs, current rps, errors, p95, a line per step); otherwise a compact
//! line every `every` (10 s) for CI logs; with `--quiet` nothing but the final summary.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use throng_runner::{LiveSnapshot, Observer};

/// Step lines drawn at most; a longer plan gets a "… N more steps" line.
const MAX_STEP_LINES: usize = 20;

/// Fans one snapshot out to several observers (the progress view and a metrics endpoint).
pub struct Fanout(pub Vec<Arc<dyn Observer>>);

impl Observer for Fanout {
    fn tick(&self, s: &LiveSnapshot) {
        for o in &self.0 {
            o.tick(s);
        }
    }
}

/// The progress display, chosen by where stderr goes.
pub enum Progress {
    Terminal(Mutex<TerminalView>),
    Lines {
        every: Duration,
        /// The last interval number a line was printed for.
        printed: Mutex<u64>,
    },
}

impl Progress {
    /// The live view on a terminal, periodic lines otherwise.
    pub fn for_stderr(every: Duration) -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::terminal(ProgressDrawTarget::stderr_with_hz(2))
        } else {
            Progress::lines(every)
        }
    }

    pub fn lines(every: Duration) -> Progress {
        Progress::Lines {
            every,
            printed: Mutex::new(0),
        }
    }

    fn terminal(target: ProgressDrawTarget) -> Progress {
        let multi = MultiProgress::with_draw_target(target);
        let header = multi.add(ProgressBar::new(0));
        Progress::Terminal(Mutex::new(TerminalView {
            multi,
            header,
            steps: Vec::new(),
        }))
    }
}

pub struct TerminalView {
    multi: MultiProgress,
    header: ProgressBar,
    steps: Vec<ProgressBar>,
}

/// The compact one-line form, as CI logs show it.
pub fn line(s: &LiveSnapshot) -> String {
    format!(
        "[{:>5.0}s] {} VUs active, {} iterations, {} requests ({} failed), {:.1} req/s, p95 {:.1}ms",
        s.elapsed.as_secs_f64(),
        s.active_vus,
        s.iterations,
        s.requests,
        s.failed,
        s.rps,
        s.p95_ms
    )
}

fn clock(d: Duration) -> String {
    let t = d.as_secs();
    if t >= 3600 {
        format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    } else {
        format!("{}:{:02}", t / 60, t % 60)
    }
}

fn error_share(failed: u64, requests: u64) -> String {
    if requests == 0 {
        "0".to_string()
    } else {
        format!("{failed} ({:.1}%)", failed as f64 * 100.0 / requests as f64)
    }
}

impl TerminalView {
    fn draw(&mut self, s: &LiveSnapshot) {
        let (len, pos, of) = match (s.planned, s.iteration_limit) {
            (Some(p), _) => (
                p.as_secs().max(1),
                s.elapsed.as_secs(),
                format!("{} / {}", clock(s.elapsed), clock(p)),
            ),
            (None, Some(n)) => (
                n.max(1),
                s.iterations,
                format!("{} / {n} iterations, {}", s.iterations, clock(s.elapsed)),
            ),
            (None, None) => (1, 0, clock(s.elapsed)),
        };
        if self.header.length() != Some(len) {
            self.header.set_style(
                ProgressStyle::with_template("{prefix:.bold} [{bar:24.cyan/blue}] {msg}")
                    .expect("a fixed template")
                    .progress_chars("=> "),
            );
            self.header.set_prefix(s.name.clone());
            self.header.set_length(len);
        }
        self.header.set_position(pos.min(len));
        self.header.set_message(format!(
            "{of}  {} VUs  {:.1} req/s  errors {}  p95 {:.1} ms",
            s.active_vus,
            s.rps,
            error_share(s.failed, s.requests),
            s.p95_ms
        ));
        let shown = s.steps.len().min(MAX_STEP_LINES);
        let lines = shown + usize::from(s.steps.len() > MAX_STEP_LINES);
        while self.steps.len() < lines {
            let bar = self.multi.add(ProgressBar::new(0));
            bar.set_style(ProgressStyle::with_template("  {msg}").expect("a fixed template"));
            self.steps.push(bar);
        }
        let width = s
            .steps
            .iter()
            .take(shown)
            .map(|st| st.scenario.len() + st.step.len() + 3)
            .max()
            .unwrap_or(0)
            .min(48);
        for (bar, st) in self.steps.iter().zip(&s.steps) {
            let mut name = format!("{} › {}", st.scenario, st.step);
            if name.chars().count() > width {
                name = name
                    .chars()
                    .take(width.saturating_sub(1))
                    .collect::<String>()
                    + "…";
            }
            bar.set_message(format!(
                "{name:<width$}  {:>8} req  {:>6} err  p95 {:>8.1} ms",
                st.requests, st.failed, st.p95_ms
            ));
        }
        if s.steps.len() > MAX_STEP_LINES {
            if let Some(bar) = self.steps.last() {
                bar.set_message(format!("… {} more steps", s.steps.len() - MAX_STEP_LINES));
            }
        }
        if s.finished {
            for bar in &self.steps {
                bar.finish_and_clear();
            }
            self.header.finish_and_clear();
            let _ = self.multi.clear();
        }
    }
}

impl Observer for Progress {
    fn tick(&self, s: &LiveSnapshot) {
        match self {
            Progress::Terminal(view) => {
                if let Ok(mut v) = view.lock() {
                    v.draw(s);
                }
            }
            Progress::Lines { every, printed } => {
                if s.finished {
                    return;
                }
                let interval = (s.elapsed.as_secs_f64() / every.as_secs_f64().max(1e-3)) as u64;
                if let Ok(mut last) = printed.lock() {
                    if interval > *last {
                        *last = interval;
                        eprintln!("{}", line(s));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_line_has_every_figure() {
        let s = LiveSnapshot {
            elapsed: Duration::from_secs(10),
            active_vus: 4,
            iterations: 120,
            requests: 240,
            failed: 3,
            rps: 24.0,
            p95_ms: 3.12,
            ..Default::default()
        };
        assert_eq!(
            line(&s),
            "[   10s] 4 VUs active, 120 iterations, 240 requests (3 failed), 24.0 req/s, p95 3.1ms"
        );
    }

    #[test]
    fn clock_and_error_share_read_naturally() {
        assert_eq!(clock(Duration::from_secs(75)), "1:15");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(error_share(1, 200), "1 (0.5%)");
        assert_eq!(error_share(0, 0), "0");
    }
}
