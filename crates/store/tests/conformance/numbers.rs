//! Number lists: who holds them, which ones match, and how they page.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::lifecycle::Command;
use didpool_core::store::{Holder, NumberQuery};
use didpool_core::{NumberState, ReleasePolicy, Store, E164};

use crate::support::{dec, e164, indian_numbers, new_number, World};

fn e164s(page: &didpool_core::store::Page<didpool_core::Number>) -> Vec<String> {
    page.items.iter().map(|n| n.e164.to_string()).collect()
}

const IN1: &str = "+919876500001";
const IN2: &str = "+919876500002";
const IN3: &str = "+919876500003";
const IN4: &str = "+919876500004";
const IN5: &str = "+919876500005";
const US1: &str = "+14155552671";
const US2: &str = "+14155552672";
const GB1: &str = "+442071838750";

/// Stocks the eight numbers above; returns a master, its sub-account and another master, with
/// IN1 held by the master, IN2 by its sub-account and US1 by the other master.
async fn stocked_world(w: &World) -> [didpool_core::Account; 3] {
    for n in [IN5, GB1, IN1, US2, IN3, US1, IN2, IN4] {
        w.stock(n, "1", "2").await;
    }
    let master = w.master("Master", "100").await;
    let sub = w.sub(&master, "Sub").await;
    let other = w.master("Other", "100").await;
    w.purchase(&master, &e164(IN1)).await.unwrap();
    w.purchase(&sub, &e164(IN2)).await.unwrap();
    w.purchase(&other, &e164(US1)).await.unwrap();
    [master, sub, other]
}

pub async fn number_lists_filter_by_holder(store: Arc<dyn Store>) {
    let w = World::new(store);
    let [master, sub, other] = stocked_world(&w).await;
    let all = NumberState::ALL.to_vec();
    let list = |holder: Holder| w.numbers(NumberQuery::new(holder, all.clone()));

    let inventory = list(Holder::Nobody).await;
    assert_eq!(e164s(&inventory), [US2, GB1, IN3, IN4, IN5]);
    assert_eq!(inventory.total, 5);
    assert!(inventory.items.iter().all(|n| n.owner_id.is_none()));

    assert_eq!(
        e164s(&list(Holder::Account(master.id.clone())).await),
        [IN1]
    );
    assert_eq!(e164s(&list(Holder::Account(sub.id.clone())).await), [IN2]);
    assert_eq!(
        e164s(&list(Holder::Family(master.id.clone())).await),
        [IN1, IN2]
    );
    assert_eq!(e164s(&list(Holder::Account(other.id.clone())).await), [US1]);
    assert_eq!(e164s(&list(Holder::Family(other.id.clone())).await), [US1]);
    // A sub-account pays for nothing.
    assert_eq!(list(Holder::Family(sub.id.clone())).await.total, 0);

    // Listed rows are the rows themselves.
    let held = list(Holder::Family(master.id.clone())).await;
    for n in &held.items {
        assert_eq!(&w.number(&n.e164).await, n);
    }
}

pub async fn number_lists_filter_by_country_search_excluded_prefixes_and_state(
    store: Arc<dyn Store>,
) {
    let w = World::with_policy(
        store,
        ReleasePolicy {
            quarantine: Duration::days(1),
            ..ReleasePolicy::default()
        },
    );
    let [master, _sub, _other] = stocked_world(&w).await;
    w.release(&master, &e164(IN1)).await.unwrap();
    assert_eq!(w.number(&e164(IN1)).await.state, NumberState::Quarantined);

    let query = |f: &dyn Fn(&mut NumberQuery)| {
        let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
        f(&mut q);
        q
    };

    let us = w.numbers(query(&|q| q.country = Some("US".into()))).await;
    assert_eq!(e164s(&us), [US2]);
    assert_eq!(us.total, 1);
    let india = w.numbers(query(&|q| q.country = Some("IN".into()))).await;
    assert_eq!(e164s(&india), [IN3, IN4, IN5]);
    let nowhere = w.numbers(query(&|q| q.country = Some("FR".into()))).await;
    assert_eq!((nowhere.total, nowhere.items.len()), (0, 0));

    let search = |s: &str| {
        let s = s.to_owned();
        w.numbers(query(&move |q| q.search = Some(s.clone())))
    };
    assert_eq!(e164s(&search("5552").await), [US2]);
    assert_eq!(e164s(&search("98765000").await), [IN3, IN4, IN5]);
    assert_eq!(e164s(&search("0004").await), [IN4]);
    assert_eq!(e164s(&search("2071838").await), [GB1]);
    assert_eq!(search("123456789").await.total, 0);
    // A search's total is the number of matches on every page, past the last one too.
    let search_page = |limit: u32, offset: u64| {
        w.numbers(query(&move |q| {
            q.search = Some("98765000".into());
            q.limit = limit;
            q.offset = offset;
        }))
    };
    for (offset, expected) in [
        (0, &[IN3, IN4][..]),
        (2, &[IN5][..]),
        (3, &[][..]),
        (9, &[][..]),
    ] {
        let page = search_page(2, offset).await;
        assert_eq!(e164s(&page), expected, "offset {offset}");
        assert_eq!(page.total, 3, "offset {offset}");
    }

    let excluding = |prefixes: &[&str]| {
        let prefixes: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
        w.numbers(query(&move |q| q.exclude_prefixes = prefixes.clone()))
    };
    assert_eq!(e164s(&excluding(&["91"]).await), [US2, GB1]);
    assert_eq!(e164s(&excluding(&["1", "44"]).await), [IN3, IN4, IN5]);
    assert_eq!(
        e164s(&excluding(&["919876500004"]).await),
        [US2, GB1, IN3, IN5]
    );
    // A prefix is matched from the start, not anywhere.
    assert_eq!(excluding(&["9876"]).await.total, 5);

    let both = w
        .numbers(query(&|q| {
            q.country = Some("IN".into());
            q.search = Some("5".into());
            q.exclude_prefixes = vec!["91987650000".into()];
        }))
        .await;
    assert_eq!(both.total, 0);

    let quarantined = w
        .numbers(query(&|q| q.states = vec![NumberState::Quarantined]))
        .await;
    assert_eq!(e164s(&quarantined), [IN1]);
    let returning = w
        .numbers(query(&|q| {
            q.states = vec![NumberState::Available, NumberState::Quarantined];
            q.country = Some("IN".into());
        }))
        .await;
    assert_eq!(e164s(&returning), [IN1, IN3, IN4, IN5]);
    let active = w
        .numbers(NumberQuery::new(
            Holder::Family(master.id.clone()),
            vec![NumberState::Active],
        ))
        .await;
    assert_eq!(e164s(&active), [IN2]);
    let available_but_held = w
        .numbers(NumberQuery::new(
            Holder::Family(master.id.clone()),
            vec![NumberState::Available],
        ))
        .await;
    assert_eq!(available_but_held.total, 0);
    assert_eq!(w.balance(&master.id).await, dec("94"));
}

pub async fn number_lists_filter_by_region(store: Arc<dyn Store>) {
    let w = World::new(store);
    for (n, region) in [
        (IN1, Some("Karnataka")),
        (IN2, Some("Maharashtra")),
        (IN3, Some("Karnataka")),
        (IN4, None),
    ] {
        let mut new = new_number(n, "1", "2");
        new.region = region.map(str::to_owned);
        w.run(&w.operator(), Command::AddInventory { numbers: vec![new] })
            .await
            .unwrap();
    }
    let in_region = |region: &str| {
        let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
        q.region = Some(region.to_owned());
        w.numbers(q)
    };

    let karnataka = in_region("Karnataka").await;
    assert_eq!(e164s(&karnataka), [IN1, IN3]);
    assert_eq!(karnataka.total, 2);
    assert_eq!(e164s(&in_region("Maharashtra").await), [IN2]);
    assert_eq!(in_region("Kerala").await.total, 0);
    let all = w
        .numbers(NumberQuery::new(
            Holder::Nobody,
            vec![NumberState::Available],
        ))
        .await;
    assert_eq!(all.total, 4);
}

pub async fn number_lists_page_in_e164_order_with_the_total_of_the_whole_filtered_set(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let mut numbers = indian_numbers(100, 12);
    // Stocked out of order: the order of a list is the numbers', not the insertions'.
    numbers.reverse();
    numbers.swap(0, 7);
    for n in &numbers {
        w.stock(n, "0", "1").await;
    }
    numbers.sort_by_key(|n| e164(n));

    let mut listed = Vec::new();
    for offset in [0, 5, 10] {
        let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
        q.limit = 5;
        q.offset = offset;
        let page = w.numbers(q).await;
        assert_eq!(page.total, 12);
        assert_eq!(page.items.len(), if offset == 10 { 2 } else { 5 });
        listed.extend(e164s(&page));
    }
    assert_eq!(listed, numbers);

    let mut past_the_end = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
    past_the_end.offset = 12;
    let page = w.numbers(past_the_end).await;
    assert!(page.items.is_empty());
    assert_eq!(page.total, 12);

    let mut filtered = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
    filtered.search = Some("0010".into());
    filtered.limit = 3;
    let page = w.numbers(filtered).await;
    let expected: Vec<E164> = numbers[..3].iter().map(|n| e164(n)).collect();
    assert_eq!(
        page.items
            .iter()
            .map(|n| n.e164.clone())
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(page.total, 10);
}

pub async fn number_lists_filter_by_holding_sub_account_and_trunk(store: Arc<dyn Store>) {
    let w = World::new(store);
    let parent = w.master("Parent", "1000").await;
    let sub = w.sub(&parent, "Branch").await;
    for n in [IN1, IN2, IN3] {
        w.stock(n, "1", "2").await;
        w.purchase(&parent, &e164(n)).await.unwrap();
    }
    let trunk = w
        .run(
            &w.by(&parent),
            Command::CreateTrunk {
                name: "PBX".into(),
                patch: Default::default(),
            },
        )
        .await
        .unwrap()
        .trunks[0]
        .row()
        .clone();
    w.run(
        &w.by(&parent),
        Command::AssignTrunk {
            number: didpool_core::NumberRef::E164(e164(IN1)),
            trunk: trunk.id,
        },
    )
    .await
    .unwrap();
    w.run(
        &w.by(&parent),
        Command::AssignSubAccount {
            number: didpool_core::NumberRef::E164(e164(IN2)),
            sub: sub.id.clone(),
        },
    )
    .await
    .unwrap();
    let family = |owner: Option<&didpool_core::AccountId>, trunk: Option<didpool_core::TrunkId>| {
        let mut q = NumberQuery::new(Holder::Family(parent.id.clone()), vec![]);
        q.owner = owner.cloned();
        q.trunk = trunk;
        w.numbers(q)
    };
    assert_eq!(e164s(&family(None, None).await), [IN1, IN2, IN3]);
    assert_eq!(e164s(&family(Some(&sub.id), None).await), [IN2]);
    assert_eq!(e164s(&family(Some(&parent.id), None).await), [IN1, IN3]);
    assert_eq!(e164s(&family(None, Some(trunk.id)).await), [IN1]);
    let by_both = family(Some(&sub.id), Some(trunk.id)).await;
    assert_eq!(by_both.total, 0);
}

/// The totals of held lists come from counts the store maintains (migration 0013): after every
/// purchase, release and re-purchase they equal the rows the list holds, on every page (past the
/// last one too), and `check` finds the counts in step with the rows.
pub async fn held_list_totals_stay_exact_through_purchases_and_releases(store: Arc<dyn Store>) {
    let w = World::new(store);
    let [master, sub, other] = stocked_world(&w).await;
    let owned = vec![
        NumberState::Reserved,
        NumberState::PendingVerification,
        NumberState::Active,
        NumberState::PendingRelease,
    ];
    let verify = async |step: &str, expected_family: u64| {
        let holders = [
            Holder::Account(master.id.clone()),
            Holder::Account(sub.id.clone()),
            Holder::Family(master.id.clone()),
            Holder::Family(sub.id.clone()),
            Holder::Account(other.id.clone()),
            Holder::Family(other.id.clone()),
        ];
        for holder in holders {
            for states in [
                NumberState::ALL.to_vec(),
                owned.clone(),
                vec![NumberState::Active],
                vec![NumberState::Quarantined],
            ] {
                let mut q = NumberQuery::new(holder.clone(), states.clone());
                q.limit = 1000;
                let all = w.numbers(q.clone()).await;
                assert_eq!(
                    all.total,
                    all.items.len() as u64,
                    "{step}: {holder:?} {states:?}"
                );
                for offset in [0, 1, 50] {
                    q.limit = 1;
                    q.offset = offset;
                    let page = w.numbers(q.clone()).await;
                    assert_eq!(page.total, all.total, "{step}: {holder:?} offset {offset}");
                }
            }
        }
        let mut family = NumberQuery::new(Holder::Family(master.id.clone()), owned.clone());
        family.limit = 1;
        assert_eq!(w.numbers(family).await.total, expected_family, "{step}");
        assert!(w.store.check().await.unwrap().is_empty(), "{step}");
    };
    verify("bought", 2).await;
    w.purchase(&master, &e164(IN3)).await.unwrap();
    w.purchase(&sub, &e164(IN4)).await.unwrap();
    verify("bought more", 4).await;
    w.release(&sub, &e164(IN2)).await.unwrap();
    w.release(&master, &e164(IN1)).await.unwrap();
    verify("released", 2).await;
    w.release(&other, &e164(US1)).await.unwrap();
    w.purchase(&master, &e164(IN5)).await.unwrap();
    verify("released and bought again", 3).await;
}

/// The whole inventory, by a plain list without a search (no substring index involved).
async fn inventory(w: &World) -> Vec<didpool_core::Number> {
    let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
    q.limit = 10_000;
    let all = w.numbers(q).await;
    assert_eq!(all.total, all.items.len() as u64);
    all.items
}

/// The numbers of `inventory` a search of `term` must find, filtered here.
fn scanned(
    inventory: &[didpool_core::Number],
    term: &str,
    country: Option<&str>,
    exclude: &[String],
) -> Vec<String> {
    inventory
        .iter()
        .filter(|n| n.e164.as_str().contains(term))
        .filter(|n| country.is_none_or(|c| n.country == c))
        .filter(|n| {
            !exclude
                .iter()
                .any(|p| n.e164.as_str().starts_with(&format!("+{p}")))
        })
        .map(|n| n.e164.to_string())
        .collect()
}

pub async fn inventory_search_finds_what_a_plain_scan_finds_through_purchases_releases_and_imports(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let mut stock = indian_numbers(0, 24);
    stock.extend(
        [
            "+14155552671",
            "+14155550000",
            "+12125550100",
            "+14159876500",
            "+442071838750",
            "+442079876500",
        ]
        .map(str::to_owned),
    );
    w.run(
        &w.operator(),
        Command::AddInventory {
            numbers: stock.iter().map(|n| new_number(n, "0", "1")).collect(),
        },
    )
    .await
    .unwrap();
    let buyer = w.master("Buyer", "1000").await;
    // Short and long terms (SQLite's index of windows serves three characters or more: the
    // prefix of a window for three, the phrase of windows beyond), terms at the end of a number
    // (its last windows are cut short), prefixes (`+`), repeated windows (`0000` twice in
    // +14155550000), and terms that match nothing.
    let terms = [
        "9876",
        "98765",
        "987650001",
        "+9198",
        "+91987650002",
        "0001",
        "0000",
        "00000",
        "5555",
        "55526",
        "+1415",
        "+4420",
        "8765",
        "76500",
        "2671",
        "+14155552671",
        "4155",
        "1234",
        "3",
        "55",
        "500",
        "+1",
        "671",
        "+91",
        "750",
        "+442071838750",
        "+1415555267",
    ];
    let verify = async |step: &str| {
        let stocked = inventory(&w).await;
        for term in terms {
            for country in [None, Some("IN"), Some("US"), Some("GB")] {
                for exclude in [vec![], vec!["9198765000".to_owned(), "1212".to_owned()]] {
                    let want = scanned(&stocked, term, country, &exclude);
                    let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
                    q.search = Some(term.to_owned());
                    q.country = country.map(str::to_owned);
                    q.exclude_prefixes = exclude.clone();
                    q.limit = 1000;
                    let what = format!("{step}: {term:?} in {country:?} without {exclude:?}");
                    let all = w.numbers(q.clone()).await;
                    assert_eq!(e164s(&all), want, "{what}");
                    assert_eq!(all.total, want.len() as u64, "{what}");
                    // Pages, and past the last one: the same total, the scan's order.
                    q.limit = 3;
                    for offset in [0, 3, 6, 100] {
                        q.offset = offset;
                        let page = w.numbers(q.clone()).await;
                        assert_eq!(page.total, want.len() as u64, "{what} offset {offset}");
                        let expected: Vec<String> =
                            want.iter().skip(offset as usize).take(3).cloned().collect();
                        assert_eq!(e164s(&page), expected, "{what} offset {offset}");
                    }
                }
            }
        }
        assert_eq!(w.store.check().await.unwrap(), [], "{step}");
    };
    verify("stocked").await;
    for n in [
        "+919876500001",
        "+14155550000",
        "+442079876500",
        "+919876500010",
    ] {
        w.purchase(&buyer, &e164(n)).await.unwrap();
    }
    verify("bought").await;
    w.release(&buyer, &e164("+14155550000")).await.unwrap();
    w.release(&buyer, &e164("+919876500010")).await.unwrap();
    verify("released").await;
    // An imported number is held at once: never in the inventory, nor its tombstone.
    let byo = "+14155559876";
    w.run(
        &w.by(&buyer),
        Command::Import {
            number: new_number(byo, "0", "0"),
            nickname: None,
            sip_config: None,
        },
    )
    .await
    .unwrap();
    verify("imported").await;
    w.clock.advance(Duration::days(2));
    w.release(&buyer, &e164(byo)).await.unwrap();
    verify("imported and deleted").await;
    // Its E.164 stocked again: a new row, in the inventory.
    w.stock(byo, "0", "1").await;
    let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
    q.search = Some("9876".into());
    q.country = Some("US".into());
    assert_eq!(e164s(&w.numbers(q).await), ["+14155559876", "+14159876500"]);
    verify("stocked again").await;
}

/// A search (three digits or more: the trigram path) of every kind of holder finds held and
/// unheld rows alike. On PostgreSQL the trigram index covers only rows without a holder
/// (migration 0018); a held number is found through its holder's index instead.
pub async fn number_searches_of_every_holder_find_held_and_unheld_numbers(store: Arc<dyn Store>) {
    let w = World::with_policy(
        store,
        ReleasePolicy {
            quarantine: Duration::days(1),
            ..ReleasePolicy::default()
        },
    );
    let [master, _sub, other] = stocked_world(&w).await;
    let all = NumberState::ALL.to_vec();
    let search = |holder: Holder, term: &str| {
        let mut q = NumberQuery::new(holder, all.clone());
        q.search = Some(term.into());
        w.numbers(q)
    };
    let found = |page: didpool_core::store::Page<didpool_core::Number>| {
        assert_eq!(page.total, page.items.len() as u64);
        e164s(&page)
    };
    let account = Holder::Account(master.id.clone());
    let family = Holder::Family(master.id.clone());
    let visible = Holder::Visible(master.id.clone());
    assert_eq!(found(search(account.clone(), "98765").await), [IN1]);
    assert_eq!(found(search(family.clone(), "98765").await), [IN1, IN2]);
    assert_eq!(found(search(visible.clone(), "98765").await), [IN1, IN2]);
    assert_eq!(
        found(search(Holder::Nobody, "98765").await),
        [IN3, IN4, IN5]
    );
    assert_eq!(
        found(search(Holder::Visible(other.id.clone()), "555").await),
        [US1]
    );
    // Released: unheld (quarantined), still visible to its last holder.
    w.release(&master, &e164(IN1)).await.unwrap();
    assert_eq!(found(search(account, "98765").await), Vec::<String>::new());
    assert_eq!(found(search(family, "98765").await), [IN2]);
    assert_eq!(found(search(visible, "98765").await), [IN1, IN2]);
    assert_eq!(
        found(search(Holder::Nobody, "98765").await),
        [IN1, IN3, IN4, IN5]
    );
}
