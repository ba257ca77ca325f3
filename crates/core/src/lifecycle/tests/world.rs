//! A fake store for sequences of commands: rows, loaded and written as a store would.

use chrono::{Duration, TimeZone};

use super::scheduling::system;
use super::*;
use crate::trunk::Trunk;

pub(super) fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 30, 0).unwrap()
}

pub(super) fn operator(now: DateTime<Utc>) -> Context {
    Context {
        actor: Actor::Operator,
        ..system(now)
    }
}

pub(super) fn trunk_of(owner: &Account) -> Trunk {
    Trunk {
        id: TrunkId::new(),
        account_id: owner.id.clone(),
        name: format!("{} trunk", owner.id),
        settings: TrunkSettings::default(),
        created_at: t0(),
        updated_at: t0(),
    }
}

/// A fake store: the rows, and each command loaded, decided and applied as a store would.
#[derive(Debug, Clone)]
pub(super) struct World {
    pub(super) number: Number,
    pub(super) accounts: Vec<Account>,
    pub(super) trunks: Vec<Trunk>,
    pub(super) ledger: Vec<LedgerEntry>,
    pub(super) events: Vec<NumberEvent>,
}

impl World {
    pub(super) fn new(number: Number, accounts: Vec<Account>, trunks: Vec<Trunk>) -> Self {
        World {
            number,
            accounts,
            trunks,
            ledger: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(super) fn snapshot(&self, cmd: &Command, ctx: &Context) -> Snapshot {
        let needs = cmd.needs(ctx);
        let number = needs.number.as_ref().map(|_| self.number.clone());
        let trunk_id = needs.trunk.or_else(|| {
            number
                .as_ref()
                .filter(|_| needs.number_trunk)
                .and_then(|n| n.trunk_id)
        });
        Snapshot {
            number,
            accounts: self.accounts.clone(),
            trunk: trunk_id.and_then(|id| self.trunks.iter().find(|t| t.id == id).cloned()),
            ..Snapshot::default()
        }
    }

    pub(super) fn run(&mut self, cmd: &Command, ctx: &Context) -> Result<Changes, EngineError> {
        self.run_parts(cmd, ctx).map(|(due, own)| due.then(own))
    }

    /// Runs `cmd`: what fell due first, and the command's own changes.
    pub(super) fn run_parts(
        &mut self,
        cmd: &Command,
        ctx: &Context,
    ) -> Result<(Changes, Changes), EngineError> {
        let (due, own) = cmd.decide_parts(ctx, &self.snapshot(cmd, ctx))?;
        let changes = due.clone().then(own.clone());
        for w in &changes.numbers {
            self.number = w.row().clone();
        }
        for w in &changes.accounts {
            let a = w.row();
            match self.accounts.iter_mut().find(|x| x.id == a.id) {
                Some(x) => *x = a.clone(),
                None => self.accounts.push(a.clone()),
            }
        }
        self.ledger.extend(changes.ledger.iter().cloned());
        self.events.extend(changes.events.iter().cloned());
        Ok((due, own))
    }

    pub(super) fn tick(&mut self, now: DateTime<Utc>) -> Changes {
        let id = self.number.id;
        self.run(&Command::Tick { id }, &system(now)).unwrap()
    }

    pub(super) fn account(&self, id: &AccountId) -> &Account {
        self.accounts.iter().find(|a| &a.id == id).unwrap()
    }
}

pub(super) fn release(mode: ReleaseMode) -> Command {
    Command::Release {
        number: e164().into(),
        mode,
    }
}

pub(super) fn purchase() -> Command {
    Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    }
}

pub(super) fn cancel() -> Command {
    Command::CancelRelease {
        number: e164().into(),
    }
}

pub(super) const DIGA: ReleaseMode = ReleaseMode::AtCycleEnd {
    quarantine: Duration::days(30),
};
