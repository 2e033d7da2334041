//! Rendered JSON of the parts decisions share, recognised by address.
//!
//! Why an address is a safe key: each entry holds a `Weak` to its part, and
//! an `Arc`'s allocation is freed only when the last `Weak` goes too, so no
//! other part can be allocated at that address while the entry exists; and
//! an `Arc`'s content cannot be changed while a `Weak` to it exists
//! (`get_mut` refuses, `make_mut` clones). A `Weak` does not keep the
//! content alive, so a dropped policy is dropped.

use std::sync::{Arc, Weak};

use super::{write_list, write_resource};
use crate::decision::ResourceDecision;

/// Parts of one kind kept rendered, at most this many; the oldest (or one
/// whose part is gone) gives way.
const CACHED_PER_KIND: usize = 8;

/// Whether `part` is held elsewhere too (a compiled policy's shared part):
/// only those are worth caching; a decision's own parts are seen once.
#[inline]
fn is_shared<T: ?Sized>(part: &Arc<T>) -> bool {
    Arc::strong_count(part) >= 2
}

struct Rendered<T: ?Sized> {
    part: Weak<T>,
    json: Box<[u8]>,
    /// For a list: where each element's JSON is within `json`.
    elements: Box<[(usize, usize)]>,
}

/// Rendered parts of one kind.
pub(super) struct SharedParts<T: ?Sized> {
    entries: Vec<Rendered<T>>,
    /// Entry to replace next once full.
    next: usize,
}

impl<T: ?Sized> std::fmt::Debug for SharedParts<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedParts")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl<T: ?Sized> SharedParts<T> {
    pub(super) const fn new() -> Self {
        SharedParts {
            entries: Vec::new(),
            next: 0,
        }
    }

    /// Appends the JSON of `part`: the cached bytes when `part` is a known
    /// shared part, else `render`ed (and cached when shared).
    #[inline]
    pub(super) fn write(&mut self, out: &mut Vec<u8>, part: &Arc<T>, render: fn(&mut Vec<u8>, &T)) {
        if !is_shared(part) {
            render(out, part);
            return;
        }
        if let Some((_, rendered)) = self.find(part) {
            out.extend_from_slice(&rendered.json);
            return;
        }
        let start = out.len();
        render(out, part);
        if let Some(json) = out.get(start..) {
            self.insert(Rendered {
                part: Arc::downgrade(part),
                json: json.into(),
                elements: Box::new([]),
            });
        }
    }

    /// The entry of `part`, with its index.
    #[inline]
    fn find(&self, part: &Arc<T>) -> Option<(usize, &Rendered<T>)> {
        let address = Arc::as_ptr(part).cast::<()>();
        self.entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.part.as_ptr().cast::<()>() == address)
    }

    /// Adds `entry`, returning its index (`None`: not kept, which only
    /// costs a later render).
    fn insert(&mut self, entry: Rendered<T>) -> Option<usize> {
        if self.entries.len() < CACHED_PER_KIND {
            self.entries.push(entry);
            return self.entries.len().checked_sub(1);
        }
        let at = match self.entries.iter().position(|e| e.part.strong_count() == 0) {
            Some(gone) => gone,
            None => {
                let oldest = self.next;
                self.next = (self.next + 1) % CACHED_PER_KIND;
                oldest
            }
        };
        // Full, and `next` stays below `CACHED_PER_KIND`: always a slot.
        *self.entries.get_mut(at)? = entry;
        Some(at)
    }
}

/// Resource tables: shared ones as [`SharedParts`]; a member's own table is
/// written element by element, copying each element equal to the same
/// element of the shared table last written (a member's own table differs
/// from its tier's in the few resources it lists items for).
#[derive(Debug)]
pub(super) struct ResourceTables {
    tables: SharedParts<[ResourceDecision]>,
    /// Index in `tables` of the shared table last written.
    last: Option<usize>,
}

impl ResourceTables {
    pub(super) const fn new() -> Self {
        ResourceTables {
            tables: SharedParts::new(),
            last: None,
        }
    }

    pub(super) fn write(&mut self, out: &mut Vec<u8>, table: &Arc<[ResourceDecision]>) {
        if is_shared(table) {
            self.write_shared(out, table);
            return;
        }
        let template = self
            .last
            .and_then(|i| self.tables.entries.get(i))
            .and_then(|rendered| Some((rendered.part.upgrade()?, rendered)));
        let start = out.len();
        if let Some((shared, rendered)) = template {
            if write_from_template(out, table, &shared, rendered).is_some() {
                return;
            }
            // A span outside the template's JSON (never made so): start
            // over without it.
            out.truncate(start);
        }
        write_list(out, table, write_resource);
    }

    fn write_shared(&mut self, out: &mut Vec<u8>, table: &Arc<[ResourceDecision]>) {
        if let Some((i, rendered)) = self.tables.find(table) {
            out.extend_from_slice(&rendered.json);
            self.last = Some(i);
            return;
        }
        let start = out.len();
        let mut elements = Vec::with_capacity(table.len());
        out.push(b'[');
        for (i, resource) in table.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let element_start = out.len() - start;
            write_resource(out, resource);
            elements.push((element_start, out.len() - start));
        }
        out.push(b']');
        self.last = out.get(start..).and_then(|json| {
            self.tables.insert(Rendered {
                part: Arc::downgrade(table),
                json: json.into(),
                elements: elements.into(),
            })
        });
    }
}

/// Appends `table`, a member's own, copying each run of elements equal to
/// the same elements of `shared` as one slice of its JSON `rendered`
/// (commas between them included). `None` if a span of `rendered` is not
/// within its JSON, having written part of the list.
fn write_from_template(
    out: &mut Vec<u8>,
    table: &[ResourceDecision],
    shared: &[ResourceDecision],
    rendered: &Rendered<[ResourceDecision]>,
) -> Option<()> {
    out.push(b'[');
    // The run being collected: its first index and its byte span.
    let mut run: Option<(usize, usize, usize)> = None;
    for (i, resource) in table.iter().enumerate() {
        let template = shared
            .get(i)
            .zip(rendered.elements.get(i))
            .filter(|(s, _)| same_json(s, resource));
        if let Some((_, &(start, end))) = template {
            run = Some(match run {
                Some((first, run_start, _)) => (first, run_start, end),
                None => (i, start, end),
            });
            continue;
        }
        if let Some(run) = run.take() {
            copy_run(out, rendered, run)?;
        }
        if i > 0 {
            out.push(b',');
        }
        write_resource(out, resource);
    }
    if let Some(run) = run {
        copy_run(out, rendered, run)?;
    }
    out.push(b']');
    Some(())
}

/// Appends the JSON of a run of `rendered`'s elements (`first` index,
/// byte span `start..end`), after a comma unless it starts the list.
#[inline]
fn copy_run(
    out: &mut Vec<u8>,
    rendered: &Rendered<[ResourceDecision]>,
    (first, start, end): (usize, usize, usize),
) -> Option<()> {
    let json = rendered.json.get(start..end)?;
    if first > 0 {
        out.push(b',');
    }
    out.extend_from_slice(json);
    Some(())
}

/// Whether `a` and `b` have the same JSON, i.e. are equal; names and
/// reasons shared with the compiled policy compare by address first.
fn same_json(a: &ResourceDecision, b: &ResourceDecision) -> bool {
    let ResourceDecision {
        resource,
        outcome,
        restored,
        not_restored,
        not_restored_items,
        reason,
    } = a;
    let same_str = |x: &Arc<str>, y: &Arc<str>| Arc::ptr_eq(x, y) || x == y;
    same_str(resource, &b.resource)
        && *outcome == b.outcome
        && *restored == b.restored
        && *not_restored == b.not_restored
        && ((not_restored_items.is_empty() && b.not_restored_items.is_empty())
            || *not_restored_items == b.not_restored_items)
        && match (reason, &b.reason) {
            (None, None) => true,
            (Some(x), Some(y)) => same_str(x, y),
            _ => false,
        }
}
