//! The progress bar on stderr: repositories done, failed and in flight, occurrences found, and
//! the time left. indicatif draws nothing when stderr is not a terminal, so there each failure
//! is a log line instead, and the end of the scan lists the failures either way.

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use fleetscan_core::report::Fleet;
use fleetscan_core::result::RepoStatus;
use fleetscan_worker::runner::Event;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar both `scan` and `watch` draw: repositories done out of the total, and a message.
pub fn repos_bar(total: Option<u64>, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    // The time left only means something when the total is known.
    let template = if total.is_some() {
        "{elapsed_precise} [{bar:30}] {pos}/{len} repos, eta {eta} {msg}"
    } else {
        "{elapsed_precise} [{bar:30}] {pos}/{len} repos {msg}"
    };
    let bar = ProgressBar::with_draw_target(total, target);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

pub struct Bar {
    bar: ProgressBar,
    in_flight: Cell<usize>,
    failed: Cell<usize>,
    occurrences: Cell<usize>,
}

impl Bar {
    pub fn new(total: usize, quiet: bool) -> Bar {
        Bar {
            bar: repos_bar(Some(total as u64), quiet),
            in_flight: Cell::new(0),
            failed: Cell::new(0),
            occurrences: Cell::new(0),
        }
    }

    pub fn event(&self, ev: &Event) {
        match ev {
            Event::Started(_) => self.in_flight.set(self.in_flight.get() + 1),
            Event::Finished(r) => {
                self.in_flight.set(self.in_flight.get().saturating_sub(1));
                self.occurrences
                    .set(self.occurrences.get() + r.occurrences.len());
                if r.status == RepoStatus::Failed {
                    self.failed.set(self.failed.get() + 1);
                    let reason = r.reason.as_deref().unwrap_or("");
                    if self.bar.is_hidden() {
                        tracing::warn!(repo = %r.repo, reason, "failed");
                    } else {
                        self.bar.println(format!("failed: {}: {reason}", r.repo));
                    }
                }
                self.bar.inc(1);
            }
        }
        self.bar.set_message(format!(
            "| {} failed | {} in flight | {} occurrences",
            self.failed.get(),
            self.in_flight.get(),
            self.occurrences.get()
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Failures listed at the end of a scan, at most [`LISTED`] of them: empty when none failed.
pub fn failure_list(fleet: &Fleet) -> String {
    let failed: Vec<_> = fleet
        .projects()
        .map(|(_, p)| &p.result)
        .filter(|r| r.status == RepoStatus::Failed)
        .collect();
    if failed.is_empty() {
        return String::new();
    }
    let mut s = format!("{} repositories failed:\n", failed.len());
    for r in failed.iter().take(LISTED) {
        s.push_str(&format!(
            "  {}: {}\n",
            r.repo,
            r.reason.as_deref().unwrap_or("no reason recorded")
        ));
    }
    if failed.len() > LISTED {
        s.push_str(&format!("  ... and {} more\n", failed.len() - LISTED));
    }
    s
}

/// Failures listed one per line at the end of a scan; summary.json has them all.
const LISTED: usize = 50;

/// The last line of a scan; `summary` is the `--out` directory when summary.json was written.
pub fn summary_line(
    fleet: &Fleet,
    out: Option<&Path>,
    summary: Option<&Path>,
    took: Duration,
) -> String {
    let (scanned, failed, skipped) = fleet.status_counts();
    let occ = fleet.occurrence_count();
    let mut s = format!(
        "{} repositories: {scanned} scanned, {failed} failed, {skipped} skipped; {occ} occurrences in {:.1}s",
        scanned + failed + skipped,
        took.as_secs_f64()
    );
    if let Some(out) = out {
        s.push_str(&format!("; reports in {}", out.display()));
    }
    if let Some(dir) = summary {
        s.push_str(&format!(
            "; every repository's outcome in {}",
            dir.join("summary.json").display()
        ));
    }
    s
}
