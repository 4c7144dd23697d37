//! Checking a local change against the kind's schema and the case file: field names,
//! value shapes, required fields, references. A refused change names the field and what
//! it expects, never the value.

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;
use sync_protocol::{FieldName, RecordId};

use crate::error::{Error, Result};
use crate::schema::{self, FieldType, KindSpec};

/// Whether the change creates the record or edits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Edit,
    /// The creation of an attachment by `CaseFile::attach`, which stores its bytes: the
    /// one way to create that kind.
    Attach,
}

/// The fields of an attachment that name its bytes: set once, by `CaseFile::attach`.
const ATTACHMENT_BYTES_FIELDS: [&str; 3] = ["sha256", "size", "media_type"];

/// The schema of a kind that may be written locally.
pub(crate) fn known_kind(kind: &str) -> Result<&'static KindSpec> {
    schema::kind(kind).ok_or_else(|| {
        let names: Vec<&str> = schema::KINDS.iter().map(|k| k.kind).collect();
        Error::invalid("kind", format!("one of {}", names.join(", ")))
    })
}

/// Checks `changes` for a record of `spec` and answers them as protocol fields. On
/// creation, null values are dropped, defaults added and required fields demanded.
pub(crate) fn changes(
    conn: &Connection,
    spec: &KindSpec,
    changes: Vec<(String, Value)>,
    mode: Mode,
    this: Option<RecordId>,
) -> Result<Vec<(FieldName, Value)>> {
    if mode == Mode::Create && spec.kind == sync_protocol::organisation::SETTINGS_KIND {
        return Err(Error::invalid(
            "kind",
            "another kind: the organisation's settings are one record with a fixed id, \
             created and changed with `organisation --set FIELD=VALUE` \
             (CaseFile::set_organisation), never added",
        ));
    }
    if mode == Mode::Create && spec.kind == sync_protocol::blobs::ATTACHMENT_KIND {
        return Err(Error::invalid(
            "kind",
            "another kind: a document is added with its file, by `attach PERSON_ID FILE` \
             (CaseFile::attach), never by `add`",
        ));
    }
    let mode = if mode == Mode::Attach {
        Mode::Create
    } else {
        mode
    };
    let mut out: Vec<(FieldName, Value)> = Vec::with_capacity(changes.len());
    for (name, value) in changes {
        if mode == Mode::Edit
            && spec.kind == sync_protocol::blobs::ATTACHMENT_KIND
            && ATTACHMENT_BYTES_FIELDS.contains(&name.as_str())
        {
            return Err(Error::invalid(
                name,
                "no change: a document's file never changes once attached; attach the new \
                 file as another document",
            ));
        }
        let field_name: FieldName = name.parse().map_err(|_| {
            Error::invalid(
                name.clone(),
                "a field name of lowercase letters, digits and _ (see the kind's fields)",
            )
        })?;
        if name.starts_with('_') {
            return Err(Error::invalid(
                name,
                "no value: it is written only by delete and restore",
            ));
        }
        if sync_protocol::merges::combined_field(&name) {
            return Err(Error::invalid(
                name,
                "no value: it is written only by merge and not-duplicates",
            ));
        }
        match spec.field(&name) {
            Some(field) => {
                if value.is_null() {
                    if field.required {
                        return Err(Error::invalid(name, "a value: it is required"));
                    }
                } else if !field.accepts(&value) {
                    return Err(Error::invalid(name, field.expected()));
                } else {
                    check_reference(conn, &name, field.ty, &value, this)?;
                }
            }
            None if schema::is_extension(&name) => {
                if !(value.is_string() || value.is_null()) {
                    return Err(Error::invalid(name, "text (x_ fields hold text)"));
                }
            }
            None => {
                let names: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
                return Err(Error::invalid(
                    name,
                    format!(
                        "a field of a {}: one of {}, or x_… for a free text field",
                        spec.kind,
                        names.join(", ")
                    ),
                ));
            }
        }
        out.retain(|(n, _)| n != &field_name);
        out.push((field_name, value));
    }
    if mode == Mode::Create {
        out.retain(|(_, v)| !v.is_null());
        for (name, value) in spec.defaults {
            if !out.iter().any(|(n, _)| n.as_str() == *name) {
                let field: FieldName = name
                    .parse()
                    .map_err(|_| Error::invalid(*name, "a valid default"))?;
                out.push((field, Value::String((*value).to_owned())));
            }
        }
        for field in spec.fields.iter().filter(|f| f.required) {
            if !out.iter().any(|(n, _)| n.as_str() == field.name) {
                return Err(Error::invalid(field.name, "a value: it is required"));
            }
        }
    } else if out.is_empty() {
        return Err(Error::invalid("fields", "at least one field to change"));
    }
    if spec.kind == "situation" {
        one_situation_per_person(conn, &out, this)?;
    }
    Ok(out)
}

fn check_reference(
    conn: &Connection,
    name: &str,
    ty: FieldType,
    value: &Value,
    this: Option<RecordId>,
) -> Result<()> {
    let (kind, ids): (&str, Vec<&str>) = match (ty, value) {
        (FieldType::Ref(kind), Value::String(id)) => (kind, vec![id.as_str()]),
        (FieldType::RefList(kind), Value::Array(items)) => {
            (kind, items.iter().filter_map(Value::as_str).collect())
        }
        _ => return Ok(()),
    };
    let expected = || ty.expected();
    for id in ids {
        if this.is_some_and(|t| t.to_string() == id) {
            return Err(Error::invalid(
                name,
                format!("{} other than itself", expected()),
            ));
        }
        let found: Option<(String, bool, bool)> = conn
            .prepare_cached("SELECT kind, deleted, erased FROM records WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        match found {
            Some((k, false, false)) if k == kind => {}
            _ => return Err(Error::invalid(name, expected())),
        }
    }
    Ok(())
}

fn one_situation_per_person(
    conn: &Connection,
    fields: &[(FieldName, Value)],
    this: Option<RecordId>,
) -> Result<()> {
    let person = fields
        .iter()
        .find(|(n, _)| n.as_str() == "person_id")
        .and_then(|(_, v)| v.as_str());
    if let Some(person) = person {
        let taken: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM situation WHERE person_id = ?1 AND id IS NOT ?2)",
            )?
            .query_row(
                rusqlite::params![person, this.map(|t| t.to_string())],
                |r| r.get(0),
            )?;
        if taken {
            return Err(Error::invalid(
                "person_id",
                "a person with no situation yet (one situation per person: edit the existing one)",
            ));
        }
    }
    Ok(())
}
