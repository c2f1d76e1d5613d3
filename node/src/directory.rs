//! How a command reaches the records of a home: through the running node's API if a node runs
//! on it (`Client`, in `client.rs`), or by opening the store itself ([`Local`]). Either way the
//! same operations, with the same results: both implement [`Directory`]; `open_directory` (in
//! `client.rs`, which knows whether a node runs) picks one.

use crate::cohort::Cohort;
use crate::digest::{Digest, NetworkMap};
use crate::{AskToJoin, NetworkChange, NetworkView, PendingJoin};
use convene_protocol::Date;
use std::io::{BufRead, Write};

use convene_protocol::{Address, AuthorKey, Record};
use convene_search::{Facet, Query, SimilarQuery};

use crate::domains::DomainCheck;
use crate::trust::{Block, Found, Pin, Trust};

use crate::accounts::{AccountChange, AccountChanged, AccountView};
use crate::watches::{News, Watch, WatchChange, Watcher};
use crate::{
    CsvImport, CsvMapping, Draft, ImportReport, ListFilter, Node, NodeError, Person, Progress,
    PublishOutcome, Publisher, SimilarCheck,
};

/// The operations on one home's records that commands offer.
pub trait Directory: std::fmt::Debug {
    /// Matching records, each with its author's trust path.
    fn search(&self, query: &Query) -> Result<Vec<Found>, NodeError>;
    fn facets(&self, query: &Query) -> Result<Vec<Facet>, NodeError>;
    fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError>;
    fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Found)>, NodeError>;
    /// How this node knows who `author` is.
    fn trust(&self, author: &AuthorKey) -> Result<Trust, NodeError>;
    /// The operator's pins.
    fn pins(&self) -> Result<Vec<(AuthorKey, Pin)>, NodeError>;
    /// The operator's saved searches.
    fn watches(&self) -> Result<Vec<Watch>, NodeError>;
    /// Adds or removes a saved search of the operator's.
    fn change_watch(&mut self, change: &WatchChange) -> Result<Option<Watch>, NodeError>;
    /// What is new for each of the operator's saved searches since the last look; with
    /// `mark_seen`, looking moves them up to now.
    fn news(&mut self, mark_seen: bool) -> Result<Vec<News>, NodeError>;
    /// Colleagues' web accounts.
    fn accounts(&self) -> Result<Vec<AccountView>, NodeError>;
    /// Adds or removes a web account, or issues a new sign-in link.
    fn change_account(&mut self, change: &AccountChange) -> Result<AccountChanged, NodeError>;
    /// Pins `author` (`None`: removes the pin); whether it had one.
    fn set_pin(&mut self, author: &AuthorKey, pin: Option<Pin>) -> Result<bool, NodeError>;
    /// Checks the domains organisation profiles name (those due, or with `all` every one) and
    /// records the results.
    fn check_domains(&mut self, all: bool) -> Result<Vec<(AuthorKey, DomainCheck)>, NodeError>;
    /// The operator's blocks.
    fn blocks(&self) -> Result<Vec<(AuthorKey, Block)>, NodeError>;
    /// Blocks `author` and purges its records (`None`: lifts the block): whether it was
    /// blocked, and how many records were purged.
    fn set_block(
        &mut self,
        author: &AuthorKey,
        block: Option<Block>,
    ) -> Result<(bool, usize), NodeError>;
    /// The networks this node holds a charter of or joined.
    fn networks(&self) -> Result<Vec<NetworkView>, NodeError>;
    /// Founds, amends, joins or leaves a network; the network as it now is.
    fn change_network(&mut self, change: NetworkChange) -> Result<NetworkView, NodeError>;
    /// Join requests waiting for this node's convenor.
    fn join_requests(&self) -> Result<Vec<PendingJoin>, NodeError>;
    /// Sends a signed request to join a network to a convenor's node (a running node only).
    fn ask_to_join(&mut self, ask: &AskToJoin) -> Result<(), NodeError>;
    /// Asks the connected peers to run a query and merges their checked answers (needs a
    /// running node).
    fn wider_search(
        &self,
        query: &crate::wider::WiderQuery,
    ) -> Result<crate::wider::WiderSearch, NodeError>;
    /// People's requests to publish for this organisation, unanswered.
    fn delegation_asks(&self) -> Result<Vec<crate::keys::PendingDelegation>, NodeError>;
    /// Sends this home's request to publish for an organisation to its node.
    fn ask_for_delegation(&mut self, ask: &crate::AskDelegation) -> Result<(), NodeError>;
    /// The organisations interested in an experiment's idea, and those trying something like it.
    fn cohort(&self, experiment: &Address) -> Result<Cohort, NodeError>;
    /// The versions of a record held here, newest first, with what each changed.
    fn history(&self, address: &Address) -> Result<crate::history::History, NodeError>;
    /// What is new and changed in a network since a day.
    fn digest(&self, network: &str, since: Date) -> Result<Digest, NodeError>;
    /// Who is working on what in a network.
    fn network_map(&self, network: &str) -> Result<NetworkMap, NodeError>;
    fn get(&self, address: &Address) -> Result<Record, NodeError>;
    fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError>;
    /// Publishes `draft` as the home's identity (see [`Node::publish`]); a running node also
    /// gossips it at once.
    fn publish(&mut self, draft: Draft, check: SimilarCheck) -> Result<PublishOutcome, NodeError>;
    fn retract(&mut self, address: &Address) -> Result<Record, NodeError>;
    /// Writes every record as JSON Lines; returns the count.
    fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError>;
    fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError>;
    /// Imports CSV rows as records of the home's identity; `mapping_text` is `mapping`'s TOML.
    fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        mapping: &CsvMapping,
        mapping_text: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError>;
    /// Rebuilds the search index; returns how many records it holds.
    fn reindex(&mut self, progress: &dyn Progress) -> Result<u64, NodeError>;
    /// Finishes local index work; nothing to do for a running node.
    fn close(self: Box<Self>) -> Result<(), NodeError>;
}

/// A home's store opened by this process, and who publishes into it.
#[derive(Debug)]
pub struct Local {
    pub node: Node,
    pub publisher: Publisher,
    /// The certificate authorities domain proofs are fetched with (`[node] https_ca_file`).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Directory for Local {
    fn search(&self, query: &Query) -> Result<Vec<Found>, NodeError> {
        self.node.find(query)
    }

    fn facets(&self, query: &Query) -> Result<Vec<Facet>, NodeError> {
        Ok(self.node.index().facets(query)?)
    }

    fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError> {
        self.node.people(topic, limit)
    }

    fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Found)>, NodeError> {
        self.node.find_similar(query)
    }

    fn trust(&self, author: &AuthorKey) -> Result<Trust, NodeError> {
        self.node.trust(author)
    }

    fn pins(&self) -> Result<Vec<(AuthorKey, Pin)>, NodeError> {
        self.node.pins()
    }

    fn accounts(&self) -> Result<Vec<AccountView>, NodeError> {
        self.node.accounts()
    }

    fn watches(&self) -> Result<Vec<Watch>, NodeError> {
        self.node.watches(&Watcher::Operator)
    }

    fn change_watch(&mut self, change: &WatchChange) -> Result<Option<Watch>, NodeError> {
        self.node.change_watch(&Watcher::Operator, change)
    }

    fn news(&mut self, mark_seen: bool) -> Result<Vec<News>, NodeError> {
        self.node.news(&Watcher::Operator, &[], mark_seen)
    }

    fn change_account(&mut self, change: &AccountChange) -> Result<AccountChanged, NodeError> {
        self.node.change_account(change)
    }

    fn set_pin(&mut self, author: &AuthorKey, pin: Option<Pin>) -> Result<bool, NodeError> {
        self.node.set_pin(author, pin.as_ref())
    }

    fn check_domains(&mut self, all: bool) -> Result<Vec<(AuthorKey, DomainCheck)>, NodeError> {
        let recheck = if all { 0 } else { crate::domains::RECHECK_SECS };
        let mut done = Vec::new();
        for (author, domain) in self.node.domains_due(recheck)? {
            let check =
                crate::domains::check(&author, &domain, self.ca_file.as_deref(), crate::now());
            self.node.record_domain_check(&author, &check)?;
            done.push((author, check));
        }
        Ok(done)
    }

    fn blocks(&self) -> Result<Vec<(AuthorKey, Block)>, NodeError> {
        self.node.blocks()
    }

    fn set_block(
        &mut self,
        author: &AuthorKey,
        block: Option<Block>,
    ) -> Result<(bool, usize), NodeError> {
        self.node.set_block(author, block.as_ref())
    }

    fn networks(&self) -> Result<Vec<NetworkView>, NodeError> {
        self.node.network_views()
    }

    fn change_network(&mut self, change: NetworkChange) -> Result<NetworkView, NodeError> {
        let (view, _) = self
            .node
            .change_network(&self.publisher, change, crate::now())?;
        Ok(view)
    }

    fn join_requests(&self) -> Result<Vec<PendingJoin>, NodeError> {
        self.node.join_requests()
    }

    fn cohort(&self, experiment: &Address) -> Result<Cohort, NodeError> {
        self.node.cohort(experiment)
    }

    fn history(&self, address: &Address) -> Result<crate::history::History, NodeError> {
        self.node.history(address)
    }

    fn delegation_asks(&self) -> Result<Vec<crate::keys::PendingDelegation>, NodeError> {
        self.node.delegation_asks()
    }

    fn wider_search(
        &self,
        _: &crate::wider::WiderQuery,
    ) -> Result<crate::wider::WiderSearch, NodeError> {
        Err(NodeError::Invalid(
            "a wider search asks the peers of a running node: start this home's node \
             (`convene node run`) and search again"
                .into(),
        ))
    }

    fn ask_for_delegation(&mut self, _: &crate::AskDelegation) -> Result<(), NodeError> {
        Err(NodeError::Invalid(
            "a request goes from a running node to the organisation's: start this home's node \
             (`convene node run`) and ask again, or send the consent line from `convene org \
             consent ORG_KEY` by other means"
                .into(),
        ))
    }

    fn ask_to_join(&mut self, _: &AskToJoin) -> Result<(), NodeError> {
        Err(NodeError::Invalid(
            "a join request goes from a running node to the convenor's: start this home's \
             node (`convene node run`) and join again"
                .into(),
        ))
    }

    fn digest(&self, network: &str, since: Date) -> Result<Digest, NodeError> {
        self.node
            .digest(network, since, Date::from_unix(crate::now()))
    }

    fn network_map(&self, network: &str) -> Result<NetworkMap, NodeError> {
        self.node.network_map(network)
    }

    fn get(&self, address: &Address) -> Result<Record, NodeError> {
        self.node.get(address)
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError> {
        self.node.list(filter)
    }

    fn publish(&mut self, draft: Draft, check: SimilarCheck) -> Result<PublishOutcome, NodeError> {
        self.node
            .publish(&self.publisher, draft, check, crate::now())
    }

    fn retract(&mut self, address: &Address) -> Result<Record, NodeError> {
        self.node.retract(&self.publisher, address, crate::now())
    }

    fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        self.node.export(out)
    }

    fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let report = self
            .node
            .import_jsonl(input, dry_run, crate::now(), progress)?;
        self.node.merge_index_after_bulk(report.stored, progress)?;
        Ok(report)
    }

    fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        mapping: &CsvMapping,
        _mapping_text: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let job = CsvImport {
            mapping,
            publisher: &self.publisher,
            dry_run,
            now: crate::now(),
        };
        let report = self.node.import_csv(input, &job, progress)?;
        self.node.merge_index_after_bulk(report.stored, progress)?;
        Ok(report)
    }

    fn reindex(&mut self, progress: &dyn Progress) -> Result<u64, NodeError> {
        self.node.reindex(progress)?;
        Ok(self.node.index().num_docs())
    }

    fn close(self: Box<Self>) -> Result<(), NodeError> {
        self.node.close()
    }
}
