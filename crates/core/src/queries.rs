//! What a face may read, and only this way: each read applies the tenancy rules here, once, so
//! faces never read the store to decide an answer. A number is shown as it stands at the
//! engine's clock (one number: what is due on it is applied, as the next command would; a list:
//! what is due is done first), so a read does not depend on whether the scheduler has run yet.

use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::audit::{AssignmentAudit, NumberEvent};
use crate::call::{Granularity, Health, MAX_HEALTH_DAYS};
use crate::clock::check_time;
use crate::credential::Credential;
use crate::e164::E164;
use crate::engine::{By, Engine};
use crate::error::EngineError;
use crate::ids::{AccountId, EndpointId, EventId, JobId, TrunkId};
use crate::job::{Job, JobItem};
use crate::lifecycle::{controls, schedule, visible_to, Snapshot};
use crate::number::{Number, NumberRef};
use crate::route::Route;
use crate::setting::{Setting, SettingKey};
use crate::store::{
    EventQuery, Holder, JobItemQuery, JobQuery, LedgerPage, LedgerQuery, NumberQuery, Page,
    SubAccountQuery, Violation, MAX_EXCLUDED_PREFIXES,
};
use crate::trunk::Trunk;
use crate::webhook::{Attempt, Delivery, Endpoint};

/// How many due numbers a list settles before it reads; a larger backlog is the scheduler's.
const LIST_SETTLES: u32 = 100;

/// Which numbers an account sees one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Those it holds or pays for (Vobiz: "a number currently assigned to your account").
    Held,
    /// Also those it released that nobody holds since (Diga shows them as `released` /
    /// `finished`).
    WithReleased,
}

impl Engine {
    fn operator_only(by: &By) -> Result<(), EngineError> {
        if by.is_operator() {
            Ok(())
        } else {
            Err(EngineError::Forbidden("operator only"))
        }
    }

    /// One number as `by` may see it, at the engine's clock; not found otherwise. The operator
    /// sees every number (by id, also deleted ones).
    pub async fn number(
        &self,
        by: &By,
        number: &NumberRef,
        sight: Sight,
    ) -> Result<Number, EngineError> {
        let found = match number {
            NumberRef::Id(id) => self.store().number(*id).await?,
            NumberRef::E164(e) => self.store().number_by_e164(e).await?,
        };
        let n = self
            .settled(found.ok_or(EngineError::NumberNotFound)?)
            .await?;
        match (by.caller(), sight) {
            (None, _) => Ok(n),
            (Some(caller), Sight::Held) if controls(caller, &n) => Ok(n),
            (Some(caller), Sight::WithReleased) if visible_to(caller, &n) => Ok(n),
            _ => Err(EngineError::NumberNotFound),
        }
    }

    /// `n` with what is due on it at the engine's clock applied (nothing is written).
    async fn settled(&self, n: Number) -> Result<Number, EngineError> {
        if !schedule::may_fall_due(&n, self.now()) {
            return Ok(n);
        }
        let mut snap = Snapshot::default();
        if let Some(payer) = &n.billing_id {
            snap.accounts.extend(self.store().account(payer).await?);
        }
        snap.number = Some(n);
        let ctx = self.context(&By::system());
        Ok(match schedule::settle(&ctx, &snap)? {
            Some((settled, _)) => settled.number,
            None => snap.number,
        }
        .expect("the snapshot holds the number"))
    }

    /// Where a call to `e164` goes now ([`Route::of`]), for the operator or the main account
    /// paying for the number (its SIP edge); `NumberNotFound` when it routes nowhere or is
    /// another account's. One indexed read; nothing is written (what is due on the number is
    /// applied to the answer, as on every read).
    pub async fn route(&self, by: &By, e164: &E164) -> Result<Route, EngineError> {
        let (n, trunk) = self
            .store()
            .route(e164)
            .await?
            .ok_or(EngineError::NumberNotFound)?;
        if by
            .caller()
            .is_some_and(|c| n.billing_id.as_ref() != Some(c))
        {
            return Err(EngineError::NumberNotFound);
        }
        let n = self.settled(n).await?;
        Route::of(n, trunk).ok_or(EngineError::NumberNotFound)
    }

    /// A number `by` holds or pays for, with the figures of its calls that started in the last
    /// `days` (1 to [`MAX_HEALTH_DAYS`]) days, grouped by `granularity` (Vobiz reference §5.10).
    pub async fn number_health(
        &self,
        by: &By,
        number: &NumberRef,
        granularity: Granularity,
        days: u32,
    ) -> Result<(Number, Health), EngineError> {
        if !(1..=MAX_HEALTH_DAYS).contains(&days) {
            return Err(EngineError::invalid(format!(
                "days is 1 to {MAX_HEALTH_DAYS}"
            )));
        }
        let n = self.number(by, number, Sight::Held).await?;
        let now = self.now();
        let since = now - chrono::Duration::days(i64::from(days));
        let calls: Vec<_> = self
            .store()
            .calls(n.id, since)
            .await?
            .into_iter()
            .map(|r| r.call)
            .collect();
        Ok((n, Health::of(&calls, granularity, days, now)))
    }

    /// A page of numbers, as they stand at the engine's clock (what is due is done first, see
    /// [`Engine::settle_due`]). An account lists only its own: inventory, the numbers it holds,
    /// those it pays for (a master account), or those it may see; anything else is forbidden.
    ///
    /// A `purchased_from`/`purchased_to` outside what the store holds is `Invalid`
    /// ([`check_time`]): compared with the stored times it would match wrongly, not fail.
    pub async fn numbers(&self, by: &By, query: &NumberQuery) -> Result<Page<Number>, EngineError> {
        for t in [query.purchased_from, query.purchased_to]
            .into_iter()
            .flatten()
        {
            check_time("a purchase time filter", t)?;
        }
        if let Some(caller) = by.caller() {
            let allowed = match &query.holder {
                Holder::Nobody => true,
                Holder::Account(id) | Holder::Visible(id) => id == caller,
                Holder::Family(id) => id == caller && by.billing() == Some(caller),
            };
            if !allowed {
                return Err(EngineError::Forbidden("another account's numbers"));
            }
        }
        if query.exclude_prefixes.len() > MAX_EXCLUDED_PREFIXES {
            return Err(EngineError::invalid(format!(
                "at most {MAX_EXCLUDED_PREFIXES} prefixes can be left out"
            )));
        }
        self.settle_due(LIST_SETTLES).await?;
        self.store().numbers(query).await
    }

    /// An account: the operator sees any, an account itself, its parent, or its sub-accounts.
    /// Its balance is as it stands at the engine's clock: what is due (a renewal charged, a
    /// release refunded) is settled first, as before a list ([`Engine::settle_due`]).
    pub async fn account(&self, by: &By, id: &AccountId) -> Result<Account, EngineError> {
        self.settle_due(LIST_SETTLES).await?;
        let a = self
            .store()
            .account(id)
            .await?
            .ok_or(EngineError::AccountNotFound)?;
        match by.caller() {
            None => Ok(a),
            Some(caller)
                if a.is_live() && (&a.id == caller || a.parent_id.as_ref() == Some(caller)) =>
            {
                Ok(a)
            }
            Some(_) => Err(EngineError::AccountNotFound),
        }
    }

    /// The balance `by` may see: a master account's own. A sub-account is billed to its parent
    /// and sees none of its parent's money (Vobiz: parent credentials for billing and
    /// provisioning, sub-account credentials for runtime use).
    pub async fn balance(&self, by: &By) -> Result<Account, EngineError> {
        let caller = by.caller().ok_or(EngineError::AccountNotFound)?;
        if by.billing() != Some(caller) {
            return Err(EngineError::Forbidden(
                "sub-accounts are billed to their parent account; use the parent's credentials",
            ));
        }
        self.account(by, caller).await
    }

    /// Ledger entries: the operator's any account's; an account only its own master account's,
    /// and a sub-account none (see [`Engine::balance`]). A `from`/`to` outside what the store
    /// holds is `Invalid` ([`check_time`]). What is due at the engine's clock is settled first,
    /// so a renewal that fell due is among the entries ([`Engine::settle_due`]).
    pub async fn ledger(&self, by: &By, query: &LedgerQuery) -> Result<LedgerPage, EngineError> {
        for t in [query.from, query.to].into_iter().flatten() {
            check_time("a date filter", t)?;
        }
        if let Some(caller) = by.caller() {
            if &query.account != caller || by.billing() != Some(caller) {
                return Err(EngineError::Forbidden(
                    "sub-accounts are billed to their parent account; use the parent's credentials",
                ));
            }
        }
        self.settle_due(LIST_SETTLES).await?;
        self.store().ledger(query).await
    }

    /// One of `by`'s own trunks; not found otherwise.
    pub async fn trunk(&self, by: &By, id: TrunkId) -> Result<Trunk, EngineError> {
        self.store()
            .trunk(id)
            .await?
            .filter(|t| by.caller().is_none_or(|c| &t.account_id == c))
            .ok_or(EngineError::TrunkNotFound)
    }

    /// A page of `by`'s own trunks.
    pub async fn trunks(
        &self,
        by: &By,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Trunk>, EngineError> {
        let caller = by.caller().ok_or(EngineError::AccountNotFound)?;
        self.store().trunks(caller, limit, offset).await
    }

    /// One live sub-account of `by`; not found otherwise.
    pub async fn sub_account(&self, by: &By, id: &AccountId) -> Result<Account, EngineError> {
        self.store()
            .account(id)
            .await?
            .filter(|a| a.is_live() && by.caller().is_none_or(|c| a.parent_id.as_ref() == Some(c)))
            .ok_or(EngineError::SubAccountNotFound)
    }

    /// A page of `by`'s sub-accounts.
    pub async fn sub_accounts(
        &self,
        by: &By,
        query: &SubAccountQuery,
    ) -> Result<Page<Account>, EngineError> {
        let caller = by.caller().ok_or(EngineError::AccountNotFound)?;
        self.store().sub_accounts(caller, query).await
    }

    /// An account's credentials of every kind, revoked ones included, oldest first (operator);
    /// each holds its token's hash, never the token. `AccountNotFound` for an unknown account.
    pub async fn credentials(
        &self,
        by: &By,
        account: &AccountId,
    ) -> Result<Vec<Credential>, EngineError> {
        Self::operator_only(by)?;
        self.account(by, account).await?;
        self.store().credentials_of(account).await
    }

    /// The sandbox clock's time as last set
    /// ([`Command::SetClock`](crate::lifecycle::Command::SetClock)), if it ever was (operator):
    /// `serve --sandbox` resumes from it.
    pub async fn saved_sandbox_clock(&self, by: &By) -> Result<Option<DateTime<Utc>>, EngineError> {
        Self::operator_only(by)?;
        Ok(self
            .store()
            .setting(SettingKey::SandboxClock)
            .await?
            .and_then(|s| match s {
                Setting::SandboxClock(t) => Some(t),
                _ => None,
            }))
    }

    /// The audit trail of a number (operator): by E.164, the events of every row that number
    /// ever had (an imported number deleted and imported again included), oldest first.
    pub async fn audit(
        &self,
        by: &By,
        number: &NumberRef,
    ) -> Result<(Vec<NumberEvent>, Vec<AssignmentAudit>), EngineError> {
        Self::operator_only(by)?;
        let events = self.store().events(number).await?;
        if events.is_empty() {
            return Err(EngineError::NumberNotFound);
        }
        let audits = self.store().assignment_audits(number).await?;
        Ok((events, audits))
    }

    /// A number's audit trail as `by` may see it, oldest first: the operator every event of the
    /// row; an account, on a number it may see ([`Sight::WithReleased`]), the events of that
    /// row that concern it or its master account ([`NumberEvent::accounts`]: the events before
    /// it held the number are another customer's).
    pub async fn timeline(
        &self,
        by: &By,
        number: &NumberRef,
    ) -> Result<Vec<NumberEvent>, EngineError> {
        let n = self.number(by, number, Sight::WithReleased).await?;
        let events = self.store().events(&NumberRef::Id(n.id)).await?;
        Ok(match by.caller() {
            None => events,
            Some(caller) => events
                .into_iter()
                .filter(|e| {
                    let concerned = e.accounts();
                    concerned.contains(caller)
                        || by.billing().is_some_and(|b| concerned.contains(b))
                })
                .collect(),
        })
    }

    /// A page of the event log (operator); see [`EventQuery`]. An `after` that names no event
    /// is `EventNotFound`.
    pub async fn event_log(
        &self,
        by: &By,
        query: &EventQuery,
    ) -> Result<Vec<NumberEvent>, EngineError> {
        Self::operator_only(by)?;
        if let Some(after) = query.after {
            self.store()
                .event(after)
                .await?
                .ok_or(EngineError::EventNotFound)?;
        }
        self.store().event_log(query).await
    }

    /// One event (operator).
    pub async fn event(&self, by: &By, id: EventId) -> Result<NumberEvent, EngineError> {
        Self::operator_only(by)?;
        self.store()
            .event(id)
            .await?
            .ok_or(EngineError::EventNotFound)
    }

    /// Every webhook endpoint (operator), oldest first.
    pub async fn webhook_endpoints(&self, by: &By) -> Result<Vec<Endpoint>, EngineError> {
        Self::operator_only(by)?;
        self.store().webhook_endpoints().await
    }

    /// One webhook endpoint (operator).
    pub async fn webhook_endpoint(&self, by: &By, id: EndpointId) -> Result<Endpoint, EngineError> {
        Self::operator_only(by)?;
        self.store()
            .webhook_endpoint(id)
            .await?
            .ok_or(EngineError::EndpointNotFound)
    }

    /// An event's deliveries (operator), one per endpoint it was queued for.
    pub async fn deliveries_of(&self, by: &By, id: EventId) -> Result<Vec<Delivery>, EngineError> {
        Self::operator_only(by)?;
        self.store().deliveries_of(id).await
    }

    /// The latest delivery attempts (operator), newest first, at most `limit`.
    pub async fn webhook_attempts(
        &self,
        by: &By,
        event: Option<EventId>,
        endpoint: Option<EndpointId>,
        limit: u32,
    ) -> Result<Vec<Attempt>, EngineError> {
        Self::operator_only(by)?;
        self.store().attempts(event, endpoint, limit).await
    }

    /// Every broken invariant of the database (operator).
    pub async fn check(&self, by: &By) -> Result<Vec<Violation>, EngineError> {
        Self::operator_only(by)?;
        self.store().check().await
    }

    /// See [`Store::after_bulk_load`](crate::store::Store::after_bulk_load) (operator).
    pub async fn after_bulk_load(&self, by: &By) -> Result<(), EngineError> {
        Self::operator_only(by)?;
        self.store().after_bulk_load().await
    }

    /// A job as `by` may see it: the operator any; an account its own and its sub-accounts'
    /// ([`Job::visible_to`]); not found otherwise.
    pub async fn job(&self, by: &By, id: JobId) -> Result<Job, EngineError> {
        let job = self
            .store()
            .job(id)
            .await?
            .ok_or(EngineError::JobNotFound)?;
        match by.caller() {
            Some(caller) if !job.visible_to(caller) => Err(EngineError::JobNotFound),
            _ => Ok(job),
        }
    }

    /// The jobs `by` sees, newest first: the operator all, an account its own and its
    /// sub-accounts'. `limit` 1 to 1,000.
    pub async fn jobs(&self, by: &By, limit: u32, offset: u64) -> Result<Page<Job>, EngineError> {
        if !(1..=1_000).contains(&limit) {
            return Err(EngineError::invalid("limit is between 1 and 1000"));
        }
        let query = JobQuery {
            visible_to: by.caller().cloned(),
            limit,
            offset,
        };
        self.store().jobs(&query).await
    }

    /// A job (as [`Engine::job`] shows it) and a page of its items with their results.
    /// `limit` 1 to 1,000.
    pub async fn job_items(
        &self,
        by: &By,
        id: JobId,
        query: &JobItemQuery,
    ) -> Result<(Job, Page<JobItem>), EngineError> {
        if !(1..=1_000).contains(&query.limit) {
            return Err(EngineError::invalid("limit is between 1 and 1000"));
        }
        let job = self.job(by, id).await?;
        let items = self.store().job_items(id, query).await?;
        Ok((job, items))
    }
}
