//! Catch-up sync cost: bytes and messages to reconcile two sets of latest versions (100,000,
//! or `CONVENE_BENCH_RECORDS`) with 0, 10, 1,000 and 10,000 differences, beside the size of the
//! differing records themselves (which have to cross anyway). Differences are either scattered
//! over the whole set, the hard case for range-based reconciliation, or recent (the newest
//! records), as after a node was offline for a while.
//!
//! Run: `cargo bench -p convene-protocol --bench sync`. Prints Markdown tables.

use std::time::Instant;

use convene_protocol::sync::{SyncItem, reconcile_locally};
use convene_protocol::{Content, Experiment, Identity, Record, Slug, Status};

/// Records on each side unless `CONVENE_BENCH_RECORDS` says otherwise (at most 5,000,000).
const DEFAULT_RECORDS: usize = 100_000;
const DIFFERENCES: [usize; 4] = [0, 10, 1_000, 10_000];

/// Where the differences lie.
#[derive(Clone, Copy)]
enum Spread {
    /// Evenly over the whole set.
    Scattered,
    /// Among the newest records.
    Recent,
}

impl Spread {
    fn name(self) -> &'static str {
        match self {
            Spread::Scattered => "scattered",
            Spread::Recent => "recent",
        }
    }

    /// Whether record `n` of `total` (oldest first) is one of the `differences`, and if so
    /// which one (0, 1, 2, …): the sides alternate by it.
    fn differs(self, n: usize, total: usize, differences: usize) -> Option<usize> {
        if differences == 0 {
            return None;
        }
        match self {
            Spread::Scattered => {
                let step = total / differences;
                (n.is_multiple_of(step) && n / step < differences).then_some(n / step)
            }
            Spread::Recent => n.checked_sub(total - differences),
        }
    }
}

fn main() {
    let total: usize = std::env::var("CONVENE_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_RECORDS)
        .clamp(DIFFERENCES[DIFFERENCES.len() - 1], 5_000_000);
    eprintln!("signing {total} records…");
    let identities: Vec<Identity> = (0..50u8).map(|n| Identity::from_secret([n; 32])).collect();
    let base = 1_700_000_000i64;
    let records: Vec<Record> = (0..total)
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
    for (spread, differences) in cases() {
        // Each differing record is missing on one side, alternating sides.
        let (mut a, mut b, mut differing_bytes) = (Vec::new(), Vec::new(), 0usize);
        for (n, item) in items.iter().enumerate() {
            let differs = spread.differs(n, total, differences);
            if differs.is_some() {
                differing_bytes += records[n].bytes().len();
            }
            if differs.is_none_or(|k| k % 2 == 0) {
                a.push(*item);
            }
            if differs.is_none_or(|k| k % 2 == 1) {
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
            "| {differences} {} | {} | {:.1} KiB | {:.1} KiB | {found} | {:.0} ms |",
            spread.name(),
            result.messages,
            result.bytes as f64 / 1024.0,
            differing_bytes as f64 / 1024.0,
            elapsed.as_secs_f64() * 1000.0
        );
    }
    println!();
    println!(
        "{total} records on each side; messages counted in both directions; frame limit 60,000 bytes."
    );

    println!();
    catch_up(&records, &items);
}

/// Every spread with every number of differences (0 only once).
fn cases() -> Vec<(Spread, usize)> {
    let mut cases = vec![(Spread::Scattered, 0)];
    for spread in [Spread::Scattered, Spread::Recent] {
        cases.extend(DIFFERENCES.iter().skip(1).map(|&d| (spread, d)));
    }
    cases
}

/// The whole sync protocol for one node that lacks `differences` of the other's records (the
/// node that was offline): reconciliation rounds, then fetches, counted as the frames
/// `convene_protocol::wire` encodes (length prefix included; noise and yamux framing not).
fn catch_up(records: &[Record], items: &[SyncItem]) {
    use convene_protocol::RecordId;
    use convene_protocol::wire::{MAX_FETCH_IDS, RECORDS_BUDGET, Request, Response};

    println!(
        "| missing on one side | round trips (reconcile + fetch) | reconcile bytes | fetch bytes | all bytes on the wire | the missing records' bytes | overhead |"
    );
    println!("|---|---|---|---|---|---|---|");
    let by_id: std::collections::HashMap<RecordId, &Record> =
        records.iter().map(|r| (r.id(), r)).collect();
    let total = records.len();
    for (spread, differences) in cases() {
        let mut behind = Vec::new();
        let mut missing_bytes = 0;
        for (n, item) in items.iter().enumerate() {
            if spread.differs(n, total, differences).is_some() {
                missing_bytes += records[n].bytes().len();
            } else {
                behind.push(*item);
            }
        }
        let reconciled = reconcile_locally(behind, items.iter().copied()).unwrap();
        assert_eq!(reconciled.need.len(), differences);
        let rounds = reconciled.messages / 2;
        // Each round: a Reconcile request (4 + 1 + 8 bytes around the message) and response (4 + 1).
        let reconcile_bytes = reconciled.bytes + rounds * (13 + 5);
        let (mut fetch_bytes, mut fetches) = (0usize, 0usize);
        let mut rest: &[RecordId] = &reconciled.need;
        while !rest.is_empty() {
            let ask = &rest[..rest.len().min(MAX_FETCH_IDS)];
            let request = Request::Fetch { ids: ask.to_vec() }.encode();
            let (mut served, mut size, mut out) = (0, 0, Vec::new());
            for id in ask {
                if served > 0 && size >= RECORDS_BUDGET {
                    break;
                }
                served += 1;
                let bytes = by_id[id].bytes().to_vec();
                size += bytes.len();
                out.push(bytes);
            }
            let response = Response::Records {
                served: served as u32,
                records: out,
            }
            .encode();
            fetch_bytes += 4 + request.len() + 4 + response.len();
            fetches += 1;
            rest = &rest[served..];
        }
        let all = reconcile_bytes + fetch_bytes;
        println!(
            "| {differences} {} | {} ({rounds} + {fetches}) | {:.1} KiB | {:.1} KiB | {:.1} KiB | {:.1} KiB | {} |",
            spread.name(),
            rounds + fetches,
            reconcile_bytes as f64 / 1024.0,
            fetch_bytes as f64 / 1024.0,
            all as f64 / 1024.0,
            missing_bytes as f64 / 1024.0,
            if missing_bytes == 0 {
                "-".to_string()
            } else {
                format!("{:.2}x", all as f64 / missing_bytes as f64)
            }
        );
    }
    println!();
    println!("{total} records on the up-to-date side; the other lacks the given number of them.");
}
