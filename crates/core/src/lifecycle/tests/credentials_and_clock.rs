//! Credentials (rotation, revocation) and the sandbox clock; times the store cannot hold.

use chrono::{Duration, TimeZone};

use super::routing::used_by_child;
use super::*;
use crate::credential::{Credential, CredentialKind, TokenHash};
use crate::ids::CredentialId;
use crate::lifecycle::ClockMove;
use crate::setting::Setting;

fn operator_at(now: DateTime<Utc>) -> Context {
    Context {
        actor: Actor::Operator,
        caller_billing: None,
        now,
        request_id: None,
        policy: ReleasePolicy::default(),
    }
}

#[test]
fn times_outside_what_the_store_holds_are_refused_before_anything_is_written() {
    let op = operator_at(t0());
    let far = crate::clock::MAX_TIME;
    let call = Command::ReportCall {
        number: e164().into(),
        call: crate::call::Call::at(far),
    };
    let err = call
        .decide(&op, &snap(Some(used_by_child(t0())), vec![]))
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid(m) if m.starts_with("the call's time must be")),
        "{err}"
    );
    let reserve = Command::Reserve {
        number: e164().into(),
        account: ma().id,
        until: far,
    };
    let err = reserve
        .decide(&op, &snap(Some(stock()), vec![ma()]))
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    // A clock past the bound (9999-12-15, the report) buys nothing: the next billing date a
    // month later would be written as `+10000-…`, which no read decodes.
    let buyer = ma();
    let purchase = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    let late = Utc.with_ymd_and_hms(9999, 12, 15, 0, 0, 0).unwrap();
    let err = purchase
        .decide(
            &ctx_for(&buyer, late),
            &snap(Some(stock()), vec![buyer.clone()]),
        )
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid(m) if m.starts_with("the clock must be")),
        "{err}"
    );
}

#[test]
fn the_sandbox_clock_moves_forward_only_and_stays_inside_the_time_range() {
    let op = operator_at(t0());
    let stored = |ch: Changes| match ch.settings.as_slice() {
        [Setting::SandboxClock(t)] => *t,
        other => panic!("one clock setting, not {other:?}"),
    };
    let later = t0() + Duration::days(31);
    let to = |t| Command::SetClock {
        to: ClockMove::To(t),
    };
    let by = |d| Command::SetClock {
        to: ClockMove::Advance(d),
    };
    assert_eq!(
        stored(to(later).decide(&op, &Snapshot::default()).unwrap()),
        later
    );
    assert_eq!(
        stored(
            by(Duration::days(1))
                .decide(&op, &Snapshot::default())
                .unwrap()
        ),
        t0() + Duration::days(1)
    );
    // Advancing counts from the stored time when another node moved it further.
    let mut s = Snapshot::default();
    s.settings.push(Setting::SandboxClock(later));
    assert_eq!(stored(by(Duration::zero()).decide(&op, &s).unwrap()), later);
    for (cmd, snapshot) in [
        (to(t0() - Duration::seconds(1)), Snapshot::default()),
        (to(later - Duration::seconds(1)), s.clone()),
        (by(Duration::seconds(-1)), Snapshot::default()),
        (to(crate::clock::MAX_TIME), Snapshot::default()),
        (by(Duration::days(365 * 8000)), Snapshot::default()),
    ] {
        let err = cmd.decide(&op, &snapshot).unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{cmd:?}: {err}");
    }
    let err = to(later)
        .decide(&ctx_for(&ma(), t0()), &Snapshot::default())
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
}

fn vobiz_token(account: &Account, revoked_at: Option<DateTime<Utc>>) -> Credential {
    Credential {
        id: CredentialId::new(),
        account_id: account.id.clone(),
        kind: CredentialKind::Vobiz,
        token_hash: TokenHash::of(&CredentialId::new().to_string()),
        scope: None,
        created_at: t0() - Duration::days(1),
        revoked_at,
    }
}

#[test]
fn rotating_an_auth_token_revokes_the_live_ones_after_the_grace_period() {
    let acc = ma();
    let live = vobiz_token(&acc, None);
    let in_grace = vobiz_token(&acc, Some(t0() + Duration::minutes(5)));
    let dead = vobiz_token(&acc, Some(t0() - Duration::minutes(5)));
    let mut agni = vobiz_token(&acc, None);
    agni.kind = CredentialKind::Agni;
    let mut s = snap(None, vec![acc.clone()]);
    s.credentials = vec![live.clone(), in_grace.clone(), dead, agni];
    let rotate = |grace| Command::RotateAuthToken {
        account: acc.id.clone(),
        token_hash: TokenHash::of("new"),
        grace,
    };

    let ch = rotate(Duration::minutes(10))
        .decide(&operator_at(t0()), &s)
        .unwrap();
    let new = ch.credential().unwrap();
    assert!(matches!(ch.credentials[0], Write::Insert(_)));
    assert_eq!((new.kind, new.revoked_at), (CredentialKind::Vobiz, None));
    assert_eq!(new.token_hash, TokenHash::of("new"));
    // The live token ends after the grace; one already ending sooner keeps its earlier end; the
    // dead one and the Agni key are left alone.
    let updated: Vec<_> = ch.credentials[1..]
        .iter()
        .map(|w| w.row().clone())
        .collect();
    assert_eq!(
        updated,
        vec![Credential {
            revoked_at: Some(t0() + Duration::minutes(10)),
            ..live.clone()
        }]
    );
    let ch = rotate(Duration::zero())
        .decide(&operator_at(t0()), &s)
        .unwrap();
    let ends: Vec<_> = ch.credentials[1..]
        .iter()
        .map(|w| (w.row().id, w.row().revoked_at))
        .collect();
    assert_eq!(ends, vec![(live.id, Some(t0())), (in_grace.id, Some(t0()))]);

    for grace in [Duration::seconds(-1), Duration::days(31)] {
        let err = rotate(grace).decide(&operator_at(t0()), &s).unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    }
    let err = rotate(Duration::zero())
        .decide(&ctx_for(&acc, t0()), &s)
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
}

#[test]
fn revoking_a_token_in_its_grace_period_ends_it_at_once() {
    let acc = ma();
    let id_of = |c: &Credential| Command::RevokeCredential { id: c.id };
    let in_grace = vobiz_token(&acc, Some(t0() + Duration::minutes(5)));
    let mut s = Snapshot {
        credentials: vec![in_grace.clone()],
        ..Snapshot::default()
    };
    let ch = id_of(&in_grace).decide(&operator_at(t0()), &s).unwrap();
    assert_eq!(ch.credential().unwrap().revoked_at, Some(t0()));
    assert!(in_grace.is_live_at(t0()));
    assert!(!ch.credential().unwrap().is_live_at(t0()));

    let dead = vobiz_token(&acc, Some(t0() - Duration::minutes(5)));
    s.credentials = vec![dead.clone()];
    assert!(id_of(&dead)
        .decide(&operator_at(t0()), &s)
        .unwrap()
        .is_empty());
}

fn session_of(account: &Account) -> Credential {
    let mut c = vobiz_token(account, None);
    c.kind = CredentialKind::VobizSession;
    c.token_hash = TokenHash::of(&c.id.to_string());
    c
}

#[test]
fn a_sub_account_opened_with_a_session_gets_one_live_session_after_its_auth_token() {
    let parent = ma();
    let new = NewAccount {
        id: None,
        name: "Support".into(),
        role: Role::Customer,
        currency: parent.currency.clone(),
        opening_balance: Decimal::ZERO,
        enabled: true,
        profile: Default::default(),
    };
    let create = |session| Command::CreateAccount {
        account: new.clone(),
        parent: Some(parent.id.clone()),
        token_hash: TokenHash::of("auth"),
        session,
    };
    let s = snap(None, vec![parent.clone()]);
    let ch = create(true).decide(&ctx_for(&parent, t0()), &s).unwrap();
    let sub = ch.account().unwrap().clone();
    let kinds: Vec<_> = ch.credentials.iter().map(|w| w.row().kind).collect();
    assert_eq!(kinds, [CredentialKind::Vobiz, CredentialKind::VobizSession]);
    assert_eq!(ch.credential().unwrap().token_hash, TokenHash::of("auth"));
    let session = ch.credentials[1].row();
    assert_eq!(session.account_id, sub.id);
    assert_eq!(session.token_hash, TokenHash::of(&session.id.to_string()));
    assert!(session.is_live_at(t0()));
    let ch = create(false).decide(&ctx_for(&parent, t0()), &s).unwrap();
    assert_eq!(ch.credentials.len(), 1);
}

#[test]
fn a_session_is_revoked_by_its_account_or_its_main_account_only() {
    let (parent, sub) = (ma(), sa());
    let stranger = account("MA_STRANGER", None, Role::Admin, Decimal::ZERO);
    let session = session_of(&sub);
    let revoke = Command::RevokeSession {
        id: session.id,
        account: sub.id.clone(),
    };
    let mut s = snap(None, vec![sub.clone()]);
    s.credentials = vec![session.clone()];
    for who in [&sub, &parent] {
        let ch = revoke.decide(&ctx_for(who, t0()), &s).unwrap();
        assert_eq!(
            ch.credential().unwrap().revoked_at,
            Some(t0()),
            "{}",
            who.id
        );
    }
    // Anyone else, even an admin-role account, or the operator (it has its own route): not found.
    let err = revoke.decide(&ctx_for(&stranger, t0()), &s).unwrap_err();
    assert!(matches!(err, EngineError::CredentialNotFound), "{err}");
    let err = revoke.decide(&operator_at(t0()), &s).unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
    // Another account's session named as this one's, or an auth token: not found.
    let mut other = s.clone();
    other.credentials = vec![session_of(&parent)];
    let err = revoke.decide(&ctx_for(&parent, t0()), &other).unwrap_err();
    assert!(matches!(err, EngineError::CredentialNotFound), "{err}");
    other.credentials = vec![vobiz_token(&sub, None)];
    let err = revoke.decide(&ctx_for(&sub, t0()), &other).unwrap_err();
    assert!(matches!(err, EngineError::CredentialNotFound), "{err}");
    // Ended already: nothing changes.
    s.credentials = vec![Credential {
        revoked_at: Some(t0() - Duration::minutes(1)),
        ..session
    }];
    assert!(revoke.decide(&ctx_for(&sub, t0()), &s).unwrap().is_empty());
}

#[test]
fn the_first_token_signing_key_kept_stays() {
    let op = operator_at(t0());
    let first = crate::setting::SigningKey::generate();
    let second = crate::setting::SigningKey::generate();
    assert_ne!(first, second);
    let keep = |key: &crate::setting::SigningKey| Command::InitTokenKey { key: key.clone() };
    let ch = keep(&first).decide(&op, &Snapshot::default()).unwrap();
    assert_eq!(ch.settings, vec![Setting::TokenKey(first.clone())]);
    let mut s = Snapshot::default();
    s.settings.push(Setting::TokenKey(first.clone()));
    assert!(keep(&second).decide(&op, &s).unwrap().is_empty());
    let err = keep(&second)
        .decide(&ctx_for(&ma(), t0()), &Snapshot::default())
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
    assert_eq!(format!("{first:?}"), "SigningKey(..)", "never shown");
    assert!(crate::setting::SigningKey::parse("too short").is_err());
    assert!(crate::setting::SettingKey::TokenKey.is_write_once());
}

#[test]
fn the_operator_disables_and_enables_a_master_account() {
    let op = operator_at(t0());
    let disable = Command::SetAccountEnabled {
        account: ma().id,
        enabled: false,
    };
    let changes = disable.decide(&op, &snap(None, vec![ma()])).unwrap();
    let written = changes.account().expect("the account");
    assert!(!written.enabled);
    assert_eq!(written.balance, ma().balance, "nothing else changes");
    // Again: nothing to write.
    let mut off = ma();
    off.enabled = false;
    assert!(disable
        .decide(&op, &snap(None, vec![off.clone()]))
        .unwrap()
        .accounts
        .is_empty());
    let enable = Command::SetAccountEnabled {
        account: ma().id,
        enabled: true,
    };
    assert!(
        enable
            .decide(&op, &snap(None, vec![off]))
            .unwrap()
            .account()
            .unwrap()
            .enabled
    );
    // Only the operator, and only a master account.
    assert!(matches!(
        disable.decide(&ctx_for(&ma(), t0()), &snap(None, vec![ma()])),
        Err(EngineError::Forbidden(_))
    ));
    let sub = Command::SetAccountEnabled {
        account: sa().id,
        enabled: false,
    };
    assert!(matches!(
        sub.decide(&op, &snap(None, vec![ma(), sa()])),
        Err(EngineError::AccountNotFound)
    ));
}
