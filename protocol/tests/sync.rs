//! Catch-up sync on random sets: after reconciling and exchanging what each side lacks, two
//! nodes hold the same latest versions — the union of their sets minus what newer versions and
//! retractions supersede.

use std::collections::BTreeMap;

use convene_protocol::sync::{SyncItem, reconcile_locally};
use convene_protocol::{Address, Content, Experiment, Kind, Record, RecordId, Slug};
use proptest::prelude::*;

use crate::{NOW, identity};

/// A node's latest versions: what the store keeps.
type Latest = BTreeMap<Address, Record>;

fn apply(latest: &mut Latest, record: &Record) {
    let address = record.address();
    if latest
        .get(&address)
        .is_none_or(|stored| record.version() > stored.version())
    {
        latest.insert(address, record.clone());
    }
}

fn items(latest: &Latest) -> Vec<SyncItem> {
    latest
        .values()
        .map(|r| SyncItem {
            created_at: r.header().created_at as u64,
            id: r.id(),
        })
        .collect()
}

fn by_id(latest: &Latest, id: RecordId) -> Record {
    latest
        .values()
        .find(|r| r.id() == id)
        .cloned()
        .expect("an id from the set")
}

/// (author, slug, seq, retraction?, title word)
type Spec = (u8, u8, u64, bool, u8);

fn record((author, slug, seq, retraction, word): Spec) -> Record {
    let slug = Slug::new(&format!("s{slug}")).unwrap();
    if retraction {
        let address = Address {
            author: identity(author).author(),
            kind: Kind::Experiment,
            slug,
        };
        return Record::sign_retraction(&identity(author), &address, seq, NOW).unwrap();
    }
    let content = Content::Experiment(Experiment {
        title: format!("title {word}"),
        summary: "summary".into(),
        ..Experiment::default()
    });
    Record::sign(&identity(author), slug, seq, NOW - i64::from(word), content).unwrap()
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        1u8..4,
        0u8..6,
        1u64..5,
        proptest::bool::weighted(0.2),
        0u8..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn two_random_sets_converge_to_their_union_minus_what_is_superseded(
        shared in proptest::collection::vec(spec(), 0..20),
        only_a in proptest::collection::vec(spec(), 0..20),
        only_b in proptest::collection::vec(spec(), 0..20),
    ) {
        let (mut a, mut b, mut everything) = (Latest::new(), Latest::new(), Latest::new());
        for s in &shared {
            let r = record(*s);
            apply(&mut a, &r);
            apply(&mut b, &r);
            apply(&mut everything, &r);
        }
        for s in &only_a {
            let r = record(*s);
            apply(&mut a, &r);
            apply(&mut everything, &r);
        }
        for s in &only_b {
            let r = record(*s);
            apply(&mut b, &r);
            apply(&mut everything, &r);
        }
        let ids = |latest: &Latest| latest.values().map(Record::id).collect::<std::collections::BTreeSet<_>>();
        let (ids_a, ids_b) = (ids(&a), ids(&b));
        let result = reconcile_locally(items(&a), items(&b)).unwrap();
        // Exactly the differences cross, nothing else.
        prop_assert_eq!(result.have.clone(), ids_a.difference(&ids_b).copied().collect::<Vec<_>>());
        prop_assert_eq!(result.need.clone(), ids_b.difference(&ids_a).copied().collect::<Vec<_>>());
        let send: Vec<Record> = result.have.iter().map(|id| by_id(&a, *id)).collect();
        let fetch: Vec<Record> = result.need.iter().map(|id| by_id(&b, *id)).collect();
        for r in &send {
            apply(&mut b, r);
        }
        for r in &fetch {
            apply(&mut a, r);
        }
        prop_assert_eq!(&a, &everything);
        prop_assert_eq!(&b, &everything);
    }
}

#[test]
fn equal_sets_agree_in_one_round_trip() {
    let mut latest = Latest::new();
    for n in 0..200u8 {
        apply(
            &mut latest,
            &record((1, n % 50, 1 + u64::from(n / 50), false, n % 4)),
        );
    }
    let result = reconcile_locally(items(&latest), items(&latest)).unwrap();
    assert_eq!((result.have.len(), result.need.len()), (0, 0));
    assert_eq!(result.messages, 2, "one message each way");
}
