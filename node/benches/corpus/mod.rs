//! The benchmarks' corpus: seeded, realistic records (experiments, practitioners and lessons
//! from 100 organisations, their text drawn from a Zipf-distributed vocabulary), the same on
//! every run.

#![allow(dead_code)]

use convene_protocol::{Content, Experiment, Identity, Lesson, Practitioner, Record, Slug, Status};

pub const WORDS: &[&str] = &[
    "allotment",
    "benefits",
    "bins",
    "budget",
    "carers",
    "chatbot",
    "children",
    "climate",
    "community",
    "council",
    "court",
    "dashboard",
    "data",
    "dementia",
    "device",
    "digital",
    "elderly",
    "energy",
    "engagement",
    "flooding",
    "food",
    "forum",
    "funding",
    "grants",
    "health",
    "homeless",
    "housing",
    "inclusion",
    "libraries",
    "licensing",
    "loneliness",
    "mapping",
    "meetings",
    "mental",
    "neighbourhood",
    "online",
    "open",
    "parking",
    "parks",
    "patrol",
    "permits",
    "planning",
    "police",
    "portal",
    "potholes",
    "procurement",
    "recycling",
    "repairs",
    "residents",
    "safeguarding",
    "schools",
    "service",
    "skills",
    "social",
    "sport",
    "street",
    "students",
    "tenants",
    "training",
    "transport",
    "trees",
    "volunteers",
    "waste",
    "wellbeing",
    "youth",
    "pilot",
    "app",
    "text",
    "alerts",
    "hub",
    "café",
    "walking",
    "cycling",
    "bus",
    "rural",
    "town",
    "hall",
    "survey",
    "feedback",
    "design",
    "research",
    "accessible",
];
pub const TAGS: &[&str] = &[
    "digital inclusion",
    "online engagement",
    "chatbots",
    "service design",
    "open data",
    "climate",
    "housing",
    "social care",
    "policing",
    "libraries",
    "transport",
    "volunteers",
    "procurement",
    "public health",
    "youth services",
    "waste",
    "planning",
    "democracy",
];
pub const REGIONS: &[&str] = &[
    "Yorkshire",
    "North West",
    "London",
    "Wales",
    "Scotland",
    "South East",
];
pub const SECTORS: &[&str] = &[
    "local government",
    "policing",
    "health",
    "charity",
    "housing",
];

/// Words of the generated text: the domain words above, most frequent first, then made-up words
/// from syllables, 4,000 in all, drawn with Zipf's law (the r-th word has weight 1/r) as in
/// natural text.
pub struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    pub fn new() -> Vocabulary {
        const SYLLABLES: &[&str] = &[
            "ba", "ren", "to", "mi", "lek", "sa", "dor", "ve", "qui", "lo", "nar", "pe", "fi",
            "gan", "hu", "tre", "zo", "wel", "cas", "by",
        ];
        let mut words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
        let mut n = 0usize;
        while words.len() < 4_000 {
            let word: String = [n % 20, (n / 20) % 20, (n / 400) % 20]
                .iter()
                .take(2 + n % 2)
                .map(|&i| SYLLABLES[i])
                .collect();
            if !words.contains(&word) {
                words.push(word);
            }
            n += 1;
        }
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    pub fn word(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative[self.cumulative.len() - 1];
        let target = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let at = self.cumulative.partition_point(|&c| c < target);
        &self.words[at.min(self.words.len() - 1)]
    }

    pub fn text(&self, rng: &mut Rng, min: usize, max: usize) -> String {
        let n = min + (rng.next() % (max - min + 1) as u64) as usize;
        (0..n).map(|_| self.word(rng)).collect::<Vec<_>>().join(" ")
    }
}

/// A small deterministic generator, so every run indexes the same corpus.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    pub fn tags(&mut self) -> Vec<String> {
        let mut tags: Vec<String> = (0..2 + self.next() % 3)
            .map(|_| self.pick(TAGS).to_string())
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }
}

pub fn generate(count: usize, vocabulary: &Vocabulary) -> Vec<Record> {
    let identities: Vec<Identity> = (0..100u8).map(|n| Identity::from_secret([n; 32])).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let now = convene_node::now() - 3_600;
    let words = |rng: &mut Rng, min, max| vocabulary.text(rng, min, max);
    (0..count)
        .map(|n| {
            let identity = &identities[n % identities.len()];
            let content = match n % 10 {
                0..=5 => Content::Experiment(Experiment {
                    title: words(&mut rng, 3, 6),
                    summary: words(&mut rng, 15, 25),
                    description: Some(words(&mut rng, 40, 120)),
                    status: Status::ALL[n % Status::ALL.len()],
                    tags: rng.tags(),
                    sector: Some(rng.pick(SECTORS).into()),
                    region: Some(rng.pick(REGIONS).into()),
                    organisation: Some(format!("Organisation {}", n % 100)),
                    ..Experiment::default()
                }),
                6..=7 => Content::Practitioner(Practitioner {
                    name: format!("Person {n}"),
                    role: Some(words(&mut rng, 2, 3)),
                    bio: Some(words(&mut rng, 20, 40)),
                    expertise: rng.tags(),
                    region: Some(rng.pick(REGIONS).into()),
                    ..Practitioner::default()
                }),
                _ => Content::Lesson(Lesson {
                    title: words(&mut rng, 4, 8),
                    summary: words(&mut rng, 15, 25),
                    body: Some(words(&mut rng, 40, 100)),
                    tags: rng.tags(),
                    ..Lesson::default()
                }),
            };
            let slug = Slug::new(&format!("r{n}")).unwrap();
            Record::sign(identity, slug, 1, now, content).unwrap()
        })
        .collect()
}
