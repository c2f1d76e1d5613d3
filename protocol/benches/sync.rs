//! Catch-up sync cost: bytes and messages to reconcile two sets of 100,000 latest versions with
//! 0, 100 and 10,000 differences, beside the size of the differing records themselves (which
//! have to cross anyway). Differences are scattered over the whole set, the hard case for
//! range-based reconciliation; in practice they cluster among recent records.
//!
//! Run: `cargo bench -p convene-protocol --bench sync`. Prints a Markdown table.

use std::time::Instant;

use convene_protocol::sync::{SyncItem, reconcile_locally};
use convene_protocol::{Content, Experiment, Identity, Record, Slug, Status};

const RECORDS: usize = 100_000;

fn main() {
    eprintln!("signing {RECORDS} records…");
    let identities: Vec<Identity> = (0..50u8).map(|n| Identity::from_secret([n; 32])).collect();
    let base = 1_700_000_000i64;
    let records: Vec<Record> = (0..RECORDS)
        .map(|n| {
            let content = Content::Experiment(Experiment {
                title: format!("Experiment number {n} on shared services"),
                summary: "A pilot of a shared service between neighbouring councils, with residents involved in its design from the start.".into(),
                description: Some("What we tried, for whom, what it cost and what happened. ".repeat(8)),
                status: Status::Running,
                tags: vec!["shared services".into(), "co-design".into()],
                ..Experiment::default()
            });
            let slug = Slug::new(&format!("r{n}")).unwrap();
            // Spread over about three years, one record every ~15 minutes.
            Record::sign(&identities[n % identities.len()], slug, 1, base + n as i64 * 900, content).unwrap()
        })
        .collect();
    let items: Vec<SyncItem> = records
        .iter()
        .map(|r| SyncItem {
            created_at: r.header().created_at as u64,
            id: r.id(),
        })
        .collect();

    println!(
        "| differences | messages | bytes exchanged | differing records' bytes | ids found | time |"
    );
    println!("|---|---|---|---|---|---|");
    for differences in [0usize, 100, 10_000] {
        // Every (RECORDS / differences)-th record is missing on one side, alternating sides.
        let step = RECORDS.checked_div(differences).unwrap_or(usize::MAX);
        let (mut a, mut b, mut differing_bytes) = (Vec::new(), Vec::new(), 0usize);
        for (n, item) in items.iter().enumerate() {
            let differs = differences > 0 && n % step == 0;
            if differs {
                differing_bytes += records[n].bytes().len();
            }
            if !differs || (n / step) % 2 == 0 {
                a.push(*item);
            }
            if !differs || (n / step) % 2 == 1 {
                b.push(*item);
            }
        }
        let start = Instant::now();
        let result = reconcile_locally(a, b).unwrap();
        let elapsed = start.elapsed();
        let found = result.have.len() + result.need.len();
        assert_eq!(
            found, differences,
            "reconciliation must find every difference"
        );
        println!(
            "| {differences} | {} | {:.1} KiB | {:.1} KiB | {found} | {:.0} ms |",
            result.messages,
            result.bytes as f64 / 1024.0,
            differing_bytes as f64 / 1024.0,
            elapsed.as_secs_f64() * 1000.0
        );
    }
    println!();
    println!(
        "{RECORDS} records on each side; messages counted in both directions; frame limit 60,000 bytes."
    );
}
