//! The push of a sync: local states in batches, and the records the server refuses set
//! aside so that none of them stops the sync (SYNC-PROTOCOL.md §6).
//!
//! - New changes (above the push cursor) go first, in change order, in batches of at
//!   most [`MAX_BATCH_RECORDS`] records and 2 MiB of JSON once decompressed (a single
//!   larger state goes alone, up to the server's [`MAX_BATCH_BYTES`]). The cursor moves
//!   past a batch once each of its records is accepted or set aside. Each such push
//!   declares `through` (§6a): the highest local change sequence the batch covers, the
//!   records set aside unsent in passing included, so that what the server acknowledged
//!   reaches the cursor whenever the batch's last record could be sent.
//! - A record the server refuses with a 422 naming it is set aside with the server's
//!   code and sentence, and the rest of the batch is sent again. A refusal that names no
//!   record of the batch (422), or a 413, halves the batch, down to one record, which is
//!   then set aside. A record larger than one request may carry is set aside unsent.
//! - Then the records set aside by earlier syncs are sent again, 16 at a time; each
//!   leaves the list when the server accepts it (or when, edited here since, it went with
//!   the new changes). A record the server holds apart (§6a, status `held`) stays listed.
//! - Any other refusal is the sync's error.
//! - An answer naming another epoch than the one kept (§6a) sets everything to be sent
//!   again ([`crate::recovery`]); the push stops there, and the sync starts over.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use serde::Deserialize;
use sync_protocol::{Epoch, RecordId, RecordState};
use tracing::{info, warn};

use crate::client::{
    Http, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, Phase, Progress, Refusal, SyncError, gzip,
};
use crate::records::load;
use crate::recovery::{acknowledged_through, note_epoch};
use crate::set_aside::{self, HELD, TOO_LARGE};
use crate::store::CaseFile;

/// The JSON a batch grows to before it is sent (a single larger state still goes alone,
/// up to [`MAX_BATCH_BYTES`]): about 400 KB of gzip, which a poor mobile link carries well
/// within one request's timeout.
const BATCH_TARGET_BYTES: usize = 2 * 1024 * 1024;

/// The records set aside by earlier syncs go in small batches: they are likely to be
/// refused again, and the server names one refusal per answer, so a batch of r refused
/// records is sent r + 1 times.
const RETRY_BATCH_RECORDS: usize = 16;

/// `{"records":[],"through":N}`: what a push body holds at most besides its states and
/// their commas.
const BODY_OVERHEAD: usize = r#"{"records":[],"through":18446744073709551615}"#.len();

/// The `200` answer to a push, read loosely: a status this build does not know (a newer
/// server's) counts as accepted, and `held` (§6a) sets the record aside.
#[derive(Debug, Deserialize)]
struct PushAnswer {
    server_seq: u64,
    #[serde(default)]
    results: Vec<PushOutcome>,
    /// The database's epoch (§6a); a server that names none is taken at its word.
    #[serde(default)]
    epoch: Option<Epoch>,
}

/// One record's result in a [`PushAnswer`].
#[derive(Debug, Deserialize)]
struct PushOutcome {
    id: RecordId,
    status: String,
}

/// A local state ready to send: its canonical JSON, written once.
#[derive(Debug)]
struct Outgoing {
    id: RecordId,
    kind: String,
    json: String,
}

impl Outgoing {
    fn new(state: &RecordState) -> Self {
        Self {
            id: state.id(),
            kind: state.kind().to_string(),
            json: state.to_json(),
        }
    }

    /// Whether a push of this state alone stays within [`MAX_BATCH_BYTES`].
    fn fits_alone(&self) -> bool {
        BODY_OVERHEAD + self.json.len() <= MAX_BATCH_BYTES
    }
}

/// States gathered for one push, within [`MAX_BATCH_RECORDS`] and [`BATCH_TARGET_BYTES`]
/// (one larger state alone).
#[derive(Debug)]
struct Batch {
    items: Vec<Outgoing>,
    bytes: usize,
}

impl Batch {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            bytes: BODY_OVERHEAD,
        }
    }

    /// The bytes `item` would add: its JSON, and a comma after the first.
    fn cost(&self, item: &Outgoing) -> usize {
        item.json.len() + usize::from(!self.items.is_empty())
    }

    /// Whether `item` joins this batch: an empty batch takes any state that may be sent
    /// at all; then a batch grows to [`MAX_BATCH_RECORDS`] or [`BATCH_TARGET_BYTES`].
    fn has_room_for(&self, item: &Outgoing, records: usize) -> bool {
        self.items.is_empty()
            || (self.items.len() < records && self.bytes + self.cost(item) <= BATCH_TARGET_BYTES)
    }

    fn add(&mut self, item: Outgoing) {
        self.bytes += self.cost(&item);
        self.items.push(item);
    }

    fn take(&mut self) -> Vec<Outgoing> {
        self.bytes = BODY_OVERHEAD;
        std::mem::take(&mut self.items)
    }
}

/// `{"records":[…]}` of `items`, with `"through": N` when given.
fn push_body(items: &[Outgoing], through: Option<u64>) -> String {
    let mut body = String::with_capacity(
        BODY_OVERHEAD + items.iter().map(|i| i.json.len() + 1).sum::<usize>(),
    );
    body.push_str(r#"{"records":["#);
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&item.json);
    }
    body.push(']');
    if let Some(through) = through {
        body.push_str(&format!(r#","through":{through}"#));
    }
    body.push('}');
    body
}

/// The push phase of one sync: what it has done so far.
pub(crate) struct PushRun<'a> {
    http: &'a Http<'a>,
    cancel: &'a AtomicBool,
    progress: &'a mut dyn FnMut(Progress),
    /// States sent and accepted.
    pub(crate) accepted: u64,
    /// States accepted or set aside, for the progress bar.
    done: u64,
    /// States this sync expects to handle.
    expected: u64,
    /// The organisation's highest sequence, as the last push answered it.
    pub(crate) server_seq: u64,
    /// Records accepted or set aside by this sync: not sent again before the next.
    handled: HashSet<RecordId>,
    /// An answer named another epoch than the one kept: everything is set to be sent
    /// again, and the push stopped (§6a).
    pub(crate) new_epoch: bool,
}

impl<'a> PushRun<'a> {
    /// A push about to start, expecting to handle `expected` states.
    pub(crate) fn new(
        http: &'a Http<'a>,
        cancel: &'a AtomicBool,
        progress: &'a mut dyn FnMut(Progress),
        expected: u64,
    ) -> Self {
        Self {
            http,
            cancel,
            progress,
            accepted: 0,
            done: 0,
            expected,
            server_seq: 0,
            handled: HashSet::new(),
            new_epoch: false,
        }
    }
}

impl PushRun<'_> {
    fn check(&self) -> Result<(), SyncError> {
        if self.cancel.load(Ordering::SeqCst) {
            Err(SyncError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// `ids` are accepted or set aside: one progress event for them all.
    fn handled(&mut self, ids: impl IntoIterator<Item = RecordId>) {
        for id in ids {
            self.handled.insert(id);
            self.done += 1;
        }
        (self.progress)(Progress {
            phase: Phase::Push,
            done: self.done,
            expected: self.expected.max(self.done),
        });
    }
}

impl CaseFile {
    /// Pushes the local changes above the push cursor, batch by batch, then the records
    /// set aside by earlier syncs. Stops early, with [`PushRun::new_epoch`] set, when the
    /// server names a new epoch.
    pub(crate) fn push_all(&mut self, run: &mut PushRun<'_>) -> Result<(), SyncError> {
        loop {
            run.check()?;
            let pending = self.pending_push(MAX_BATCH_RECORDS)?;
            if pending.is_empty() {
                break;
            }
            // The longest prefix that fits one push; a state too large to send at all is
            // set aside in passing. The cursor then moves past the whole prefix.
            let mut batch = Batch::new();
            let mut through = 0;
            for pending in pending {
                let item = Outgoing::new(&pending.state);
                if !item.fits_alone() {
                    self.too_large(run, &item)?;
                } else if batch.has_room_for(&item, MAX_BATCH_RECORDS) {
                    batch.add(item);
                } else {
                    break;
                }
                through = pending.seq;
            }
            self.push_batch(run, batch.take(), Some(through))?;
            if run.new_epoch {
                // The cursors went back to 0: this batch is sent again with the rest.
                return Ok(());
            }
            self.mark_pushed(through)?;
        }

        // Records the server holds apart (§6a) come back in full batches: it answers them
        // all `held` at once. Records it refused come 16 at a time: it names one refusal
        // per answer.
        let waiting: Vec<(RecordId, bool)> = self
            .set_aside_to_send()?
            .into_iter()
            .filter(|(id, _)| !run.handled.contains(id))
            .collect();
        let mut batch = Batch::new();
        let mut held_batch = true;
        for (id, held) in waiting {
            let state = match load(&self.conn, id)? {
                Some(state) if !state.is_erased() => state,
                // Erased or gone: nothing is left to send.
                _ => {
                    set_aside::accepted(&self.conn, id)?;
                    continue;
                }
            };
            let item = Outgoing::new(&state);
            if !item.fits_alone() {
                self.too_large(run, &item)?;
                continue;
            }
            let limit = if held {
                MAX_BATCH_RECORDS
            } else {
                RETRY_BATCH_RECORDS
            };
            if held != held_batch || !batch.has_room_for(&item, limit) {
                self.push_batch(run, batch.take(), None)?;
                if run.new_epoch {
                    return Ok(());
                }
            }
            held_batch = held;
            batch.add(item);
        }
        self.push_batch(run, batch.take(), None)
    }

    /// Sends `items`, setting aside each record the server refuses, until every one is
    /// accepted or set aside. A refusal naming one of them sets it aside and sends the
    /// rest again; one that names none (422), or a 413, halves the batch, and a single
    /// record refused so is set aside. Any other refusal is the sync's error. Each request
    /// declares `through` when given (new changes; not the records sent again).
    fn push_batch(
        &mut self,
        run: &mut PushRun<'_>,
        items: Vec<Outgoing>,
        through: Option<u64>,
    ) -> Result<(), SyncError> {
        let mut groups = vec![items];
        while let Some(mut group) = groups.pop() {
            while !group.is_empty() {
                run.check()?;
                let body = gzip(&push_body(&group, through))?;
                let http = run.http;
                let response = http.send(|c| {
                    c.post(http.url("/v1/push"))
                        .header(CONTENT_TYPE, "application/json")
                        .header(CONTENT_ENCODING, "gzip")
                        .body(body.clone())
                })?;
                let refusal = match Http::answer::<PushAnswer>(response)? {
                    Ok(answer) => {
                        self.acknowledged(run, &group, &answer, through)?;
                        break;
                    }
                    Err(refusal) => refusal,
                };
                let named = refusal
                    .record()
                    .and_then(|id| group.iter().position(|item| item.id == id));
                match (refusal.status, named) {
                    (422, Some(at)) => {
                        let item = group.remove(at);
                        self.refused(run, &item, &refusal)?;
                    }
                    (413 | 422, _) if group.len() == 1 => {
                        let item = group.remove(0);
                        self.refused(run, &item, &refusal)?;
                    }
                    (413 | 422, _) => {
                        info!(
                            records = group.len(),
                            status = refusal.status,
                            "a refused batch is halved"
                        );
                        let second = group.split_off(group.len() / 2);
                        groups.push(second);
                        groups.push(group);
                        break;
                    }
                    _ => return Err(refusal.into_error()),
                }
            }
        }
        Ok(())
    }

    /// The server accepted `group`: its records leave the set-aside list, except those it
    /// holds apart (§6a), and the case file keeps `through` as acknowledged. An answer
    /// naming a new epoch sets everything to be sent again first, in the same transaction.
    fn acknowledged(
        &mut self,
        run: &mut PushRun<'_>,
        group: &[Outgoing],
        answer: &PushAnswer,
        through: Option<u64>,
    ) -> Result<(), SyncError> {
        let held: HashSet<RecordId> = answer
            .results
            .iter()
            .filter(|r| r.status == HELD)
            .map(|r| r.id)
            .collect();
        let new_epoch = self.write(|tx| {
            let new_epoch = match answer.epoch {
                Some(epoch) => note_epoch(tx, epoch)?,
                None => false,
            };
            if let Some(through) = through {
                acknowledged_through(tx, through)?;
            }
            for item in group {
                if held.contains(&item.id) {
                    set_aside::set_aside_local(
                        tx,
                        item.id,
                        &item.kind,
                        HELD,
                        "the server holds this record apart until the devices that made its \
                         edits have synced (the server was restored from a backup): it is sent \
                         again at each sync",
                    )?;
                } else {
                    set_aside::accepted(tx, item.id)?;
                }
            }
            Ok(new_epoch)
        })?;
        run.new_epoch |= new_epoch;
        run.server_seq = run.server_seq.max(answer.server_seq);
        run.accepted +=
            (group.len() - group.iter().filter(|i| held.contains(&i.id)).count()) as u64;
        info!(records = group.len(), held = held.len(), "pushed a batch");
        run.handled(group.iter().map(|item| item.id));
        Ok(())
    }

    /// The server refused `item`: it is set aside with the server's code and sentence.
    fn refused(
        &mut self,
        run: &mut PushRun<'_>,
        item: &Outgoing,
        refusal: &Refusal,
    ) -> Result<(), SyncError> {
        let code = refusal.code();
        warn!(id = %item.id, code, "the server refused a record: set aside");
        set_aside::set_aside_local(&self.conn, item.id, &item.kind, code, &refusal.message())?;
        run.handled([item.id]);
        Ok(())
    }

    /// `item` is larger than one push may carry: it is set aside, not sent.
    fn too_large(&mut self, run: &mut PushRun<'_>, item: &Outgoing) -> Result<(), SyncError> {
        warn!(id = %item.id, bytes = item.json.len(), "a record too large to send: set aside");
        let message = format!(
            "this record is {} bytes, more than the {MAX_BATCH_BYTES} bytes one sync request \
             may carry: it stays on this device, unsent, until its longest texts are \
             shortened; report it to your IT person",
            item.json.len()
        );
        set_aside::set_aside_local(&self.conn, item.id, &item.kind, TOO_LARGE, &message)?;
        run.handled([item.id]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sync_protocol::wire::{PushRequest, PushStatus};

    use super::*;

    #[test]
    fn the_held_status_is_read_as_the_wire_writes_it() {
        assert_eq!(
            serde_json::to_value(PushStatus::Held).unwrap(),
            serde_json::json!(HELD),
            "a held record is recognised by the status the server writes"
        );
    }

    #[test]
    fn a_push_body_declares_through_only_when_given_and_fits_the_overhead() {
        let id: RecordId = "0190a000-0000-7000-8000-000000000001".parse().unwrap();
        let state = RecordState::create(
            id,
            "person".parse().unwrap(),
            "0190a000-0000-7000-8000-0000000000a1".parse().unwrap(),
            "2026-11-02T10:14:00Z".parse().unwrap(),
            [("family_name".parse().unwrap(), serde_json::json!("Popa"))],
        )
        .unwrap();
        let items = [Outgoing::new(&state)];
        let with: PushRequest = serde_json::from_str(&push_body(&items, Some(u64::MAX))).unwrap();
        assert_eq!(with.through, Some(u64::MAX));
        assert_eq!(with.records, std::slice::from_ref(&state));
        assert!(push_body(&items, Some(u64::MAX)).len() <= BODY_OVERHEAD + items[0].json.len());
        let without: PushRequest = serde_json::from_str(&push_body(&items, None)).unwrap();
        assert_eq!(without.through, None, "records sent again declare nothing");
    }
}
