//! Progress on standard error for long runs: bytes read of the total and the rate,
//! drawn only when standard error is a terminal (RULES.md §10). Nothing is printed
//! otherwise, so logs and pipes stay clean.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress of one run over all its inputs. Shared by the thread that reads.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    /// Stored bytes of the inputs already read.
    done: AtomicU64,
}

impl Progress {
    /// A bar over `inputs` when standard error is a terminal, else nothing.
    pub(crate) fn for_inputs(inputs: &[impl AsRef<Path>]) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        // Standard input has no known size: the bar then shows bytes and rate only.
        let total: Option<u64> = inputs
            .iter()
            .map(|p| {
                let p = p.as_ref();
                (p != Path::new("-"))
                    .then(|| std::fs::metadata(p).ok().map(|m| m.len()))
                    .flatten()
            })
            .sum();
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::new(total),
                "{spinner} {msg}reading {bytes}/{total_bytes} ({binary_bytes_per_sec}, {eta} left)",
            ),
            None => (
                ProgressBar::no_length(),
                "{spinner} {msg}reading {bytes} ({binary_bytes_per_sec})",
            ),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress {
            bar: Some(bar),
            done: AtomicU64::new(0),
        }
    }

    pub(crate) fn hidden() -> Progress {
        Progress {
            bar: None,
            done: AtomicU64::new(0),
        }
    }

    /// Input `index` (from 0) of `count` is next: with several inputs, the bar names
    /// it ("2/3 api_json.log.gz").
    pub(crate) fn start_input(&self, index: usize, count: usize, path: &Path) {
        if let Some(bar) = &self.bar
            && count > 1
        {
            bar.set_message(input_label(index, count, path));
        }
    }

    /// The current input has had `read` stored bytes read.
    pub(crate) fn show(&self, read: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.done.load(Ordering::Relaxed) + read);
        }
    }

    /// The current input is read through, after `read` stored bytes.
    pub(crate) fn finish_input(&self, read: u64) {
        let done = self.done.fetch_add(read, Ordering::Relaxed) + read;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Clears the bar: the reply follows on standard output.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// "2/3 api_json.log.gz: ", the file's name without its folders.
fn input_label(index: usize, count: usize, path: &Path) -> String {
    let name = match path.file_name() {
        _ if path == Path::new("-") => "standard input".into(),
        Some(n) => n.to_string_lossy(),
        None => path.to_string_lossy(),
    };
    format!("{}/{count} {name}: ", index + 1)
}

/// A line of what a network fetch is doing (pages, events, a wait), drawn only when
/// standard error is a terminal.
pub(crate) struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    pub(crate) fn new(what: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner { bar: Some(bar) }
    }

    pub(crate) fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    pub(crate) fn set(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_owned());
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_names_the_input_it_reads() {
        assert_eq!(
            input_label(1, 3, Path::new("logs/api_json.log.gz")),
            "2/3 api_json.log.gz: "
        );
        assert_eq!(input_label(0, 2, Path::new("-")), "1/2 standard input: ");
    }
}
