//! A progress bar on stderr for long operations; invisible when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bar {
    bar: ProgressBar,
    unit: &'static str,
}

impl Bar {
    pub fn new(unit: &'static str) -> Bar {
        let bar = ProgressBar::hidden();
        bar.set_draw_target(ProgressDrawTarget::stderr());
        Bar { bar, unit }
    }
}

impl convene_node::Progress for Bar {
    fn start(&self, total: Option<u64>, what: &str) {
        let template = match (total, self.unit) {
            (Some(_), "bytes") => "{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})",
            (Some(_), _) => "{msg} [{bar:40}] {pos}/{len} ({eta})",
            (None, "bytes") => "{spinner} {msg} {bytes}",
            (None, _) => "{spinner} {msg} {pos}",
        };
        if let Some(total) = total {
            self.bar.set_length(total);
        }
        self.bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_message(what.to_string());
    }

    fn advance(&self, done: u64) {
        self.bar.inc(done);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
