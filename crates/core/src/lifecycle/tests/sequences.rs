//! Properties over sequences of commands: the same answers whether or not the scheduler ran
//! between them, and the invariants of money, tenancy, routing and billing dates.

use proptest::prelude::*;

use super::world::*;
use super::*;

#[derive(Debug, Clone)]
enum Op {
    Purchase { by_child: bool },
    Release { by_child: bool, mode: u8 },
    Cancel,
    AssignSub,
    UnassignSub { force: bool },
    AssignTrunk { by_child: bool, childs: bool },
    UnassignTrunk,
    Call { hours_ago: i64 },
    Advance { hours: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(|by_child| Op::Purchase { by_child }),
        (any::<bool>(), 0u8..3).prop_map(|(by_child, mode)| Op::Release { by_child, mode }),
        Just(Op::Cancel),
        Just(Op::AssignSub),
        any::<bool>().prop_map(|force| Op::UnassignSub { force }),
        (any::<bool>(), any::<bool>())
            .prop_map(|(by_child, childs)| Op::AssignTrunk { by_child, childs }),
        Just(Op::UnassignTrunk),
        (0i64..500).prop_map(|hours_ago| Op::Call { hours_ago }),
        (0i64..24 * 40).prop_map(|hours| Op::Advance { hours }),
    ]
}

/// A purchase date, often at a month's end.
fn start() -> impl Strategy<Value = DateTime<Utc>> {
    (2027i32..2029, 1u32..=12, 26u32..=31).prop_map(|(y, m, d)| {
        let last = (28..=31)
            .rev()
            .find(|d| Utc.with_ymd_and_hms(y, m, *d, 12, 0, 0).single().is_some())
            .unwrap();
        Utc.with_ymd_and_hms(y, m, d.min(last), 12, 0, 0).unwrap()
    })
}

fn policy() -> impl Strategy<Value = ReleasePolicy> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(window, quarantine, fee)| {
        ReleasePolicy {
            window: Duration::hours(if window { 24 } else { 0 }),
            quarantine: Duration::days(if quarantine { 10 } else { 0 }),
            fee: if fee { dec!(5) } else { dec!(0) },
            ..ReleasePolicy::default()
        }
    })
}

/// What a client would see: the rows brought up to `now`.
fn seen(w: &World, now: DateTime<Utc>) -> World {
    let mut w = w.clone();
    w.tick(now);
    w
}

fn check(w: &World, parent: &AccountId) -> Result<(), TestCaseError> {
    let balance = w.account(parent).balance;
    prop_assert_eq!(balance, ledger_sum(&w.ledger));
    prop_assert!(!balance.is_sign_negative());
    let n = &w.number;
    if !n.state.is_owned() {
        prop_assert!(n.owner_id.is_none() && n.billing_id.is_none());
        prop_assert!(n.trunk_id.is_none() && n.inbound_agent_id.is_none());
    }
    if let Some(t) = n.trunk_id {
        let owner = &w.trunks.iter().find(|x| x.id == t).unwrap().account_id;
        prop_assert!(
            Some(owner) == n.owner_id.as_ref() || Some(owner) == n.billing_id.as_ref(),
            "a number's trunk belongs to its holder or its payer"
        );
    }
    if let (Some(bought), Some(next)) = (n.purchased_at, n.next_billing_date) {
        prop_assert!(
            (1..=600).any(|k| bought.checked_add_months(Months::new(k)) == Some(next)),
            "renewals fall on the purchase day's anniversaries"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any sequence of commands gives the same answers whether or not the scheduler ran
    /// between them, and keeps the invariants: money, tenancy, routing, billing dates.
    #[test]
    fn answers_do_not_depend_on_the_scheduler(
        ops in proptest::collection::vec(op(), 1..50),
        start in start(),
        policy in policy(),
    ) {
        let parent = account("MA_PARENT", None, Role::Admin, dec!(0));
        let child = sa();
        let trunks = vec![trunk_of(&parent), trunk_of(&child)];
        let mut n = stock();
        n.monthly_fee = dec!(40);
        let mut lazy = World::new(n, vec![parent.clone(), child.clone()], trunks.clone());
        let top_up = Command::TopUp {
            account: parent.id.clone(),
            amount: dec!(5000),
            description: "opening".into(),
        };
        lazy.run(&top_up, &operator(start)).unwrap();
        let mut eager = lazy.clone();
        let mut now = start;
        for op in ops {
            let who = |by_child: bool| if by_child { &child } else { &parent };
            let (cmd, by) = match op {
                Op::Purchase { by_child } => (purchase(), who(by_child)),
                Op::Release { by_child, mode } => (
                    release([ReleaseMode::Policy, ReleaseMode::Immediate, DIGA][mode as usize]),
                    who(by_child),
                ),
                Op::Cancel => (cancel(), &parent),
                Op::AssignSub => (
                    Command::AssignSubAccount { number: e164().into(), sub: child.id.clone() },
                    &parent,
                ),
                Op::UnassignSub { force } => (
                    Command::UnassignSubAccount { number: e164().into(), force },
                    &parent,
                ),
                Op::AssignTrunk { by_child, childs } => (
                    Command::AssignTrunk {
                        number: e164().into(),
                        trunk: trunks[usize::from(childs)].id,
                    },
                    who(by_child),
                ),
                Op::UnassignTrunk => (Command::UnassignTrunk { number: e164().into() }, &parent),
                Op::Call { hours_ago } => {
                    let call = Command::ReportCall {
                        number: e164().into(),
                        call: crate::call::Call::at(now - Duration::hours(hours_ago)),
                    };
                    lazy.run(&call, &operator(now)).unwrap();
                    eager.run(&call, &operator(now)).unwrap();
                    continue;
                }
                Op::Advance { hours } => {
                    now += Duration::hours(hours);
                    continue;
                }
            };
            eager.tick(now);
            let mut ctx = ctx_for(by, now);
            ctx.policy = policy.clone();
            // The answer a face renders: the error, or whether the command itself acted.
            let a = lazy.run_parts(&cmd, &ctx).map(|(_, own)| own.is_empty());
            let b = eager.run_parts(&cmd, &ctx).map(|(_, own)| own.is_empty());
            prop_assert_eq!(
                a.as_ref().map_err(ToString::to_string),
                b.as_ref().map_err(ToString::to_string),
                "{:?} at {}", cmd, now
            );
            let (x, y) = (seen(&lazy, now), seen(&eager, now));
            let (xn, yn) = (&x.number, &y.number);
            prop_assert_eq!(
                (xn.state, &xn.owner_id, xn.trunk_id, xn.next_billing_date, xn.release_at),
                (yn.state, &yn.owner_id, yn.trunk_id, yn.next_billing_date, yn.release_at)
            );
            prop_assert_eq!(x.account(&parent.id).balance, y.account(&parent.id).balance);
            check(&lazy, &parent.id)?;
            check(&eager, &parent.id)?;
        }
    }
}
