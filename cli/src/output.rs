//! Rendering results: a readable layout on a terminal, tab-separated lines in a pipe, and JSON
//! with `--json`. Everything here goes to stdout; messages go to stderr elsewhere.

use std::io::{self, IsTerminal, Write};

use convene_node::daemon::{BookPeer, Status, SyncReport};
use convene_node::domains::DomainCheck;
use convene_node::history::{Change, History};
use convene_node::search::Facet;
use convene_node::trust::{Basis, Block, Pin};
use convene_node::{Found, Person, Published, Snippet, Trust};
use convene_protocol::{AuthorKey, Content, Record};
use serde_json::{Value, json};

pub struct Out {
    stdout: io::Stdout,
    terminal: bool,
    color: bool,
}

impl Out {
    pub fn stdout() -> Out {
        let stdout = io::stdout();
        let terminal = stdout.is_terminal();
        Out {
            stdout,
            terminal,
            color: terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// A record's versions, newest first, each with the fields it changed.
    pub fn history(&mut self, history: &History, json: bool) -> io::Result<()> {
        if json {
            return self.json(&serde_json::to_value(history).expect("plain data"));
        }
        self.line(&format!(
            "History of {:?} · {}",
            history.title, history.address
        ))?;
        for (at, version) in history.versions.iter().enumerate() {
            let what = match (at, version.retraction) {
                (_, true) => " · retracted",
                (0, false) => " · latest",
                _ => "",
            };
            let heading = format!(
                "version {} · signed {}{what}",
                version.seq, version.signed_at
            );
            self.line(&self.bold(&heading))?;
            for change in &version.changes {
                self.line(&format!("  {}", describe_change(change)))?;
            }
            if at + 1 == history.versions.len() && !version.retraction {
                self.line("  (the oldest version held here)")?;
            }
        }
        if history.earlier_not_held {
            let oldest = history.versions.last().map_or(1, |v| v.seq);
            self.line(&format!(
                "Versions before {oldest} are not held here: they were replaced before this \
                 node received the record, or are older than the {} it keeps.",
                convene_node::HISTORY_VERSIONS
            ))?;
        }
        Ok(())
    }

    pub fn line(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.stdout.lock(), "{text}")
    }

    fn json(&mut self, value: &Value) -> io::Result<()> {
        let text = serde_json::to_string_pretty(value).expect("plain data");
        self.line(&text)
    }

    fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn dim(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[2m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn highlight(&self, snippet: &Snippet) -> String {
        if !self.color {
            return snippet.text.replace('\n', " ");
        }
        let mut text = String::new();
        let mut at = 0;
        for range in &snippet.highlights {
            if range.start < at || range.end > snippet.text.len() {
                continue;
            }
            text.push_str(&snippet.text[at..range.start]);
            text.push_str(&self.bold(&snippet.text[range.clone()]));
            at = range.end;
        }
        text.push_str(&snippet.text[at..]);
        text.replace('\n', " ")
    }

    pub fn hits(&mut self, found: &[Found], json: bool) -> io::Result<()> {
        if json {
            return self.json(&Value::Array(found.iter().map(hit_json).collect()));
        }
        if !self.terminal {
            for Found { hit, .. } in found {
                self.line(&format!(
                    "{:.3}\t{}\t{}\t{}",
                    hit.score,
                    hit.kind,
                    hit.address,
                    one_line(&hit.title)
                ))?;
            }
            return Ok(());
        }
        for (rank, found) in found.iter().enumerate() {
            let Found { hit, trust, .. } = found;
            let by = by_line(trust);
            let facts: Vec<&str> = [
                Some(hit.kind.as_str()),
                hit.status.as_deref(),
                Some(by.as_str()),
                hit.region.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect();
            self.line(&format!(
                "{:>3}. {}  {}",
                rank + 1,
                self.bold(&one_line(&hit.title)),
                self.dim(&facts.join(" · "))
            ))?;
            let snippet = self.highlight(&hit.snippet);
            if !snippet.is_empty() {
                self.line(&format!("     {snippet}"))?;
            }
            self.line(&format!("     {}", self.dim(&hit.address.to_string())))?;
            if !trust.conflicts.is_empty() {
                self.line(&format!("     {}", trust.path))?;
            }
            if !found.featured.is_empty() {
                self.line(&format!("     featured by {}", found.featured.join(", ")))?;
            }
        }
        Ok(())
    }

    /// Records related to the one asked about, by group (e.g. its lessons, its people): a
    /// heading and a line each on a terminal, `related` lines in a pipe. Empty groups are left
    /// out.
    pub fn related(
        &mut self,
        groups: &[(&str, &[(convene_protocol::Address, String)])],
    ) -> io::Result<()> {
        for (heading, items) in groups {
            if items.is_empty() {
                continue;
            }
            if self.terminal {
                self.line("")?;
                self.line(&self.bold(heading))?;
                for (address, title) in *items {
                    self.line(&format!(
                        "       {}  {}",
                        one_line(title),
                        self.dim(&address.to_string())
                    ))?;
                }
            } else {
                for (address, title) in *items {
                    self.line(&format!(
                        "related\t{}\t{address}\t{}",
                        address.kind,
                        one_line(title)
                    ))?;
                }
            }
        }
        Ok(())
    }

    pub fn facets(&mut self, facets: &[Facet], json: bool) -> io::Result<()> {
        if json {
            let object: serde_json::Map<String, Value> = facets
                .iter()
                .map(|facet| {
                    let values: Vec<Value> = facet
                        .values
                        .iter()
                        .map(|(value, count)| json!({ "value": value, "count": count }))
                        .collect();
                    (facet.field.to_string(), Value::Array(values))
                })
                .collect();
            return self.json(&Value::Object(object));
        }
        for facet in facets {
            if self.terminal {
                let mut values: Vec<String> = facet
                    .values
                    .iter()
                    .map(|(v, n)| format!("{v} {n}"))
                    .collect();
                if facet.other > 0 {
                    values.push(format!("others {}", facet.other));
                }
                if !values.is_empty() {
                    self.line(&format!(
                        "{}: {}",
                        self.bold(&facet.field),
                        values.join(" · ")
                    ))?;
                }
            } else {
                for (value, count) in &facet.values {
                    self.line(&format!("{}\t{value}\t{count}", facet.field))?;
                }
            }
        }
        Ok(())
    }

    pub fn similar(&mut self, similar: &[(f32, Found)], json: bool) -> io::Result<()> {
        if json {
            let items = similar
                .iter()
                .map(|(similarity, found)| {
                    let mut value = hit_json(found);
                    value["similarity"] = json!(similarity);
                    value
                })
                .collect();
            return self.json(&Value::Array(items));
        }
        for (similarity, Found { hit, .. }) in similar {
            let percent = format!("{:.0}%", similarity * 100.0);
            if self.terminal {
                self.line(&format!(
                    "{percent:>5}  {}  {}",
                    self.bold(&one_line(&hit.title)),
                    self.dim(&hit.address.to_string())
                ))?;
            } else {
                self.line(&format!(
                    "{similarity:.3}\t{}\t{}\t{}",
                    hit.kind,
                    hit.address,
                    one_line(&hit.title)
                ))?;
            }
        }
        Ok(())
    }

    pub fn people(&mut self, people: &[Person], json: bool) -> io::Result<()> {
        if json {
            let items = people
                .iter()
                .map(|person| {
                    json!({
                        "address": person.address.to_string(),
                        "name": person.practitioner.name,
                        "role": person.practitioner.role,
                        "organisation": person.trust.name,
                        "trust": person.trust,
                        "region": person.practitioner.region,
                        "contact": person.practitioner.contact,
                        "expertise": person.practitioner.expertise,
                        "open_to": person.practitioner.open_to,
                        "score": person.score,
                        "reasons": person.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    })
                })
                .collect();
            return self.json(&Value::Array(items));
        }
        for person in people {
            let p = &person.practitioner;
            let reasons: Vec<String> = person.reasons.iter().map(ToString::to_string).collect();
            if !self.terminal {
                self.line(&format!(
                    "{:.3}\t{}\t{}\t{}",
                    person.score,
                    person.address,
                    one_line(&p.name),
                    reasons.join("; ")
                ))?;
                continue;
            }
            let by = by_line(&person.trust);
            let about: Vec<&str> = [p.role.as_deref(), Some(by.as_str()), p.region.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            self.line(&format!(
                "{}  {}",
                self.bold(&p.name),
                self.dim(&about.join(" · "))
            ))?;
            for reason in reasons {
                self.line(&format!("    {reason}"))?;
            }
            if !p.open_to.is_empty() {
                self.line(&format!("    open to: {}", p.open_to.join(", ")))?;
            }
            let contact = match (&p.contact, p.contact_visibility) {
                (Some(contact), _) => contact.as_str(),
                (None, Some(convene_protocol::ContactVisibility::Networks)) => {
                    "for members of their networks (`convene show` gives it if you are one)"
                }
                (None, _) => "through their organisation",
            };
            self.line(&format!("    contact: {contact}"))?;
            self.line(&format!("    {}", self.dim(&person.address.to_string())))?;
        }
        Ok(())
    }

    /// `stale`: the list of records past their review date, which shows that date (regression:
    /// issue 11, friction 12 — it showed the update date).
    pub fn list(&mut self, records: &[Record], stale: bool, json: bool) -> io::Result<()> {
        if json {
            return self.json(&Value::Array(records.iter().map(record_json).collect()));
        }
        for record in records {
            let Some(content) = record.content() else {
                continue;
            };
            let review_by = match content {
                Content::Experiment(e) if stale => e.review_by,
                _ => None,
            };
            let (label, date) = match review_by {
                Some(date) => ("review was due", date),
                None => (
                    "updated",
                    convene_protocol::Date::from_unix(record.header().created_at),
                ),
            };
            if self.terminal {
                self.line(&format!(
                    "{:<12} {}  {}  {}",
                    content.kind().as_str(),
                    self.bold(&one_line(content.title())),
                    self.dim(&format!("{label} {date}")),
                    self.dim(&record.address().to_string())
                ))?;
            } else {
                self.line(&format!(
                    "{}\t{}\t{date}\t{}",
                    content.kind(),
                    record.address(),
                    one_line(content.title())
                ))?;
            }
        }
        Ok(())
    }

    pub fn status(&mut self, status: &Status, json: bool) -> io::Result<()> {
        if json {
            return self.json(&serde_json::to_value(status).expect("plain data"));
        }
        let net = &status.net;
        self.line(&format!("{}  {}", self.bold("Peer id:  "), net.peer_id))?;
        for addr in &net.listen {
            self.line(&format!("{}  {addr}", self.bold("Listening:")))?;
        }
        self.line(&format!(
            "{}  http://{}",
            self.bold("Local API:"),
            status.api
        ))?;
        let records = status.counts.map_or_else(
            || "cannot be counted now (see Store)".to_string(),
            |counts| format!("{} live, {} retracted", counts.live, counts.retracted),
        );
        self.line(&format!("{}  {records}", self.bold("Records:  ")))?;
        let store = match &status.health.degraded {
            None => "ok".to_string(),
            Some(degraded) => format!("DEGRADED: {}", degraded.reason),
        };
        self.line(&format!("{}  {store}", self.bold("Store:    ")))?;
        let last = net
            .last_sync
            .as_ref()
            .map_or_else(|| "never".to_string(), sync_summary);
        self.line(&format!("{}  {last}", self.bold("Last sync:")))?;
        if net.gossip_received > 0 {
            self.line(&format!(
                "{}  {} records received, {:.1} copies of each on average",
                self.bold("Gossip:   "),
                net.gossip_received,
                net.gossip_copies as f64 / net.gossip_received as f64
            ))?;
        }
        if net.invalid_records > 0 {
            self.line(&format!(
                "{}  {} received",
                self.bold("Invalid:  "),
                net.invalid_records
            ))?;
        }
        self.line(&format!(
            "{} ({})",
            self.bold("Connected peers"),
            net.peers.len()
        ))?;
        for peer in &net.peers {
            let score = peer.score.map_or("-".to_string(), |s| format!("{s:.1}"));
            let name = peer
                .organisation
                .as_deref()
                .map(|name| format!("{name}  "))
                .unwrap_or_default();
            self.line(&format!(
                "  {name}{}  {}  score {score}  invalid {}",
                peer.peer_id, peer.address, peer.invalid_records
            ))?;
        }
        for peer in &net.blocked {
            self.line(&format!(
                "  {peer}  {}",
                self.dim("blocked: sent invalid records")
            ))?;
        }
        self.line(&format!("{}  {}", self.bold("Ticket:   "), net.ticket))
    }

    pub fn peers(&mut self, peers: &[BookPeer], running: bool, json: bool) -> io::Result<()> {
        if json {
            return self.json(&serde_json::to_value(peers).expect("plain data"));
        }
        for peer in peers {
            let state = match (running, peer.connected) {
                (false, _) => "node not running",
                (true, true) => "connected",
                (true, false) => "not connected",
            };
            self.line(&format!(
                "{}\t{}\t{state}\t{}",
                peer.peer_id.as_deref().unwrap_or("(peer id not yet known)"),
                peer.addrs.join(" "),
                peer.organisation.as_deref().unwrap_or("-"),
            ))?;
        }
        Ok(())
    }

    pub fn published(&mut self, published: &Published, json: bool) -> io::Result<()> {
        let record = &published.record;
        if json {
            return self.json(&json!({
                "address": record.address().to_string(),
                "id": record.id().to_hex(),
                "seq": record.header().seq,
                "previous_seq": published.previous_seq,
            }));
        }
        self.line(&record.address().to_string())?;
        match published.previous_seq {
            Some(previous) => {
                crate::say!("published version {} (was {previous})", record.header().seq)
            }
            None => crate::say!("published"),
        }
        Ok(())
    }

    /// How this node knows who an author is.
    pub fn trust(&mut self, trust: &Trust, json: bool) -> io::Result<()> {
        if json {
            return self.json(&json!(trust));
        }
        self.line(&trust.path)
    }

    /// The operator's pins: key, name, note.
    pub fn pins(&mut self, pins: &[(AuthorKey, Pin)], json: bool) -> io::Result<()> {
        if json {
            let items = pins
                .iter()
                .map(|(key, pin)| json!({ "key": key.to_string(), "name": pin.name, "note": pin.note, "at": pin.at }))
                .collect();
            return self.json(&Value::Array(items));
        }
        for (key, pin) in pins {
            let note = pin.note.as_deref().unwrap_or("");
            if self.terminal {
                self.line(&format!(
                    "{}  {}",
                    self.bold(&pin.name),
                    self.dim(&key.to_string())
                ))?;
                if !note.is_empty() {
                    self.line(&format!("    {note}"))?;
                }
            } else {
                self.line(&format!(
                    "{key}\t{}\t{}",
                    one_line(&pin.name),
                    one_line(note)
                ))?;
            }
        }
        Ok(())
    }

    /// Domain checks: domain, verified or not, key, why not.
    pub fn domain_checks(
        &mut self,
        checks: &[(AuthorKey, DomainCheck)],
        json: bool,
    ) -> io::Result<()> {
        if json {
            let items = checks
                .iter()
                .map(|(key, check)| {
                    json!({
                        "key": key.to_string(),
                        "domain": check.domain,
                        "verified": check.verified,
                        "reason": check.reason,
                        "at": check.at,
                    })
                })
                .collect();
            return self.json(&Value::Array(items));
        }
        for (key, check) in checks {
            let verdict = if check.verified {
                "verified"
            } else {
                "not verified"
            };
            self.line(&format!(
                "{}\t{verdict}\t{key}\t{}",
                check.domain,
                one_line(check.reason.as_deref().unwrap_or(""))
            ))?;
        }
        Ok(())
    }

    /// The operator's blocks, authors then peers: what, key, reason.
    pub fn blocks(
        &mut self,
        authors: &[(String, Block)],
        peers: &[(String, Block)],
        json: bool,
    ) -> io::Result<()> {
        let all = authors
            .iter()
            .map(|entry| ("author", entry))
            .chain(peers.iter().map(|entry| ("peer", entry)));
        if json {
            let items = all
                .map(|(what, (key, block))| {
                    json!({ "what": what, "key": key, "reason": block.reason, "at": block.at })
                })
                .collect();
            return self.json(&Value::Array(items));
        }
        for (what, (key, block)) in all {
            self.line(&format!("{what}\t{key}\t{}", one_line(&block.reason)))?;
        }
        Ok(())
    }

    /// A record, and who published it as this node knows it.
    /// `names`: the titles of the records it refers to (`None`: not held here), by address.
    pub fn record(
        &mut self,
        record: &Record,
        trust: &Trust,
        names: &std::collections::BTreeMap<String, Option<String>>,
        extras: &[(&str, Value)],
        json: bool,
    ) -> io::Result<()> {
        if json {
            let mut value = record_json(record);
            for (key, extra) in extras {
                value[*key] = extra.clone();
            }
            if let Some(Value::String(claim)) = value.get("organisation").cloned()
                && trust.name.as_deref() != Some(claim.as_str())
            {
                value["organisation_claimed"] = json!(claim);
            }
            value["organisation"] = json!(trust.name);
            value["trust"] = json!(trust);
            return self.json(&value);
        }
        let Some(content) = record.content() else {
            return self.line(&format!("{} (retracted)", record.address()));
        };
        let header = record.header();
        self.line(&self.bold(content.title()))?;
        self.line(&format!(
            "{} · version {} · {}",
            content.kind(),
            header.seq,
            convene_protocol::Date::from_unix(header.created_at)
        ))?;
        self.line(&record.address().to_string())?;
        self.line(&format!("by: {}", trust.path))?;
        self.line("")?;
        let value = serde_json::to_value(content).expect("plain data");
        if let Value::Object(fields) = value {
            for (name, value) in fields {
                if name == "kind" || name == "title" || name == "name" {
                    continue;
                }
                let named = |text: &str| match names.get(text) {
                    Some(Some(title)) => format!("{title} ({text})"),
                    Some(None) => format!("{text} (not held here)"),
                    None => text.to_string(),
                };
                let text = match value {
                    Value::String(text) => named(&text),
                    Value::Array(items) => items
                        .iter()
                        .map(|item| item.as_str().map_or_else(|| item.to_string(), named))
                        .collect::<Vec<_>>()
                        .join(", "),
                    Value::Object(map) => map
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                };
                if text.contains('\n') {
                    self.line(&format!("{}:", self.bold(&name)))?;
                    for line in text.lines() {
                        self.line(&format!("  {line}"))?;
                    }
                } else {
                    self.line(&format!("{}: {text}", self.bold(&name)))?;
                }
            }
        }
        for (key, extra) in extras {
            let text = match extra {
                Value::String(text) => text.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_string)
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            self.line(&format!("{}: {text}", self.bold(&key.replace('_', " "))))?;
        }
        Ok(())
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An author as a result line shows it: the name and how it is known, briefly.
fn by_line(trust: &Trust) -> String {
    let name = trust
        .name
        .clone()
        .unwrap_or_else(|| format!("key {}…", &trust.author.to_base32()[..12]));
    let how = match trust.basis {
        Basis::Own => "",
        Basis::Pinned { .. } => " ✓",
        Basis::Verified { .. } => " ✓ (verified domain)",
        Basis::Vouched { .. } => " ✓ (vouched)",
        Basis::Delegated { .. } => " (delegate)",
        Basis::Succeeds { .. } => " (new key)",
        Basis::Unverified => " (unverified)",
        Basis::Unknown => " (no profile)",
    };
    let conflict = if trust.conflicts.is_empty() {
        ""
    } else {
        " ⚠ name conflict"
    };
    format!("{name}{how}{conflict}")
}

fn hit_json(
    Found {
        hit,
        trust,
        featured,
    }: &Found,
) -> Value {
    json!({
        "address": hit.address.to_string(),
        "kind": hit.kind.as_str(),
        "title": hit.title,
        "summary": hit.summary,
        "score": hit.score,
        "snippet": hit.snippet.text,
        "highlights": hit.snippet.highlights.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>(),
        "tags": hit.tags,
        "status": hit.status,
        "sector": hit.sector,
        "region": hit.region,
        "organisation": hit.organisation,
        "trust": trust,
        "featured": featured,
    })
}

fn record_json(record: &Record) -> Value {
    let header = record.header();
    let mut value = json!({
        "address": record.address().to_string(),
        "id": record.id().to_hex(),
        "author": header.author.to_string(),
        "kind": header.kind.as_str(),
        "slug": header.slug.as_str(),
        "seq": header.seq,
        "created_at": header.created_at,
        "retracted": record.is_retraction(),
    });
    if let Some(Value::Object(fields)) = record
        .content()
        .map(|c: &Content| serde_json::to_value(c).expect("plain data"))
    {
        for (name, field) in fields {
            value[name] = field;
        }
    }
    value
}

fn sync_summary(report: &SyncReport) -> String {
    let when = time::OffsetDateTime::from_unix_timestamp(report.finished_at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    format!(
        "{when} with {}: {} round trips, {} missing, {} stored, {} invalid, {} refused, {} ms",
        report.peer,
        report.rounds,
        report.needed,
        report.stored,
        report.invalid,
        report.refused,
        report.millis
    )
}

/// One changed field as a line: `status: "running" → "completed"`, `tags: added "evaluation"`,
/// a long text by its length.
fn describe_change(change: &Change) -> String {
    const SHORT: usize = 60;
    fn value(shown: &Value) -> String {
        match shown {
            Value::String(text) if text.chars().count() > SHORT => {
                let start: String = text.chars().take(SHORT).collect();
                format!("{start:?}… ({} characters)", text.chars().count())
            }
            Value::String(text) => format!("{text:?}"),
            Value::Array(items) => items.iter().map(value).collect::<Vec<_>>().join(", "),
            other => other.to_string(),
        }
    }
    let field = &change.field;
    match (&change.before, &change.after) {
        (Some(Value::Array(before)), Some(Value::Array(after))) => {
            let added: Vec<String> = after
                .iter()
                .filter(|item| !before.contains(item))
                .map(value)
                .collect();
            let removed: Vec<String> = before
                .iter()
                .filter(|item| !after.contains(item))
                .map(value)
                .collect();
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(", ")));
            }
            if parts.is_empty() {
                parts.push("reordered".into());
            }
            format!("{field}: {}", parts.join("; "))
        }
        (None, Some(after)) => format!("{field}: added {}", value(after)),
        (Some(before), None) => format!("{field}: removed (was {})", value(before)),
        (Some(before), Some(after)) => format!("{field}: {} → {}", value(before), value(after)),
        (None, None) => format!("{field}: changed"),
    }
}
