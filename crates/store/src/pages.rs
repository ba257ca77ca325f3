//! Page directories of held lists (issue 17): an account's (or family's) numbers in e164 order,
//! paged by offset, without walking the offset's entries of the holder index.
//!
//! A directory holds the e164 at every [`STRIDE`]-th position of one holder's list, built by one
//! walk of the holder index, and the holder's version (the sum of the changes counted on its
//! `number_holder_counts` rows, migration 0014: the counts' triggers bump it in the transaction
//! that moves a number into, out of or within the list). A page at
//! offset `n` seeks to the entry at position `n - n % STRIDE` and walks fewer than `STRIDE` +
//! limit entries. Its statement reads the holder's version and total in the same snapshot as the
//! rows, and the page is kept only if that version is the directory's: otherwise the directory is
//! rebuilt (the version came from the database, so a change made through any node is seen). Every
//! other shape of list keeps the plain path ([`crate::ops::plain_numbers`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use didpool_core::store::{Holder, NumberOrder, NumberQuery, Page};
use didpool_core::{EngineError, Number};

use crate::ops::{db_err, holds_every_held_state, unfiltered};
use crate::rows::{self, NUMBER_COLS};
use crate::sql::{DbRow, Sql, Q};

/// Positions between two entries of a directory: a page walks fewer than this many entries
/// before its first row.
pub const STRIDE: u64 = 64;

/// Directories kept per store; a full cache is emptied (as the auth cache is).
const MAX_DIRECTORIES: usize = 1024;

/// How many reads a page tries before it falls back to the plain path: a list that changes
/// between every read (a holder buying as fast as it lists) would otherwise rebuild its
/// directory again and again, each a walk of the whole list.
const ATTEMPTS: usize = 2;

/// One holder's list at one version: `anchors[i]` is the e164 at position `i * STRIDE`.
struct Directory {
    version: i64,
    anchors: Vec<String>,
}

/// The directories a store keeps in memory, by role (`owner`, `billing`) and holder.
#[derive(Default)]
pub struct Directories(Mutex<HashMap<(&'static str, String), Arc<Directory>>>);

impl Directories {
    fn get(&self, role: &'static str, holder: &str) -> Option<Arc<Directory>> {
        let map = self.0.lock().ok()?;
        map.get(&(role, holder.to_owned())).cloned()
    }

    fn put(&self, role: &'static str, holder: &str, d: Arc<Directory>) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= MAX_DIRECTORIES {
                map.clear();
            }
            map.insert((role, holder.to_owned()), d);
        }
    }

    /// How many directories are kept (tests).
    pub fn len(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The role and holder of a list a directory serves: one account's (or family's) numbers in
/// every held state, in e164 order, filtered by nothing else.
pub fn served(f: &NumberQuery) -> Option<(&'static str, &str)> {
    if !matches!(f.order, NumberOrder::E164) || !holds_every_held_state(f) || !unfiltered(f) {
        return None;
    }
    match &f.holder {
        Holder::Account(id) => Some(("owner", id.as_str())),
        Holder::Family(id) => Some(("billing", id.as_str())),
        Holder::Nobody | Holder::Visible(_) => None,
    }
}

fn column(role: &str) -> &'static str {
    if role == "owner" {
        "owner_id"
    } else {
        "billing_id"
    }
}

/// `(SELECT sum(changes) …)`: the holder's list version (migration 0014: the changes counted
/// on its `number_holder_counts` rows), 0 before its first number.
fn version_sql(q: &mut Q, role: &'static str, holder: &str) {
    q.push(
        "(SELECT CAST(coalesce(sum(changes), 0) AS BIGINT) FROM number_holder_counts WHERE holder_id = ",
    )
    .arg(holder)
    .push(" AND role = ")
    .arg(role)
    .push(")");
}

/// A page of the list `served` named, or `None` when concurrent changes kept every directory
/// built stale (the caller then takes the plain path).
pub async fn page(
    db: &mut dyn Sql,
    dirs: &Directories,
    role: &'static str,
    holder: &str,
    f: &NumberQuery,
) -> Result<Option<Page<Number>>, EngineError> {
    for _ in 0..ATTEMPTS {
        let (anchor, skip, version) = if f.offset < STRIDE {
            (None, f.offset, None)
        } else {
            let d = match dirs.get(role, holder) {
                Some(d) => d,
                None => {
                    let d = Arc::new(build(db, role, holder).await?);
                    dirs.put(role, holder, d.clone());
                    d
                }
            };
            match d.anchors.len() {
                // An empty list: any offset answers no rows.
                0 => (None, f.offset, Some(d.version)),
                len => {
                    // Past the last anchor the page is empty; it still walks under STRIDE entries.
                    let i = ((f.offset / STRIDE) as usize).min(len - 1);
                    let skip = f.offset - i as u64 * STRIDE;
                    (Some(d.anchors[i].clone()), skip, Some(d.version))
                }
            }
        };
        let (read_version, page) = read(db, role, holder, f, anchor, skip).await?;
        match version {
            Some(v) if v != read_version => {
                // The list changed since the directory was built: build it again.
                let d = Arc::new(build(db, role, holder).await?);
                dirs.put(role, holder, d);
            }
            _ => return Ok(Some(page)),
        }
    }
    Ok(None)
}

/// One walk of the holder index: the version and every `STRIDE`-th e164, in one statement (one
/// snapshot).
async fn build(
    db: &mut dyn Sql,
    role: &'static str,
    holder: &str,
) -> Result<Directory, EngineError> {
    let mut q = Q::new("SELECT v.version AS holder_version, d.e164 FROM (SELECT ");
    version_sql(&mut q, role, holder);
    q.push(&format!(
        " AS version) v LEFT JOIN (SELECT e164 FROM (SELECT e164, row_number() OVER (ORDER BY e164) \
         AS i FROM numbers WHERE {} = ",
        column(role)
    ))
    .arg(holder)
    .push(&format!(") w WHERE (i - 1) % {STRIDE} = 0) d ON true ORDER BY d.e164"));
    let rows = db.fetch(&q.sql, &q.args).await.map_err(db_err)?;
    let version = match rows.first() {
        Some(r) => r.int("holder_version")?,
        None => return Err(crate::codec::corrupt("no holder version row".into())),
    };
    let anchors = rows
        .iter()
        .filter_map(|r| r.opt_text("e164").transpose())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Directory { version, anchors })
}

/// The page from `anchor` (its first `skip` entries skipped), with the holder's version and
/// total, in one statement (one snapshot): the version and total as uncorrelated subqueries of
/// the page's own rows (evaluated once), or, when the page is empty, beside no rows.
async fn read(
    db: &mut dyn Sql,
    role: &'static str,
    holder: &str,
    f: &NumberQuery,
    anchor: Option<String>,
    skip: u64,
) -> Result<(i64, Page<Number>), EngineError> {
    let figures = |q: &mut Q| {
        version_sql(q, role, holder);
        q.push(" AS holder_version, (SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM number_holder_counts WHERE holder_id = ")
            .arg(holder)
            .push(" AND role = ")
            .arg(role)
            .push(" AND state IN (");
        for (i, s) in f.states.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.arg(s.as_str());
        }
        q.push(")) AS holder_total");
    };
    // The page's rows; with the figures as two more columns of each.
    let page = |q: &mut Q, with_figures: bool| {
        q.push(&format!("SELECT {NUMBER_COLS}"));
        if with_figures {
            q.push(", ");
            figures(q);
        }
        q.push(&format!(" FROM numbers WHERE {} = ", column(role)))
            .arg(holder);
        if let Some(a) = &anchor {
            q.push(" AND e164 >= ").arg(a.as_str());
        }
        q.push(" ORDER BY e164 LIMIT ")
            .arg(i64::from(f.limit))
            .push(" OFFSET ")
            .arg(skip as i64);
    };
    let mut q = Q::new("");
    page(&mut q, true);
    let rows = db.fetch(&q.sql, &q.args).await.map_err(db_err)?;
    let rows = if rows.is_empty() {
        // No row to carry the figures: the same page beside them, in one statement again (an
        // empty page, or one that a concurrent change filled since).
        let mut q = Q::new("SELECT * FROM (SELECT ");
        figures(&mut q);
        q.push(") v LEFT JOIN (");
        page(&mut q, false);
        q.push(") p ON true");
        db.fetch(&q.sql, &q.args).await.map_err(db_err)?
    } else {
        rows
    };
    let first: &DbRow = rows
        .first()
        .ok_or_else(|| crate::codec::corrupt("no holder version row".into()))?;
    let version = first.int("holder_version")?;
    let total = first.int("holder_total")? as u64;
    let mut items = rows
        .iter()
        .filter(|r| !matches!(r.opt_text("id"), Ok(None)))
        .map(rows::number)
        .collect::<Result<Vec<_>, _>>()?;
    // The join form names no order; the page's own statement is already in it.
    items.sort_by(|a, b| a.e164.as_str().cmp(b.e164.as_str()));
    Ok((version, Page { items, total }))
}
