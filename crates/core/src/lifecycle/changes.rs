//! What a command writes ([`Changes`]) and what it answers ([`Outcome`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::audit::{AssignmentAudit, NumberEvent};
use crate::call::CallRecord;
use crate::credential::Credential;
use crate::ids::EventId;
use crate::job::{Job, JobItem};
use crate::ledger::LedgerEntry;
use crate::number::Number;
use crate::setting::Setting;
use crate::trunk::Trunk;
use crate::webhook::{Attempt, Delivery, Endpoint};

use super::{Context, Snapshot};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Write<T> {
    Insert(T),
    Update(T),
    Delete(T),
}

impl<T> Write<T> {
    pub fn row(&self) -> &T {
        match self {
            Write::Insert(t) | Write::Update(t) | Write::Delete(t) => t,
        }
    }

    fn row_mut(&mut self) -> &mut T {
        match self {
            Write::Insert(t) | Write::Update(t) | Write::Delete(t) => t,
        }
    }

    fn into_row(self) -> T {
        match self {
            Write::Insert(t) | Write::Update(t) | Write::Delete(t) => t,
        }
    }
}

/// Everything a command writes. The store applies it in one transaction, or nothing of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub accounts: Vec<Write<Account>>,
    pub trunks: Vec<Write<Trunk>>,
    pub numbers: Vec<Write<Number>>,
    pub credentials: Vec<Write<Credential>>,
    pub ledger: Vec<LedgerEntry>,
    pub events: Vec<NumberEvent>,
    pub assignment_audits: Vec<AssignmentAudit>,
    /// Settings to store (each replaces the key's value).
    pub settings: Vec<Setting>,
    /// Call records to keep (reported calls).
    pub calls: Vec<CallRecord>,
    /// Deletes the call records of calls that ended before this time (the retention).
    pub prune_calls_before: Option<DateTime<Utc>>,
    pub webhook_endpoints: Vec<Write<Endpoint>>,
    /// Deliveries claimed, attempted or requeued (the store queues new ones with each event).
    pub deliveries: Vec<Write<Delivery>>,
    pub attempts: Vec<Attempt>,
    /// (Default when absent: outcomes recorded before jobs existed.)
    #[serde(default)]
    pub jobs: Vec<Write<Job>>,
    #[serde(default)]
    pub job_items: Vec<Write<JobItem>>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// Whether these changes can make something fall due sooner ([`crate::due_cache`]): every
    /// due time is a number's own (release, quarantine end, reservation expiry, renewal), and a
    /// reserved number falls due when its account is verified or rejected; a setting may be
    /// the sandbox clock. A webhook worker's claims and attempts, credentials, trunks and
    /// call records move none.
    pub fn may_move_due_times(&self) -> bool {
        !self.numbers.is_empty() || !self.accounts.is_empty() || !self.settings.is_empty()
    }

    /// The (first) number the command wrote, as written.
    pub fn number(&self) -> Option<&Number> {
        self.numbers.first().map(Write::row)
    }

    pub fn account(&self) -> Option<&Account> {
        self.accounts.first().map(Write::row)
    }

    pub fn trunk(&self) -> Option<&Trunk> {
        self.trunks.first().map(Write::row)
    }

    pub fn credential(&self) -> Option<&Credential> {
        self.credentials.first().map(Write::row)
    }

    /// Writes `after` in place of `before`, with the audit event of the change.
    pub(super) fn number_change(
        &mut self,
        ctx: &Context,
        action: &str,
        before: &Number,
        mut after: Number,
    ) {
        after.updated_at = ctx.now;
        self.events.push(event(ctx, action, Some(before), &after));
        self.put_number(Write::Update(after));
    }

    /// Writes a number's settings (not a state change): no event.
    pub(super) fn number_update(&mut self, ctx: &Context, mut after: Number) {
        after.updated_at = ctx.now;
        self.put_number(Write::Update(after));
    }

    fn put_number(&mut self, w: Write<Number>) {
        let id = w.row().id;
        match self.numbers.iter_mut().find(|x| x.row().id == id) {
            Some(x) => *x.row_mut() = w.into_row(),
            None => self.numbers.push(w),
        }
    }

    pub(super) fn put_account(&mut self, a: Account) {
        match self.accounts.iter_mut().find(|x| x.row().id == a.id) {
            Some(x) => *x.row_mut() = a,
            None => self.accounts.push(Write::Update(a)),
        }
    }

    /// These changes followed by `later`'s: a row written by both is written once, as `later`
    /// leaves it (an insert stays an insert).
    pub fn then(mut self, later: Changes) -> Changes {
        for w in later.numbers {
            self.put_number(w);
        }
        for w in later.accounts {
            match w {
                Write::Update(a) => self.put_account(a),
                other => self.accounts.push(other),
            }
        }
        self.trunks.extend(later.trunks);
        self.credentials.extend(later.credentials);
        self.ledger.extend(later.ledger);
        self.events.extend(later.events);
        self.assignment_audits.extend(later.assignment_audits);
        self.settings.extend(later.settings);
        self.calls.extend(later.calls);
        self.prune_calls_before = later.prune_calls_before.or(self.prune_calls_before);
        self.webhook_endpoints.extend(later.webhook_endpoints);
        self.deliveries.extend(later.deliveries);
        self.attempts.extend(later.attempts);
        self.jobs.extend(later.jobs);
        self.job_items.extend(later.job_items);
        self
    }
}

/// What a command did: its changes, and the number it locked as the command left it (also when
/// it changed nothing), so a face renders its answer without reading the store again.
/// Serializable, so a store can keep it with an idempotency key ([`crate::idempotency`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Everything written: what fell due on the number first, then the command's own changes.
    pub changes: Changes,
    pub number: Option<Number>,
    /// Whether the command itself changed anything (what merely fell due does not count).
    pub acted: bool,
}

impl Outcome {
    /// Pairs the changes with the number they leave: the locked row as written, or as loaded;
    /// for a command that inserts a number (an import), that number.
    pub fn new(snapshot: &Snapshot, due: Changes, own: Changes) -> Self {
        let acted = !own.is_empty();
        let changes = due.then(own);
        let number = match &snapshot.number {
            Some(locked) => Some(
                changes
                    .numbers
                    .iter()
                    .map(Write::row)
                    .find(|n| n.id == locked.id)
                    .unwrap_or(locked)
                    .clone(),
            ),
            None => changes
                .numbers
                .iter()
                .find(|w| matches!(w, Write::Insert(_)))
                .map(|w| w.row().clone()),
        };
        Outcome {
            changes,
            number,
            acted,
        }
    }

    /// The command found everything already as asked (a repeated release, say), whatever fell
    /// due on the number meanwhile.
    pub fn unchanged(&self) -> bool {
        !self.acted
    }

    /// The (first) account the command wrote.
    pub fn account(&self) -> Option<&Account> {
        self.changes.account()
    }

    /// The (first) trunk the command wrote.
    pub fn trunk(&self) -> Option<&Trunk> {
        self.changes.trunk()
    }
}

pub(super) fn event(
    ctx: &Context,
    action: &str,
    before: Option<&Number>,
    after: &Number,
) -> NumberEvent {
    NumberEvent {
        id: EventId::new(),
        number_id: after.id,
        e164: after.e164.clone(),
        action: action.to_owned(),
        actor: ctx.actor.clone(),
        from_state: before.map(|b| b.state),
        to_state: after.state,
        from_owner: before.and_then(|b| b.owner_id.clone()),
        to_owner: after.owner_id.clone(),
        at: ctx.now,
        request_id: ctx.request_id.clone(),
        number: Some(after.clone()),
    }
}
