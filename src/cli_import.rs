//! `authgraph import FILE`: a bulk import from the command line, straight to the database,
//! with a progress bar in a terminal and a plain line per 10,000 records otherwise.

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use authgraph::service::import::{Format, Identifier, ImportOptions, source};
use authgraph::service::{Actor, Audit, Services, TriggeredBy};

use super::ImportArgs;

/// Runs the import and prints its summary; fails when the job did not complete.
pub async fn run(services: &Services, args: ImportArgs) -> anyhow::Result<()> {
    let identifier = Identifier::parse(&args.identifier)
        .ok_or_else(|| anyhow::anyhow!("--identifier must be email, phone_number or preferred_username"))?;
    let format = match args.format.as_deref() {
        None => Format::of_path(&args.file),
        Some("ndjson") => Format::Ndjson,
        Some("csv") => Format::Csv,
        Some(other) => anyhow::bail!("--format must be ndjson or csv, not `{other}`"),
    };
    let open = || -> anyhow::Result<std::io::BufReader<std::fs::File>> {
        let f =
            std::fs::File::open(&args.file).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file.display()))?;
        Ok(std::io::BufReader::with_capacity(1 << 20, f))
    };
    // Counting the records first gives the bar its length (a fast pass over the file).
    let mut total = open()?.lines().map_while(Result::ok).filter(|l| !l.trim().is_empty()).count() as u64;
    if format == Format::Csv {
        total = total.saturating_sub(1);
    }
    let imports = services.imports();
    let job = match args.resume {
        Some(id) => imports
            .get(id)
            .await
            .map_err(|e| anyhow::anyhow!(e.describe()))?
            .ok_or_else(|| anyhow::anyhow!("no import {id}"))?,
        None => {
            let audit = Audit::admin_mutation(
                Actor { subject: Some("admin-cli".into()), triggered_by: TriggeredBy::AdminApi, ..Default::default() },
                "import_users",
            );
            let options = ImportOptions {
                upsert: args.upsert,
                identifier,
                dry_run: args.dry_run,
                source: args.file.display().to_string(),
            };
            imports.create(&audit, options).await.map_err(|e| anyhow::anyhow!(e.describe()))?
        }
    };
    eprintln!("import {} of {} records from {}", job.id, total, args.file.display());
    let records = source::read(open()?, format);
    let progress = tokio::spawn(report(services.clone(), job.id, total));
    let done = imports.run(job.id, records).await;
    progress.abort();
    let done = done.map_err(|e| anyhow::anyhow!(e.describe()))?;
    eprintln!(
        "{}: {} records, {} inserted, {} updated, {} skipped, {} failed{}",
        done.status,
        done.total,
        done.inserted,
        done.updated,
        done.skipped,
        done.failed,
        done.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
    );
    if done.failed > 0 {
        // The first 20 failed records, read a page at a time (a job can hold millions).
        let (mut shown, mut offset) = (0, 0);
        while shown < 20 {
            let page = imports.details(job.id, offset, 1000).await.map_err(|e| anyhow::anyhow!(e.describe()))?;
            for d in page.iter().filter(|d| d.outcome == "failed").take(20 - shown) {
                let why = d.errors.as_ref().and_then(|e| e.get(0)?.get("message")?.as_str().map(str::to_owned));
                eprintln!("  record {}: {}", d.index, why.unwrap_or_default());
                shown += 1;
            }
            if page.len() < 1000 {
                break;
            }
            offset += 1000;
        }
    }
    if done.status != "completed" {
        anyhow::bail!("the import ended {}", done.status);
    }
    Ok(())
}

/// Shows progress until aborted.
async fn report(services: Services, id: uuid::Uuid, total: u64) {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records  {per_sec}  eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut reported = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(if tty { 200 } else { 1000 })).await;
        let Ok(Some(job)) = services.imports().get(id).await else { continue };
        let n = job.processed as u64;
        match &bar {
            Some(bar) => bar.set_position(n),
            None => {
                while reported + 10_000 <= n {
                    reported += 10_000;
                    eprintln!("{reported} records processed");
                }
            }
        }
    }
}
