//! `detector-corpus`: Warden's detectors (the default masking profile) over the generated corpus
//! (`benches/corpus/corpus.jsonl`), optionally next to Presidio's detections of the same corpus
//! (`benches/corpus/presidio.py`); writes the per-detector precision/recall table as Markdown and
//! the JSON summary the CI test (`benches/tests/detector_corpus.rs`) compares against. Run by
//! `just bench-detectors`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use warden_benches::corpus::report::{markdown, PresidioResult, WardenResult};
use warden_benches::corpus::{self, presidio, score, warden};
use warden_testkit::paths::workspace_root;

#[derive(Parser)]
#[command(
    about = "Precision/recall of Warden's detectors (and Presidio's) over the detector corpus"
)]
struct Args {
    /// The corpus (JSON lines), relative to the workspace root or absolute.
    #[arg(long, default_value = corpus::CORPUS_PATH)]
    corpus: PathBuf,
    /// Presidio's detections of the same corpus (written by benches/corpus/presidio.py).
    #[arg(long)]
    presidio: Option<PathBuf>,
    /// Seconds of masking to measure Warden's throughput (0: not measured).
    #[arg(long, default_value_t = 2.0)]
    throughput_seconds: f64,
    /// Where to write the JSON summary.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where to write the Markdown table (else: standard output).
    #[arg(long)]
    markdown: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = workspace_root();
    let corpus_path = root.join(&args.corpus);
    let items = corpus::load(&corpus_path)?;
    let mut summary = corpus::summarize_warden(&items, &corpus_path, &args.corpus)?;
    if args.throughput_seconds > 0.0 {
        summary.warden = WardenResult {
            throughput_mb_s: Some(warden::throughput_mb_s(
                &items,
                Duration::from_secs_f64(args.throughput_seconds),
            )?),
            ..summary.warden
        };
    }
    if let Some(path) = &args.presidio {
        let detections = presidio::load(&root.join(path), &summary.corpus.sha256)?;
        let mut scores = score::score(&items, &presidio::outcomes(&items, &detections)?);
        scores.findings.clear();
        summary.presidio = Some(PresidioResult {
            run: detections.run,
            scores,
        });
    }
    let command = std::env::args()
        .skip(1)
        .fold("detector-corpus".to_owned(), |cmd, arg| cmd + " " + &arg);
    let table = markdown(&summary, &command);
    match &args.markdown {
        Some(path) => std::fs::write(root.join(path), table)
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{table}"),
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&summary)? + "\n";
        std::fs::write(root.join(path), json)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let totals = &summary.warden.scores.totals;
    eprintln!(
        "warden: {} items, {} caught, {} leaked, {} look-alikes masked",
        totals.items, totals.caught, totals.leaked, totals.look_alikes_masked
    );
    Ok(())
}
