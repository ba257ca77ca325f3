//! Invariants over any sequence of commands.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Purchase(bool),
    Release(bool),
    AssignSub,
    UnassignSub(bool),
    Call(i64),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(Op::Purchase),
        any::<bool>().prop_map(Op::Release),
        Just(Op::AssignSub),
        any::<bool>().prop_map(Op::UnassignSub),
        (0i64..40).prop_map(Op::Call),
        (0i64..40).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Whatever sequence of commands runs, the balance equals the ledger, never goes below
    /// zero, an available number has no holder, and every state change has its event.
    #[test]
    fn invariants_hold_for_any_sequence(ops in proptest::collection::vec(op(), 1..60)) {
        let mut parent = ma();
        parent.balance = dec!(0);
        let mut child = sa();
        let mut number = stock();
        let mut ledger: Vec<LedgerEntry> = Vec::new();
        let mut now = t0();
        let op_ctx = Context { actor: Actor::Operator, caller_billing: None, now, request_id: None, policy: ReleasePolicy::default() };
        let top = Command::TopUp { account: parent.id.clone(), amount: dec!(1000), description: "t".into() };
        let ch = top.decide(&op_ctx, &snap(None, vec![parent.clone()])).unwrap();
        parent = ch.account().unwrap().clone();
        ledger.extend(ch.ledger);
        for op in ops {
            let (cmd, by) = match op {
                Op::Purchase(by_child) => (Command::Purchase { number: e164().into(), currency: None , quoted_monthly_fee: None}, if by_child { child.clone() } else { parent.clone() }),
                Op::Release(by_child) => (Command::Release { number: e164().into(), mode: ReleaseMode::Policy }, if by_child { child.clone() } else { parent.clone() }),
                Op::AssignSub => (Command::AssignSubAccount { number: e164().into(), sub: child.id.clone() }, parent.clone()),
                Op::UnassignSub(force) => (Command::UnassignSubAccount { number: e164().into(), force }, parent.clone()),
                Op::Call(days_ago) => {
                    number.last_call_at = Some(now - Duration::days(days_ago));
                    continue;
                }
                Op::Advance(days) => {
                    now += Duration::days(days);
                    continue;
                }
            };
            let s = snap(Some(number.clone()), vec![parent.clone(), child.clone()]);
            if let Ok(ch) = cmd.decide(&ctx_for(&by, now), &s) {
                let changed = ch.number().is_some_and(|n| n.state != number.state || n.owner_id != number.owner_id);
                prop_assert_eq!(changed, !ch.events.is_empty());
                for w in &ch.accounts {
                    let a = w.row();
                    if a.id == parent.id { parent = a.clone(); } else { child = a.clone(); }
                }
                if let Some(n) = ch.number() { number = n.clone(); }
                ledger.extend(ch.ledger);
            }
            prop_assert_eq!(parent.balance, ledger_sum(&ledger));
            prop_assert!(!parent.balance.is_sign_negative() || parent.balance.is_zero());
            if matches!(number.state, NumberState::Available | NumberState::Quarantined) {
                prop_assert!(number.owner_id.is_none() && number.billing_id.is_none() && number.trunk_id.is_none());
            } else {
                prop_assert_eq!(number.billing_id.as_ref(), Some(&parent.id));
            }
        }
    }
}
