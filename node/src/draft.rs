//! Record drafts: what a person writes (TOML or JSON) before it is signed.
//!
//! A draft is a record's content with a `kind` field and an optional `slug`. Unknown fields are
//! errors that name the field, so a typo never silently drops information.

use convene_protocol::{Address, AuthorKey, Content, Kind, RecordError, Slug};

/// Errors in a draft.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("{source_name}: not valid TOML: {reason}")]
    Toml { source_name: String, reason: String },
    #[error("{source_name}: not valid JSON: {reason}")]
    Json { source_name: String, reason: String },
    #[error("{source_name}: {reason}")]
    Fields { source_name: String, reason: String },
    #[error("{source_name}: {source}")]
    Invalid {
        source_name: String,
        source: RecordError,
    },
}

/// A TOML error as "line L, column C: message", without echoing the line (which may be huge).
fn toml_reason(text: &str, error: &toml::de::Error) -> String {
    let message = crate::limits::quote(error.message().trim());
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// The text format of a draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DraftFormat {
    Toml,
    Json,
}

impl DraftFormat {
    /// From a file name's extension; `None` when it says nothing (stdin, no extension).
    pub fn from_path(path: &std::path::Path) -> Option<DraftFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(DraftFormat::Toml),
            "json" => Some(DraftFormat::Json),
            _ => None,
        }
    }

    /// A guess from the text itself: JSON objects start with `{`.
    pub fn sniff(text: &str) -> DraftFormat {
        if text.trim_start().starts_with('{') {
            DraftFormat::Json
        } else {
            DraftFormat::Toml
        }
    }
}

/// A validated, normalised draft.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Draft {
    /// The slug the author chose; `None` means one is derived from the title or name.
    pub slug: Option<Slug>,
    pub content: Content,
}

impl Draft {
    /// Parses and validates a draft. `source_name` (a file name, or "stdin") prefixes errors.
    /// `author` is the local identity: a reference written as a bare slug (`contacts =
    /// ["priya-shah"]`) means that author's record of the kind the field refers to.
    pub fn parse(
        text: &str,
        format: DraftFormat,
        source_name: &str,
        author: &AuthorKey,
    ) -> Result<Draft, DraftError> {
        let value = match format {
            DraftFormat::Json => {
                serde_json::from_str::<serde_json::Value>(text).map_err(|e| DraftError::Json {
                    source_name: source_name.to_string(),
                    reason: e.to_string(),
                })?
            }
            DraftFormat::Toml => {
                let table = toml::from_str::<toml::Table>(text).map_err(|e| DraftError::Toml {
                    source_name: source_name.to_string(),
                    reason: toml_reason(text, &e),
                })?;
                toml_to_json(toml::Value::Table(table))
            }
        };
        Draft::from_json(value, source_name, author)
    }

    /// Builds a draft from a JSON object (as made by a CSV import, say).
    pub fn from_json(
        mut value: serde_json::Value,
        source_name: &str,
        author: &AuthorKey,
    ) -> Result<Draft, DraftError> {
        let fields = |reason: String| DraftError::Fields {
            source_name: source_name.to_string(),
            reason,
        };
        let object = value
            .as_object_mut()
            .ok_or_else(|| fields("a draft must be a table of fields".into()))?;
        let slug = match object.remove("slug") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(slug)) => Some(Slug::new(slug.trim()).map_err(
                |source| DraftError::Invalid {
                    source_name: source_name.to_string(),
                    source,
                },
            )?),
            Some(_) => return Err(fields("`slug` must be text".into())),
        };
        expand_local_references(object, author);
        if !object.contains_key("kind") {
            return Err(fields(
                "missing field `kind` (experiment, practitioner, lesson, organisation or vouch)"
                    .into(),
            ));
        }
        // Every problem a reader can name at once, each with its field (regression: issue 11,
        // friction 5 — three mistakes took three rounds).
        let mut problems = check_fields(object);
        let faulted: Vec<String> = problems.iter().map(|(field, _)| field.clone()).collect();
        for field in &faulted {
            object.remove(field);
        }
        let (content, unread) = read_content(value);
        problems.extend(unread);
        let Some(mut content) = content else {
            return Err(fields(list_problems(&problems)));
        };
        content.normalize();
        // Checked as it will be signed: a contact not for everyone goes in a contact card,
        // not in the practitioner record (see `publish::split_contact`).
        let mut signed = content.clone();
        if let Content::Practitioner(person) = &mut signed
            && person.contact_visibility.unwrap_or_default()
                == convene_protocol::ContactVisibility::Networks
        {
            person.contact = None;
        }
        let mut invalid = signed.problems();
        if problems.is_empty() && invalid.len() <= 1 {
            return match invalid.pop() {
                None => Ok(Draft { slug, content }),
                Some(source) => Err(DraftError::Invalid {
                    source_name: source_name.to_string(),
                    source,
                }),
            };
        }
        problems.extend(
            invalid
                .into_iter()
                .map(|problem| (String::new(), problem.to_string())),
        );
        Err(fields(list_problems(&problems)))
    }

    /// The slug to publish under: the chosen one, or one derived from the title or name.
    /// Where `author` publishes this draft.
    pub fn address(&self, author: &AuthorKey) -> Address {
        Address {
            author: *author,
            kind: self.content.kind(),
            slug: self.slug(),
        }
    }

    pub fn slug(&self) -> Slug {
        self.slug
            .clone()
            .unwrap_or_else(|| convene_protocol::slugify(self.content.title()))
    }

    /// Fills in the node's organisation where the draft names none.
    pub fn fill_organisation(&mut self, organisation: Option<&str>) {
        let Some(name) = organisation else { return };
        let field = match &mut self.content {
            Content::Experiment(e) => &mut e.organisation,
            Content::Practitioner(p) => &mut p.organisation,
            // Only experiments and practitioners carry an organisation hint.
            _ => return,
        };
        if field.is_none() {
            *field = Some(name.to_string());
        }
    }
}

/// The fields a draft of each kind may have (besides `kind` and `slug`), and which are lists.
const DRAFT_FIELDS: &[(&str, &[&str])] = &[
    (
        "experiment",
        &[
            "title",
            "summary",
            "description",
            "status",
            "started",
            "ended",
            "organisation",
            "contacts",
            "tags",
            "sector",
            "region",
            "context",
            "outcomes",
            "links",
            "adopted_from",
            "review_by",
            "networks",
        ],
    ),
    (
        "practitioner",
        &[
            "name",
            "role",
            "organisation",
            "bio",
            "expertise",
            "interests",
            "open_to",
            "contact",
            "region",
            "networks",
            "contact_visibility",
        ],
    ),
    (
        "lesson",
        &[
            "title",
            "summary",
            "body",
            "about",
            "worked",
            "didnt_work",
            "recommendation",
            "tags",
            "links",
            "contacts",
            "networks",
        ],
    ),
    (
        "organisation",
        &[
            "name",
            "type",
            "org_kind",
            "region",
            "website",
            "description",
            "domain",
        ],
    ),
    ("vouch", &["subject", "name", "expires", "note"]),
];
const LIST_FIELDS: &[&str] = &[
    "contacts",
    "tags",
    "links",
    "expertise",
    "interests",
    "open_to",
    "networks",
];

/// Checks a draft's fields before it is read: unknown fields (with the nearest known one),
/// enumerations (with their values; any case is accepted and lower-cased here), and lists
/// written as text. One line per problem, each naming its field.
fn check_fields(object: &mut serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let kind = object
        .get("kind")
        .and_then(|kind| kind.as_str())
        .map(|kind| kind.trim().to_ascii_lowercase());
    let known = kind.as_deref().and_then(|kind| {
        let kind = if kind == "organization" {
            "organisation"
        } else {
            kind
        };
        DRAFT_FIELDS
            .iter()
            .find(|(name, _)| *name == kind)
            .map(|(_, fields)| *fields)
    });
    let Some(known) = known else {
        // Another kind (or none): the reader says what is wrong.
        return problems;
    };
    for field in object.keys() {
        if field == "kind" || known.contains(&field.as_str()) {
            continue;
        }
        let hint = nearest(field, known)
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        problems.push((
            field.clone(),
            format!(
                "unknown field `{field}`{hint}; a {} has {}",
                kind.as_deref().unwrap_or_default(),
                known
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let enums: [(&str, Vec<&str>); 2] = [
        (
            "status",
            convene_protocol::Status::ALL
                .iter()
                .map(|status| status.as_str())
                .collect(),
        ),
        ("contact_visibility", vec!["everyone", "networks", "nobody"]),
    ];
    for (field, values) in enums {
        if let Some(serde_json::Value::String(value)) = object.get_mut(field) {
            let lower = value.trim().to_ascii_lowercase();
            if values.contains(&lower.as_str()) {
                *value = lower;
            } else {
                problems.push((
                    field.to_string(),
                    format!(
                        "field `{field}`: {value:?} is not one of {}",
                        values.join(", ")
                    ),
                ));
            }
        }
    }
    for field in LIST_FIELDS {
        if let Some(serde_json::Value::String(text)) = object.get(*field) {
            let items: Vec<String> = text
                .split(',')
                .map(|item| format!("{:?}", item.trim()))
                .filter(|item| item != "\"\"")
                .collect();
            problems.push((
                field.to_string(),
                format!(
                    "field `{field}` is a list: write {field} = [{}]",
                    items.join(", ")
                ),
            ));
        }
    }
    problems
}

/// One problem as it is, several as a counted list.
fn list_problems(problems: &[(String, String)]) -> String {
    match problems {
        [(_, one)] => one.clone(),
        many => format!(
            "{} problems:\n  - {}",
            many.len(),
            many.iter()
                .map(|(_, problem)| problem.as_str())
                .collect::<Vec<_>>()
                .join("\n  - ")
        ),
    }
}

/// Reads a draft's content, reading on past each field that cannot be read so that every
/// one is named: a field of the wrong type is reported (with its name) and left out, and a
/// missing required text is read as empty, which validation then names. The kinds a draft
/// is written in are read through their own types, which name the field at fault; any other
/// kind is read whole, with the reader's one message. Gives the content read without the
/// fields at fault, if any could be, and a problem for each of those fields.
fn read_content(mut value: serde_json::Value) -> (Option<Content>, Vec<(String, String)>) {
    use serde::de::DeserializeOwned;
    fn read<T: DeserializeOwned>(
        fields: &serde_json::Value,
    ) -> Result<T, (Option<String>, String)> {
        serde_path_to_error::deserialize::<_, T>(fields).map_err(|error| {
            let field = match error.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                _ => None,
            };
            (field, error.into_inner().to_string())
        })
    }
    let kind = value
        .get("kind")
        .and_then(|kind| kind.as_str())
        .map(str::to_string)
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut filled = Vec::new();
    if let Some(object) = value.as_object_mut() {
        object.remove("kind");
    }
    // Each round leaves out or fills in one field, so there are at most as many rounds as
    // fields, plus the required ones.
    let rounds = value.as_object().map_or(0, |object| object.len()) + 8;
    for _ in 0..rounds {
        let read = match kind.as_str() {
            "experiment" => read(&value).map(Content::Experiment),
            "practitioner" => read(&value).map(Content::Practitioner),
            "lesson" => read(&value).map(Content::Lesson),
            "organisation" | "organization" => read(&value).map(Content::Organisation),
            "vouch" => read(&value).map(Content::Vouch),
            _ => {
                if let Some(object) = value.as_object_mut() {
                    object.insert("kind".into(), kind.clone().into());
                }
                return match serde_json::from_value(value) {
                    Ok(content) => (Some(content), problems),
                    Err(error) => (None, vec![(String::new(), error.to_string())]),
                };
            }
        };
        let (field, message) = match read {
            Ok(content) => return (Some(content), problems),
            Err(error) => error,
        };
        let object = value.as_object_mut().expect("a draft is an object");
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
            .filter(|missing| !object.contains_key(*missing))
            .map(str::to_string);
        match (field, missing) {
            (Some(field), _) if object.contains_key(&field) => {
                object.remove(&field);
                let problem = if filled.contains(&field) {
                    // Not text after all: it is simply missing.
                    format!("missing field `{field}`")
                } else {
                    format!("field `{field}`: {message}")
                };
                problems.push((field, problem));
            }
            (_, Some(missing)) => {
                object.insert(missing.clone(), String::new().into());
                filled.push(missing);
            }
            _ => {
                problems.push((String::new(), message));
                return (None, problems);
            }
        }
    }
    (None, problems)
}

/// The known field nearest to `field` (at most two edits away), for "did you mean".
fn nearest<'a>(field: &str, known: &[&'a str]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let substitution = previous + usize::from(ca != cb);
                previous = row[j + 1];
                row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
            }
        }
        row[b.len()]
    };
    let lower = field.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| (distance(&lower, candidate), *candidate))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Fields that hold addresses, and the kind of record each refers to.
const REFERENCE_FIELDS: &[(&str, Kind)] = &[
    ("contacts", Kind::Practitioner),
    ("about", Kind::Experiment),
    ("adopted_from", Kind::Experiment),
];

/// Turns bare slugs in reference fields into full addresses of `author`'s records; a contact
/// written as a person's name ("Sam Patel") becomes the address its slug would have
/// (`sam-patel`), which publishing then resolves among the practitioners held.
fn expand_local_references(
    object: &mut serde_json::Map<String, serde_json::Value>,
    author: &AuthorKey,
) {
    let expand = |value: &mut serde_json::Value, kind: Kind| {
        if let serde_json::Value::String(text) = value
            && !text.starts_with(Address::SCHEME)
            && let Some(slug) = Slug::new(text.trim()).ok().or_else(|| {
                (kind == Kind::Practitioner && text.chars().any(char::is_alphanumeric))
                    .then(|| convene_protocol::slugify(text))
            })
        {
            *text = Address {
                author: *author,
                kind,
                slug,
            }
            .to_string();
        }
    };
    for (field, kind) in REFERENCE_FIELDS {
        match object.get_mut(*field) {
            Some(serde_json::Value::Array(items)) => {
                items.iter_mut().for_each(|item| expand(item, *kind))
            }
            Some(value) => expand(value, *kind),
            None => {}
        }
    }
}

/// TOML dates (`started = 2024-03-01`) become `YYYY-MM-DD` strings; everything else maps
/// one to one.
fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => J::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHOR: AuthorKey = AuthorKey([7; 32]);

    #[test]
    fn bare_slugs_in_references_mean_the_local_author() {
        let draft = Draft::parse(
            "kind = \"lesson\"\ntitle = \"t\"\nsummary = \"s\"\nabout = \"town-hall\"\ncontacts = [\"priya\"]\n",
            DraftFormat::Toml,
            "l.toml",
            &AUTHOR,
        )
        .unwrap();
        let Content::Lesson(lesson) = &draft.content else {
            panic!("expected a lesson");
        };
        assert_eq!(lesson.about.as_ref().unwrap().kind, Kind::Experiment);
        assert_eq!(lesson.contacts[0].author, AUTHOR);
        assert_eq!(lesson.contacts[0].slug.as_str(), "priya");
    }

    #[test]
    fn toml_dates_and_numbers_are_accepted() {
        let draft = Draft::parse(
            r#"
kind = "experiment"
title = "Virtual town hall"
summary = "Monthly online public meeting"
status = "running"
started = 2024-03-01
tags = ["Digital Inclusion", "engagement"]
[context]
population = 120000
"#,
            DraftFormat::Toml,
            "t.toml",
            &AUTHOR,
        )
        .unwrap();
        let Content::Experiment(e) = &draft.content else {
            panic!("expected an experiment");
        };
        assert_eq!(e.started.unwrap().to_string(), "2024-03-01");
        // The author's spelling is kept (regression: issue 11, friction 11).
        assert_eq!(e.tags, ["Digital Inclusion", "engagement"]);
        assert_eq!(e.context["population"], "120000");
        assert_eq!(draft.slug().as_str(), "virtual-town-hall");
    }

    #[test]
    fn a_misspelt_field_is_named() {
        let error = Draft::parse(
            "kind = \"lesson\"\ntitle = \"t\"\nsumary = \"s\"\n",
            DraftFormat::Toml,
            "l.toml",
            &AUTHOR,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `sumary`"),
            "{error}"
        );
    }

    #[test]
    fn problems_the_reader_and_the_limits_find_are_named_with_the_others() {
        // Regression (issue 11, friction 5): a row with a wrongly typed date, a status
        // nobody uses, no title and an over-long summary reported only its first problem.
        let error = Draft::from_json(
            serde_json::json!({
                "kind": "experiment",
                "status": "live",
                "started": "last spring",
                "summary": "s".repeat(convene_protocol::limits::SUMMARY + 1),
                "tags": ["ok"],
            }),
            "row",
            &AUTHOR,
        )
        .unwrap_err()
        .to_string();
        for part in [
            "4 problems",
            "field `status`: \"live\" is not one of",
            "field `started`:",
            "missing required field `title`",
            "field `summary` is 1001 characters long, over the limit of 1000",
        ] {
            assert!(error.contains(part), "{part:?} missing from:\n{error}");
        }
        // A missing field that is not text is named as missing, not as mistyped.
        let error = Draft::from_json(
            serde_json::json!({"kind": "vouch", "name": "Sam"}),
            "v",
            &AUTHOR,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("missing field `subject`"), "{error}");
        // One problem alone keeps its typed error.
        assert!(matches!(
            Draft::from_json(
                serde_json::json!({"kind": "lesson", "title": "t", "summary": ""}),
                "l",
                &AUTHOR,
            ),
            Err(DraftError::Invalid {
                source: convene_protocol::RecordError::Missing("summary"),
                ..
            })
        ));
    }

    #[test]
    fn every_problem_is_named_at_once_with_its_field() {
        // Regression (issue 11, friction 5): three mistakes took three rounds, and the errors
        // did not name the field ("unknown variant `live`", "expected a sequence").
        let error = Draft::parse(
            "kind = \"experiment\"\ntitle = \"t\"\nsumary = \"s\"\nstatus = \"live\"\ntags = \"one, two\"\n",
            DraftFormat::Toml,
            "e.toml",
            &AUTHOR,
        )
        .unwrap_err()
        .to_string();
        for part in [
            "4 problems",
            "unknown field `sumary` (did you mean `summary`?)",
            // The misspelt field leaves the summary missing: said in the same round.
            "missing required field `summary`",
            "field `status`: \"live\" is not one of idea, planned, running, paused, completed, stopped",
            "field `tags` is a list: write tags = [\"one\", \"two\"]",
        ] {
            assert!(error.contains(part), "{part:?} missing from:\n{error}");
        }
        // An enumeration in any case is read.
        let draft = Draft::parse(
            "kind = \"experiment\"\ntitle = \"t\"\nsummary = \"s\"\nstatus = \"Running\"\n",
            DraftFormat::Toml,
            "e.toml",
            &AUTHOR,
        )
        .unwrap();
        let Content::Experiment(e) = draft.content else {
            panic!("an experiment")
        };
        assert_eq!(e.status, convene_protocol::Status::Running);
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let error = Draft::parse(
            r#"{"kind":"experiment","title":"t"}"#,
            DraftFormat::Json,
            "e.json",
            &AUTHOR,
        )
        .unwrap_err();
        assert!(error.to_string().contains("summary"), "{error}");
    }
}
