//! `passerelle-cli`: the command line over the `casefile` library and its `documents`,
//! for the organisation's IT person, for support and for end-to-end tests (CLI.md).
//! Output is meant for scripts: ids, JSON lines, or nothing; errors go to standard error
//! as one sentence, with a non-zero exit.

#![forbid(unsafe_code)]

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use casefile::schema::{self, FieldType};
use casefile::sync_protocol::RecordId;
use casefile::{CaseFile, Eviction, KdfParams, PersonFilter};
use clap::{Parser, Subcommand};
use serde_json::Value;

/// Passerelle's case file, from the command line.
#[derive(Debug, Parser)]
#[command(name = "passerelle-cli", version)]
struct Cli {
    /// The case file.
    #[arg(long, env = "PASSERELLE_CASE_FILE")]
    case_file: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a new encrypted case file and its replica id; prints the replica id.
    Init {
        /// Cheap key derivation, for automated tests only: it protects nothing. Only in
        /// test builds (feature `insecure-test-kdf`); other builds refuse it.
        #[arg(long, hide = true)]
        insecure_kdf_for_tests: bool,
    },
    /// Creates a record (one local edit); prints its id.
    Add {
        /// The record kind (person, site, visit, …).
        kind: String,
        /// FIELD=VALUE, repeated.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Changes fields of a record (one local edit).
    Edit {
        /// The record.
        id: String,
        /// FIELD=VALUE, repeated; an empty VALUE clears the field.
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        set: Vec<String>,
    },
    /// Deletes a record; on a record deleted while edited elsewhere, confirms the deletion.
    Delete {
        /// The record.
        id: String,
    },
    /// Restores a deleted record; on a record deleted while edited elsewhere, keeps the
    /// edits.
    Restore {
        /// The record.
        id: String,
    },
    /// Prints a record's state (JSON).
    Show {
        /// The record.
        id: String,
    },
    /// Prints the records of a kind that are not deleted (JSON lines).
    List {
        /// The record kind.
        kind: String,
    },
    /// Prints the persons matching every word of TEXT, best first (JSON lines).
    Search {
        /// Words of names, aliases or phone.
        text: String,
        /// At most this many persons.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Prints possible duplicate persons, best first, as JSON lines
    /// `{"a", "b", "score", "reasons"}`: of one person, or of the whole file.
    Duplicates {
        /// Only the possible duplicates of this person.
        #[arg(long = "of", value_name = "PERSON_ID")]
        of: Option<String>,
    },
    /// Merges the person OTHER_ID into KEEP_ID: OTHER_ID gets its tombstone (`merged_into`)
    /// and every reference to it is read as KEEP_ID.
    Merge {
        /// The file that stays.
        keep_id: String,
        /// The file merged into it.
        other_id: String,
        /// FIELD=VALUE, repeated: what the file that stays keeps (as `edit` takes it).
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Records that two persons are different people: they are no longer listed as
    /// possible duplicates.
    NotDuplicates {
        /// One person.
        a_id: String,
        /// The other.
        b_id: String,
    },
    /// Prints the records needing a person's choice (JSON lines).
    Conflicts,
    /// Resolves a conflict: the value supersedes every entry of the field.
    Resolve {
        /// The record.
        id: String,
        /// The field.
        field: String,
        /// The chosen or new value, as JSON (a text in quotes).
        #[arg(long)]
        value: String,
    },
    /// Prints a person's file, most recent first (JSON).
    Timeline {
        /// The person.
        id: String,
    },
    /// Prints the day's plan: visits due, steps due and overdue (JSON).
    Today {
        /// The day, YYYY-MM-DD (default: today, UTC).
        #[arg(long)]
        on: Option<String>,
    },
    /// Prints the sites with their counts (JSON lines).
    Sites,
    /// Prints the persons of a site, household or status (JSON lines).
    Persons {
        /// Persons living on this site now.
        #[arg(long, conflicts_with_all = ["household", "status"])]
        site: Option<String>,
        /// Members of this household.
        #[arg(long, conflicts_with = "status")]
        household: Option<String>,
        /// Persons of this status.
        #[arg(long)]
        status: Option<String>,
    },
    /// Marks a site evicted and moves households and persons to another site.
    Evict {
        /// The evicted site.
        site: String,
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        on: String,
        /// Where they now live.
        #[arg(long)]
        to: String,
        /// A household that moves, repeated.
        #[arg(long = "household")]
        households: Vec<String>,
        /// A person who moves, repeated.
        #[arg(long = "person")]
        persons: Vec<String>,
    },
    /// Prints a record's entries with who and when (JSON lines).
    History {
        /// The record.
        id: String,
    },
    /// Registers this case file's replica with a server (the password from
    /// PASSERELLE_PASSWORD, else asked); prints the device id.
    Enrol {
        /// The server, `https://…` (plain `http://` only for this machine).
        #[arg(long)]
        server: String,
        /// The user's name on the server.
        #[arg(long)]
        username: String,
        /// A name people recognise this device by.
        #[arg(long)]
        device_name: String,
        /// The one-time enrolment code a coordinator issued for this user
        /// (`passerelle-server device invite`).
        #[arg(long, env = "PASSERELLE_ENROLMENT_CODE", hide_env_values = true)]
        code: String,
    },
    /// Pushes local changes, then pulls until nothing is left; prints
    /// `{"pushed", "pulled", "conflicts", "set_aside"}`. Exits 0 when the sync ran to its
    /// end, even with records set aside (listed by `set-aside`). Progress goes to standard
    /// error when it is a terminal.
    Sync,
    /// Prints the records kept out of the last syncs, one JSON line each:
    /// `{"id", "kind", "why", "message"}`.
    SetAside,
    /// Asks the server to erase a person and every record about them alone (coordinators
    /// only; SYNC-PROTOCOL.md §5); prints the server's answer on one JSON line:
    /// `{"server_seq", "dry_run", "erased", "kept"}`. This case file learns of it at its
    /// next sync.
    ErasePerson {
        /// The person.
        person_id: String,
        /// Only print what would go: nothing is erased.
        #[arg(long)]
        dry_run: bool,
    },
    /// Changes the passphrase (the new one from PASSERELLE_NEW_PASSPHRASE, else asked).
    ChangePassphrase,
    /// Recomputes the derived tables from the record states.
    Rebuild,
    /// Writes an export to a file: the visit sheet or a person's sheet (PDF), a CV (PDF),
    /// a person's bilingual copy of a visit or appointment slip (PDF), a kind (CSV), a
    /// period (XLSX), everything held about a person (JSON and PDF), or the information
    /// notice (PDF).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Adds a document or photo to a person's file; prints the attachment's id. A photo
    /// (JPEG, PNG, WebP) is reduced to 2 megapixels JPEG unless --keep-original; a PDF is
    /// kept as it is; at most 20 MiB.
    Attach {
        /// The person.
        person_id: String,
        /// The file.
        file: PathBuf,
        /// Its title (default: the file's name).
        #[arg(long)]
        title: Option<String>,
        /// identity, cv, france_travail, payslip, training, housing, health or other.
        #[arg(long, default_value = "other")]
        category: String,
        /// The day it was taken or received, YYYY-MM-DD.
        #[arg(long)]
        taken_on: Option<String>,
        /// The visit it was taken at.
        #[arg(long)]
        visit: Option<String>,
        /// The step it belongs to.
        #[arg(long)]
        step: Option<String>,
        /// Keep a photo as it is, not reduced.
        #[arg(long)]
        keep_original: bool,
    },
    /// An attachment's document.
    #[command(subcommand)]
    Attachment(AttachmentCommand),
    /// Prints the organisation's settings (JSON); with --set, changes them (one local
    /// edit, synced like any other) and prints nothing.
    Organisation {
        /// FIELD=VALUE, repeated: name, address, contact, dpo_contact, purposes,
        /// recipients, retention_months (a whole number of months, 1 to 240); an empty
        /// VALUE clears the field.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Prints the persons whose file is past its retention (closed longer ago than the
    /// organisation keeps files, with no reason to keep it recorded until then), the
    /// longest overdue first, one JSON line each:
    /// `{"id", "closed_on", "kept_until", "family_name", "given_names"}`.
    Retention {
        /// The day, YYYY-MM-DD (default: today, UTC).
        #[arg(long)]
        today: Option<String>,
    },
    /// Prints the indicators of a period as one JSON object (dates inclusive, in the
    /// organisation's time zone: the setting `time_zone`, else Europe/Paris).
    Report {
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
enum AttachmentCommand {
    /// Writes an attachment's bytes to FILE, fetched from the server first when this
    /// device does not hold them (and is enrolled and online).
    Get {
        /// The attachment.
        id: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// The visit sheet (fiche de visite) of a visit, as PDF.
    VisitSheet {
        /// The visit.
        visit_id: String,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// A person's summary sheet (their file on about two pages), as PDF.
    Person {
        /// The person.
        person_id: String,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// A person's CV (one or two A4 pages, in French), as PDF: their CV record as a
    /// counsellor prepared it or, if none, what their file proposes (without languages).
    /// Nothing about origin, papers or health is ever on it.
    Cv {
        /// The person.
        person_id: String,
        /// Leaves out the name and the contact ("Candidat·e" instead).
        #[arg(long)]
        anonymised: bool,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// One person's copy of a visit, in French and, side by side, Romanian or Bulgarian,
    /// as PDF: the steps decided for them alone, their dates, the next visit and how to
    /// reach the organisation; never another person's name or steps.
    VisitCopy {
        /// The visit.
        visit_id: String,
        /// The person met at the visit whose copy it is.
        #[arg(long = "person", value_name = "PERSON_ID")]
        person_id: String,
        /// The language beside French: ro (Romanian) or bg (Bulgarian). Without it, the
        /// first of the two the person's languages name; an error when they name neither.
        #[arg(long, value_parser = ["ro", "bg"])]
        lang: Option<String>,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// An appointment slip for a step (France Travail, a training body…), in French and,
    /// side by side, Romanian or Bulgarian, as PDF; time, place and what to bring are
    /// left to fill by hand.
    StepSlip {
        /// The step.
        step_id: String,
        /// The language beside French: ro (Romanian) or bg (Bulgarian). Without it, the
        /// first of the two the step's person's languages name; an error when they name
        /// neither.
        #[arg(long, value_parser = ["ro", "bg"])]
        lang: Option<String>,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// One kind as CSV: UTF-8 with BOM, `;`, CRLF, a header of field names with `id`
    /// first, one row per record that is not deleted, numbers with a dot. With
    /// `--labels fr`: French headers and labels, decimal comma, dates as dd/mm/yyyy,
    /// times in the organisation's zone, names in place of ids, ids last.
    Csv {
        /// The record kind (person, visit, step, …).
        kind: String,
        /// The CSV file to write.
        #[arg(long)]
        out: PathBuf,
        /// Headers, labels and numbers for people, in this language (only `fr`).
        #[arg(long, value_parser = ["fr"])]
        labels: Option<String>,
    },
    /// A period as an XLSX workbook: persons followed, visits, steps, jobs, trainings,
    /// and the indicators.
    Xlsx {
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// The XLSX file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Everything held about a person, for an access request (GDPR article 15), other
    /// people's data left out: writes DIR/access-PERSON_ID.json, DIR/access-PERSON_ID.pdf
    /// and, when their file holds documents, DIR/access-PERSON_ID-documents.zip (fetched
    /// first if this device lacks them). Sync first: the export holds what this case file
    /// holds.
    Access {
        /// The person.
        person_id: String,
        /// The directory to write into (created if missing).
        #[arg(long = "out", visible_alias = "out-dir", value_name = "DIR")]
        out_dir: PathBuf,
    },
    /// The information notice (GDPR articles 13 and 14), filled from the organisation's
    /// settings, as PDF.
    Notice {
        /// The language: fr (French), ro (Romanian) or bg (Bulgarian).
        #[arg(long, value_parser = ["fr", "ro", "bg"])]
        lang: String,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let path = cli.case_file.as_path();
    let mut out = std::io::stdout().lock();
    if let Command::Init {
        insecure_kdf_for_tests,
    } = cli.command
    {
        let kdf = init_kdf(insecure_kdf_for_tests)?;
        let passphrase = passphrase("PASSERELLE_PASSPHRASE", "New passphrase: ")?;
        let file = CaseFile::init_with(path, &passphrase, kdf)
            .with_context(|| format!("could not create the case file at {}", path.display()))?;
        writeln!(out, "{}", file.replica_id())?;
        return Ok(());
    }
    let mut file = open(path)?;
    match cli.command {
        Command::Init { .. } => {}
        Command::Add { kind, set } => {
            let fields = parse_sets(&kind, &set)?;
            let candidates = if kind == "person" {
                file.candidates(&fields, 10)?
            } else {
                Vec::new()
            };
            let id = file
                .create(&kind, fields)
                .context("the record was not created")?;
            writeln!(out, "{id}")?;
            // Created all the same; the possible duplicates go to standard error.
            let mut err = std::io::stderr().lock();
            for c in candidates {
                let line = serde_json::json!({
                    "a": id, "b": c.person.id(), "score": c.score, "reasons": c.reasons,
                });
                writeln!(err, "{line}")?;
            }
        }
        Command::Duplicates { of } => {
            let of = of.as_deref().map(record_id).transpose()?;
            for pair in file.duplicates(of)? {
                writeln!(out, "{}", serde_json::to_string(&pair)?)?;
            }
        }
        Command::Merge {
            keep_id,
            other_id,
            set,
        } => {
            let fields = parse_sets("person", &set)?;
            file.merge_persons(record_id(&keep_id)?, record_id(&other_id)?, fields)
                .context("the persons were not merged")?;
        }
        Command::Attach {
            person_id,
            file: path,
            title,
            category,
            taken_on,
            visit,
            step,
            keep_original,
        } => {
            // Nothing larger than the case file would take is read into memory: a photo
            // to reduce may be larger than what is kept, an original kept as it is not.
            let size = std::fs::metadata(&path)
                .with_context(|| format!("could not read {}", path.display()))?
                .len();
            let most = if keep_original {
                casefile::sync_protocol::blobs::MAX_BLOB_BYTES
            } else {
                casefile::attachments::MAX_INPUT_BYTES as u64
            };
            if size > most {
                bail!(
                    "{} is {:.1} MiB: a document may be at most {} MiB",
                    path.display(),
                    size as f64 / 1_048_576.0,
                    most >> 20
                );
            }
            let bytes = std::fs::read(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let title = title
                .or_else(|| path.file_stem().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "Document".into());
            let new = casefile::NewAttachment {
                person_id: Some(record_id(&person_id)?),
                visit_id: visit.as_deref().map(record_id).transpose()?,
                step_id: step.as_deref().map(record_id).transpose()?,
                title,
                category,
                taken_on,
                file_name,
                keep_original,
            };
            let id = file
                .attach(&new, &bytes)
                .context("the document was not attached")?;
            writeln!(out, "{id}")?;
        }
        Command::Attachment(AttachmentCommand::Get { id, out: path }) => {
            let cancel = std::sync::atomic::AtomicBool::new(false);
            let bytes = file
                .fetch_attachment(record_id(&id)?, &cancel)
                .context("the document was not written")?;
            write_whole(&path, &bytes)?;
        }
        Command::NotDuplicates { a_id, b_id } => {
            file.mark_not_duplicates(record_id(&a_id)?, record_id(&b_id)?)
                .context("the pair was not recorded")?;
        }
        Command::Edit { id, set } => {
            let id = record_id(&id)?;
            let kind = file.get(id)?.kind().to_string();
            let fields = parse_sets(&kind, &set)?;
            file.edit(id, fields)
                .context("the record was not changed")?;
        }
        Command::Delete { id } => file.delete(record_id(&id)?)?,
        Command::Restore { id } => file.restore(record_id(&id)?)?,
        Command::Show { id } => writeln!(out, "{}", file.get(record_id(&id)?)?.to_json())?,
        Command::List { kind } => {
            for state in file.list(&kind)? {
                writeln!(out, "{}", state.to_json())?;
            }
        }
        Command::Search { text, limit } => {
            for state in file.search(&text, limit)? {
                writeln!(out, "{}", state.to_json())?;
            }
        }
        Command::Conflicts => {
            for conflict in file.conflicts()? {
                writeln!(out, "{}", serde_json::to_string(&conflict)?)?;
            }
        }
        Command::Resolve { id, field, value } => {
            let value: Value = serde_json::from_str(&value).map_err(|_| {
                anyhow!("--value expects JSON: a text is written in quotes, such as '\"Ștefan\"'")
            })?;
            file.resolve(record_id(&id)?, &field, value)
                .context("the conflict was not resolved")?;
        }
        Command::Timeline { id } => {
            let timeline = file.timeline(record_id(&id)?)?;
            writeln!(out, "{}", serde_json::to_string(&timeline)?)?;
        }
        Command::Today { on } => {
            let on = match on {
                Some(on) => on,
                None => chrono::Utc::now().date_naive().to_string(),
            };
            writeln!(out, "{}", serde_json::to_string(&file.today(&on)?)?)?;
        }
        Command::Sites => {
            for site in file.sites()? {
                writeln!(out, "{}", serde_json::to_string(&site)?)?;
            }
        }
        Command::Persons {
            site,
            household,
            status,
        } => {
            let filter = match (&site, &household, &status) {
                (Some(site), _, _) => PersonFilter::Site(record_id(site)?),
                (_, Some(household), _) => PersonFilter::Household(record_id(household)?),
                (_, _, Some(status)) => PersonFilter::Status(status),
                _ => bail!("say which persons: --site ID, --household ID or --status STATUS"),
            };
            for state in file.persons(filter)? {
                writeln!(out, "{}", state.to_json())?;
            }
        }
        Command::Evict {
            site,
            on,
            to,
            households,
            persons,
        } => {
            let eviction = Eviction {
                site: record_id(&site)?,
                on,
                to_site: record_id(&to)?,
                households: households
                    .iter()
                    .map(|h| record_id(h))
                    .collect::<Result<_>>()?,
                persons: persons
                    .iter()
                    .map(|p| record_id(p))
                    .collect::<Result<_>>()?,
            };
            file.evict(&eviction)
                .context("the eviction was not recorded")?;
        }
        Command::History { id } => {
            for entry in file.history(record_id(&id)?)? {
                writeln!(out, "{}", serde_json::to_string(&entry)?)?;
            }
        }
        Command::ChangePassphrase => {
            let new = passphrase("PASSERELLE_NEW_PASSPHRASE", "New passphrase: ")?;
            file.change_passphrase(&new)
                .context("the passphrase was not changed")?;
        }
        Command::Rebuild => file.rebuild()?,
        Command::Enrol {
            server,
            username,
            device_name,
            code,
        } => {
            let password = passphrase("PASSERELLE_PASSWORD", "Server password: ")?;
            let device = file.enrol(&server, &username, &password, &code, &device_name)?;
            writeln!(out, "{device}")?;
        }
        Command::Sync => {
            let cancel = std::sync::atomic::AtomicBool::new(false);
            let terminal = std::io::stderr().is_terminal();
            let mut progress = |p: casefile::Progress| {
                if terminal {
                    eprint!("\r{:?}: {} / {}   ", p.phase, p.done, p.expected);
                }
            };
            let report = match file.sync(&mut progress, &cancel) {
                Err(casefile::SyncError::DeviceRevoked) => {
                    // SYNC-PROTOCOL.md §6: a revoked device destroys its case file.
                    file.destroy()?;
                    bail!(
                        "a coordinator revoked this device: its case file was destroyed \
                         (key, data and exports); ask your coordinator before using \
                         Passerelle on it again"
                    );
                }
                other => other?,
            };
            // The documents after the records: the records are kept whatever happens here.
            let mut documents = |p: casefile::DocumentsProgress| {
                if terminal {
                    eprint!(
                        "\rdocuments: sent {} / {}, received {} / {} bytes   ",
                        p.sent, p.to_send, p.received, p.to_receive
                    );
                }
            };
            let documents = file.sync_documents(&mut documents, &cancel);
            if terminal {
                eprintln!();
            }
            let mut line = serde_json::to_value(report)?;
            let documents = match documents {
                Ok(documents) => documents,
                Err(error) => {
                    writeln!(out, "{line}")?;
                    return Err(error).context("the records synced, the documents did not");
                }
            };
            if let Value::Object(fields) = &mut line {
                fields.insert("documents".into(), serde_json::to_value(documents)?);
            }
            writeln!(out, "{line}")?;
        }
        Command::SetAside => {
            for record in file.set_aside()? {
                writeln!(out, "{}", serde_json::to_string(&record)?)?;
            }
        }
        Command::ErasePerson { person_id, dry_run } => {
            let answer = file
                .erase_person(record_id(&person_id)?, dry_run)
                .context("the person was not erased")?;
            writeln!(out, "{}", serde_json::to_string(&answer)?)?;
        }
        Command::Organisation { set } if set.is_empty() => {
            writeln!(out, "{}", serde_json::to_string(&file.organisation()?)?)?;
        }
        Command::Organisation { set } => {
            let fields = parse_sets(casefile::sync_protocol::organisation::SETTINGS_KIND, &set)?;
            file.set_organisation(fields)
                .context("the organisation's settings were not changed")?;
        }
        Command::Retention { today } => {
            let today = match today {
                Some(today) => today,
                None => chrono::Utc::now().date_naive().to_string(),
            };
            for due in file.past_retention(&today)? {
                let name = |field: &str| due.person.value(field).cloned().unwrap_or(Value::Null);
                let line = serde_json::json!({
                    "id": due.person.id().to_string(),
                    "closed_on": due.closed_on,
                    "kept_until": due.kept_until,
                    "family_name": name("family_name"),
                    "given_names": name("given_names"),
                });
                writeln!(out, "{line}")?;
            }
        }
        Command::Export(export) => run_export(&mut file, export)?,
        Command::Report { from, to } => {
            let period = file.period(&from, &to)?;
            writeln!(
                out,
                "{}",
                serde_json::to_string(&file.indicators(&period)?)?
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The key derivation of `init`: the production one, unless a test build asks for the
/// cheap one.
fn init_kdf(insecure_for_tests: bool) -> Result<KdfParams> {
    if !insecure_for_tests {
        return Ok(KdfParams::PRODUCTION);
    }
    KdfParams::insecure_for_tests()
        .ok_or_else(|| anyhow!("--insecure-kdf-for-tests is only in test builds of passerelle-cli"))
}

fn run_export(file: &mut CaseFile, export: ExportCommand) -> Result<()> {
    match export {
        ExportCommand::VisitSheet { visit_id, out } => {
            let failed = "the visit sheet was not written";
            let sheet = file.visit_sheet(record_id(&visit_id)?).context(failed)?;
            write_whole(&out, &documents::visit_sheet_pdf(&sheet).context(failed)?)
        }
        ExportCommand::Person { person_id, out } => {
            let failed = "the person's sheet was not written";
            let sheet = file.person_sheet(record_id(&person_id)?).context(failed)?;
            write_whole(&out, &documents::person_sheet_pdf(&sheet).context(failed)?)
        }
        ExportCommand::Cv {
            person_id,
            anonymised,
            out,
        } => {
            let failed = "the CV was not written";
            let cv = file
                .cv(record_id(&person_id)?, anonymised)
                .context(failed)?;
            write_whole(&out, &documents::cv_pdf(&cv).context(failed)?)
        }
        ExportCommand::VisitCopy {
            visit_id,
            person_id,
            lang,
            out,
        } => {
            let failed = "the person's copy of the visit was not written";
            let (visit, person) = (record_id(&visit_id)?, record_id(&person_id)?);
            let copy = file
                .visit_copy(visit, person, copy_lang(lang.as_deref())?)
                .context(failed)?;
            write_whole(&out, &documents::visit_copy_pdf(&copy).context(failed)?)
        }
        ExportCommand::StepSlip { step_id, lang, out } => {
            let failed = "the appointment slip was not written";
            let slip = file
                .step_slip(record_id(&step_id)?, copy_lang(lang.as_deref())?)
                .context(failed)?;
            write_whole(&out, &documents::step_slip_pdf(&slip).context(failed)?)
        }
        ExportCommand::Csv { kind, out, labels } => {
            let failed = "the CSV was not written";
            let mut bytes = Vec::new();
            if labels.is_some() {
                let sheet = file.sheet(&kind).context(failed)?;
                documents::sheet_csv(&sheet, &mut bytes).context(failed)?;
            } else {
                let table = file.table(&kind).context(failed)?;
                documents::csv(&table, &mut bytes).context(failed)?;
            }
            write_whole(&out, &bytes)
        }
        ExportCommand::Xlsx { from, to, out } => {
            let failed = "the workbook was not written";
            let period = file.period(&from, &to)?;
            let book = file.workbook(&period).context(failed)?;
            write_whole(&out, &documents::xlsx(&book).context(failed)?)
        }
        ExportCommand::Access { person_id, out_dir } => {
            let failed = "the access export was not written";
            let id = record_id(&person_id)?;
            let access = file.access(id).context(failed)?;
            let pdf = documents::access_pdf(&access).context(failed)?;
            let cancel = std::sync::atomic::AtomicBool::new(false);
            let held = file.access_documents(id, &cancel).context(failed)?;
            let zip = if held.files.is_empty() {
                None
            } else {
                Some(documents::zip_of(&held.files).context(failed)?)
            };
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("could not create the directory {}", out_dir.display()))?;
            write_whole(
                &out_dir.join(format!("access-{id}.json")),
                access.json.as_bytes(),
            )?;
            write_whole(&out_dir.join(format!("access-{id}.pdf")), &pdf)?;
            if let Some(zip) = zip {
                write_whole(&out_dir.join(format!("access-{id}-documents.zip")), &zip)?;
            }
            for missing in &held.missing {
                eprintln!(
                    "the document of attachment {missing} is not on this device and could not \
                     be fetched: sync with the network, then export again"
                );
            }
            Ok(())
        }
        ExportCommand::Notice { lang, out } => {
            let failed = "the information notice was not written";
            let lang: casefile::export::NoticeLang = lang.parse()?;
            let org = file.organisation().context(failed)?;
            write_whole(&out, &documents::notice_pdf(lang, &org).context(failed)?)
        }
    }
}

/// The language of `--lang` beside French, if given.
fn copy_lang(lang: Option<&str>) -> Result<Option<casefile::export::CopyLang>> {
    Ok(lang.map(str::parse).transpose()?)
}

/// Writes `bytes` to `path` whole or not at all: into a temporary file beside it, then
/// renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let mut partial = name.to_owned();
    partial.push(".partial");
    let temporary = path.with_file_name(partial);
    let written = std::fs::File::create(&temporary).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("could not write {}", path.display()));
    }
    Ok(())
}

fn open(path: &Path) -> Result<CaseFile> {
    let passphrase = passphrase("PASSERELLE_PASSPHRASE", "Passphrase: ")?;
    CaseFile::open(path, &passphrase)
        .with_context(|| format!("could not open the case file at {}", path.display()))
}

fn record_id(text: &str) -> Result<RecordId> {
    text.parse()
        .map_err(|_| anyhow!("{text:?} is not a record id (a lowercase UUID)"))
}

/// Reads `--set FIELD=VALUE` by the field's type in the kind's schema (CLI.md).
fn parse_sets(kind: &str, sets: &[String]) -> Result<Vec<(String, Value)>> {
    let spec = schema::kind(kind);
    sets.iter()
        .map(|set| {
            let (field, text) = set
                .split_once('=')
                .ok_or_else(|| anyhow!("--set expects FIELD=VALUE, such as --set phone=0612"))?;
            let ty = spec
                .and_then(|s| s.field(field))
                .map_or(FieldType::Text, |f| f.ty);
            let value = ty.parse_text(text).ok_or_else(|| {
                anyhow!(casefile::Error::Invalid {
                    field: field.to_owned(),
                    expected: ty.expected(),
                })
            })?;
            Ok((field.to_owned(), value))
        })
        .collect()
}

/// The passphrase from the environment, else asked on the terminal without echo.
fn passphrase(variable: &str, prompt: &str) -> Result<zeroize::Zeroizing<String>> {
    if let Ok(value) = std::env::var(variable) {
        return Ok(zeroize::Zeroizing::new(value));
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let Ok(mut tty) = tty else {
        if std::io::stdin().is_terminal() {
            bail!("set {variable}: no terminal to ask the passphrase on");
        }
        bail!("set {variable} to the passphrase: there is no terminal to ask it on");
    };
    write!(tty, "{prompt}")?;
    tty.flush()?;
    let echo_off = stty(&tty, "-echo");
    let mut line = zeroize::Zeroizing::new(String::new());
    let read = std::io::BufReader::new(tty.try_clone()?).read_line(&mut line);
    if echo_off {
        stty(&tty, "echo");
        writeln!(tty)?;
    }
    read?;
    let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
    Ok(zeroize::Zeroizing::new(trimmed))
}

/// Switches terminal echo through `stty` (no unsafe code here); false when it cannot.
fn stty(tty: &std::fs::File, mode: &str) -> bool {
    let Ok(input) = tty.try_clone() else {
        return false;
    };
    std::process::Command::new("stty")
        .arg(mode)
        .stdin(input)
        .status()
        .is_ok_and(|s| s.success())
}
