//! The organisation's settings as the case file reads and writes them.
//!
//! The settings are one record of kind `organisation` whose id is the well-known
//! [`SETTINGS_ID`], the same in every organisation (see `sync_protocol::organisation`):
//! any device may write it, offline too, and edits merge field by field like any other.
//! The information notice and the access export are filled from it, the retention of
//! closed files is read from it ([`crate::retention`]), and the printed sheets take the
//! organisation's name from it.
//!
//! The generic create refuses the kind (its id is fixed): [`CaseFile::set_organisation`]
//! creates the record the first time and edits it afterwards.

use serde::Serialize;
use serde_json::Value;
use sync_protocol::RecordState;
use sync_protocol::organisation::{SETTINGS_ID, SETTINGS_KIND, retention_months};
use tracing::info_span;

use crate::check::{self, Mode};
use crate::error::{Error, Result};
use crate::export::text;
use crate::records::{edit_in, load, now, save};
use crate::store::CaseFile;

/// The organisation's settings, read for people: each text `None` when not set (a
/// conflict's values joined with ` / `), the retention always known (the default when
/// not set).
#[derive(Debug, Clone, Serialize)]
pub struct Organisation {
    /// The organisation's name: the settings' `name`, else the name the case file was
    /// given on this device or the organisation it is enrolled with.
    pub name: Option<String>,
    /// Its postal address.
    pub address: Option<String>,
    /// How to reach it (phone, e-mail).
    pub contact: Option<String>,
    /// Its data protection contact (a DPO, or the person in charge).
    pub dpo_contact: Option<String>,
    /// Why the case files are kept.
    pub purposes: Option<String>,
    /// Who receives data from them.
    pub recipients: Option<String>,
    /// Months a person's file is kept after it is closed (1 to 240; 24 when not set).
    pub retention_months: u32,
}

impl CaseFile {
    /// The organisation's settings, from the record [`SETTINGS_ID`] (absent, deleted or
    /// erased: every text unset and the default retention).
    pub fn organisation(&self) -> Result<Organisation> {
        let _span = info_span!("casefile.organisation").entered();
        let settings = self.settings_record()?;
        let field = |name: &str| {
            settings
                .as_ref()
                .map(|s| text(s, name))
                .filter(|t| !t.trim().is_empty())
        };
        let name = match field("name") {
            Some(name) => Some(name),
            None => self.name_on_this_device()?,
        };
        Ok(Organisation {
            name,
            address: field("address"),
            contact: field("contact"),
            dpo_contact: field("dpo_contact"),
            purposes: field("purposes"),
            recipients: field("recipients"),
            retention_months: retention_months(settings.as_ref()),
        })
    }

    /// Sets fields of the organisation's settings (one local edit; a null value clears
    /// a field): creates the record with its well-known id when the case file has none,
    /// else edits it (restoring it first if it was deleted). Checked like any edit.
    ///
    /// Errors: [`Error::Invalid`] naming the first field that does not fit (a
    /// `retention_months` that is not a whole number from 1 to 240, a field the
    /// settings do not have), or `fields` when there is nothing to set.
    pub fn set_organisation(&mut self, changes: Vec<(String, Value)>) -> Result<()> {
        let _span = info_span!("casefile.set_organisation").entered();
        let replica = self.replica_id();
        self.write(|tx| {
            let spec = check::known_kind(SETTINGS_KIND)?;
            match load(tx, SETTINGS_ID)? {
                Some(state) if state.kind().as_str() != SETTINGS_KIND => Err(Error::invalid(
                    "kind",
                    "the organisation's settings: another record holds their id",
                )),
                Some(state) if state.is_erased() => Err(Error::NotFound(SETTINGS_ID)),
                Some(state) => {
                    if state.is_deleted() {
                        let mut state = state;
                        state.restore(replica, now())?;
                        save(tx, &state, true, false)?;
                    }
                    edit_in(tx, replica, SETTINGS_ID, changes)
                }
                None => {
                    let mut fields =
                        check::changes(tx, spec, changes, Mode::Edit, Some(SETTINGS_ID))?;
                    fields.retain(|(_, value)| !value.is_null());
                    if fields.is_empty() {
                        return Err(Error::invalid("fields", "at least one field to set"));
                    }
                    let kind = SETTINGS_KIND
                        .parse()
                        .map_err(|_| Error::invalid("kind", "a known kind"))?;
                    let state = RecordState::create(SETTINGS_ID, kind, replica, now(), fields)?;
                    save(tx, &state, true, true)
                }
            }
        })
    }

    /// The settings record when the case file holds it live.
    pub(crate) fn settings_record(&self) -> Result<Option<RecordState>> {
        Ok(load(&self.conn, SETTINGS_ID)?
            .filter(|s| s.kind().as_str() == SETTINGS_KIND && !s.is_erased() && !s.is_deleted()))
    }
}
