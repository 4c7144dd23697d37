//! Documents and photos (SYNC-PROTOCOL.md §6b) between devices through the real server,
//! on both backends: files of 1 KiB to 20 MiB reach another device byte for byte; an
//! upload cut by the proxy resumes where the server's part ends instead of starting
//! again; records sync while photos wait; erasing the person takes the bytes from the
//! server and from every device.

use std::sync::atomic::{AtomicBool, Ordering};

use casefile::{CaseFile, FetchMode, NewAttachment, SyncOptions};
use passerelle_e2e::harness::{Backend, Device, Server, patient};
use passerelle_e2e::proxy::{Fault, FaultProxy};
use passerelle_test_support::samples::Rng;
use sync_protocol::RecordId;

use crate::add_person;

/// A PDF-looking file of `len` bytes: `%PDF-` then random bytes, with `mark` inside.
fn pdf(len: usize, seed: u64, mark: &[u8]) -> Vec<u8> {
    let mut rng = Rng(seed.max(1));
    let mut bytes = b"%PDF-1.7\n".to_vec();
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes.truncate(len);
    let at = len / 2;
    bytes[at..at + mark.len()].copy_from_slice(mark);
    bytes
}

fn attach(file: &mut CaseFile, person: RecordId, title: &str, bytes: &[u8]) -> RecordId {
    file.attach(
        &NewAttachment {
            person_id: Some(person),
            title: title.into(),
            category: "other".into(),
            ..NewAttachment::default()
        },
        bytes,
    )
    .unwrap()
}

fn sync_documents(device: &mut Device) -> casefile::DocumentsReport {
    let cancel = AtomicBool::new(false);
    device
        .file
        .sync_documents_with(patient(), &mut |_| {}, &cancel)
        .unwrap()
}

fn documents_travel(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut marie = Device::enrolled("marie", &server, &user);
    let mut ion = Device::enrolled("ion", &server, &user);
    let person = add_person(&mut marie.file, "Lăcătuș", "Ștefan");
    let sizes = [1024, 4 * 1024 * 1024 + 1, 20 * 1024 * 1024];
    let files: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, len)| pdf(*len, 7 + i as u64, b"MARQUE-DOCUMENT"))
        .collect();
    let ids: Vec<RecordId> = files
        .iter()
        .enumerate()
        .map(|(i, bytes)| attach(&mut marie.file, person, &format!("Document {i}"), bytes))
        .collect();

    // The records go first: the server refuses bytes no attachment it holds names.
    marie.sync();
    // The biggest upload is cut after 9 MiB of a connection: each retry goes on from
    // where the server's part ends.
    let proxy = FaultProxy::start_fixed(server.addr, Fault::CutRequest(9 * 1024 * 1024)).unwrap();
    marie
        .file
        .set_setting("sync.server_url", &proxy.url())
        .unwrap();
    let report = sync_documents(&mut marie);
    assert_eq!((report.sent, report.waiting), (3, 0), "{report:?}");
    let cuts = proxy.counts.cut_requests.load(Ordering::Relaxed);
    let up = proxy.counts.bytes_up.load(Ordering::Relaxed);
    let total: usize = sizes.iter().sum();
    assert!(cuts >= 2, "expected uploads cut by the proxy, got {cuts}");
    assert!(
        (up as f64) < total as f64 * 1.3,
        "a cut upload must resume, not start again: {up} bytes sent for {total}"
    );
    // Nothing is left to send, and a second pass sends nothing.
    assert_eq!(marie.file.documents_status().unwrap().to_send, 0);
    marie
        .file
        .set_setting("sync.server_url", &server.url)
        .unwrap();
    assert_eq!(sync_documents(&mut marie).sent, 0);

    // Another device: records, then every document, checked byte for byte.
    ion.sync();
    assert_eq!(ion.file.attachments_of(person).unwrap().len(), 3);
    assert_eq!(ion.file.documents_status().unwrap().to_fetch, 3);
    let report = sync_documents(&mut ion);
    assert_eq!((report.received, report.waiting), (3, 0), "{report:?}");
    for (id, bytes) in ids.iter().zip(&files) {
        assert_eq!(
            ion.file.attachment_bytes(*id).unwrap().as_deref(),
            Some(bytes.as_slice())
        );
    }
}

#[test]
fn documents_travel_sqlite() {
    documents_travel(Backend::Sqlite);
}

#[test]
fn documents_travel_postgres() {
    documents_travel(Backend::Postgres);
}

/// A download cut in the middle resumes from the pieces already kept, and a device set
/// to fetch on demand fetches a document only when it is opened.
fn downloads_resume_and_wait_for_demand(backend: Backend) {
    let server = Server::start(backend);
    let (_org, user) = server.new_org();
    let mut marie = Device::enrolled("marie", &server, &user);
    let person = add_person(&mut marie.file, "Rostas", "Maria");
    let big = pdf(18 * 1024 * 1024, 3, b"GRAND");
    let small = pdf(3000, 4, b"PETIT");
    let big_id = attach(&mut marie.file, person, "Grand", &big);
    let small_id = attach(&mut marie.file, person, "Petit", &small);
    marie.sync();
    sync_documents(&mut marie);

    // Ion fetches through a proxy that cuts every answer after 6 MiB, trying once a
    // request: the sync fails part-way, and what came is kept.
    let mut ion = Device::enrolled("ion", &server, &user);
    ion.sync();
    let proxy = FaultProxy::start_fixed(server.addr, Fault::CutResponse(6 * 1024 * 1024)).unwrap();
    ion.file
        .set_setting("sync.server_url", &proxy.url())
        .unwrap();
    let once = SyncOptions {
        attempts: 1,
        ..patient()
    };
    let cancel = AtomicBool::new(false);
    let mut last = casefile::DocumentsProgress::default();
    let cut = ion
        .file
        .sync_documents_with(once, &mut |p| last = p, &cancel);
    assert!(cut.is_err(), "the cut download must fail: {cut:?}");
    assert!(last.received >= 4 * 1024 * 1024, "{last:?}");
    let down_before = proxy.counts.bytes_down.load(Ordering::Relaxed);
    proxy.set_faults(false);
    sync_documents(&mut ion);
    let resumed = proxy.counts.bytes_down.load(Ordering::Relaxed) - down_before;
    assert!(
        (resumed as usize) < big.len() + small.len() - 4 * 1024 * 1024 + 64 * 1024,
        "the download must resume: {resumed} bytes fetched again"
    );
    assert_eq!(
        ion.file.attachment_bytes(big_id).unwrap(),
        Some(big.clone())
    );
    assert_eq!(ion.file.attachment_bytes(small_id).unwrap(), Some(small));

    // On demand: nothing is fetched by the sync, the document comes when opened.
    let mut elena = Device::enrolled("elena", &server, &user);
    elena.file.set_fetch_mode(FetchMode::OnDemand).unwrap();
    elena.sync();
    let report = sync_documents(&mut elena);
    assert_eq!(report.received, 0);
    assert_eq!(elena.file.attachment_bytes(big_id).unwrap(), None);
    assert!(!elena.file.attachment(big_id).unwrap().held);
    assert_eq!(elena.file.fetch_attachment(big_id, &cancel).unwrap(), big);
    assert!(elena.file.attachment(big_id).unwrap().held);
}

#[test]
fn downloads_resume_and_wait_for_demand_sqlite() {
    downloads_resume_and_wait_for_demand(Backend::Sqlite);
}

#[test]
fn downloads_resume_and_wait_for_demand_postgres() {
    downloads_resume_and_wait_for_demand(Backend::Postgres);
}

/// Erasing a person takes their documents' bytes from the server and from every device:
/// a known byte pattern is in no table and no file afterwards.
fn erasure_takes_the_bytes(backend: Backend) {
    let server = Server::start(backend);
    // The organisation's first user is a coordinator: she may erase.
    let (_org, user) = server.new_org();
    let mut marie = Device::enrolled("marie", &server, &user);
    let mut ion = Device::enrolled("ion", &server, &user);
    let mark: Vec<u8> =
        format!("EFFACER-{:016x}-{:016x}", 0x5eed_u64, 0xdead_beef_u64).into_bytes();
    let hex: String = mark.iter().map(|b| format!("{b:02x}")).collect();
    let person = add_person(&mut marie.file, "Dumitru", "Ana");
    let other = add_person(&mut marie.file, "Stoica", "Ion");
    let doomed = attach(
        &mut marie.file,
        person,
        "Carte d'identité",
        &pdf(300_000, 9, &mark),
    );
    let kept_bytes = pdf(5000, 10, b"GARDER");
    let kept = attach(&mut marie.file, other, "Fiche de paie", &kept_bytes);
    marie.sync();
    sync_documents(&mut marie);
    ion.sync();
    sync_documents(&mut ion);
    assert!(ion.file.attachment_bytes(doomed).unwrap().is_some());
    let dump = server.db.every_row_as_text();
    assert!(
        dump.contains(std::str::from_utf8(&mark).unwrap()) || dump.contains(&hex),
        "the server must hold the pattern before the erasure"
    );

    let cancel = AtomicBool::new(false);
    marie
        .file
        .erase_person_cancellable(person, false, &cancel)
        .unwrap();
    marie.sync();
    ion.sync();
    for device in [&marie, &ion] {
        let rows = device.file.every_row_as_text().unwrap();
        assert!(
            !rows.contains(&hex) && !rows.contains(std::str::from_utf8(&mark).unwrap()),
            "{} still holds the erased document",
            device.name
        );
        for suffix in ["", "-wal"] {
            let mut path = device.file.path().as_os_str().to_owned();
            path.push(suffix);
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(
                    !bytes.windows(mark.len()).any(|w| w == mark.as_slice()),
                    "the file {} holds the pattern in the clear",
                    device.name
                );
            }
        }
        assert!(matches!(
            device.file.attachment(doomed),
            Err(casefile::Error::NotFound(_))
        ));
    }
    assert_eq!(
        ion.file.attachment_bytes(kept).unwrap(),
        Some(kept_bytes),
        "another person's document stays"
    );
    let dump = server.db.every_row_as_text();
    assert!(
        !dump.contains(std::str::from_utf8(&mark).unwrap()) && !dump.contains(&hex),
        "the server still holds the erased document"
    );
}

#[test]
fn erasure_takes_the_bytes_sqlite() {
    erasure_takes_the_bytes(Backend::Sqlite);
}

#[test]
fn erasure_takes_the_bytes_postgres() {
    erasure_takes_the_bytes(Backend::Postgres);
}

/// The documents' sync on a second handle of the case file (as the app runs it) leaves
/// the first free: a person added through it between two pieces is kept, and an erasure
/// made through it in the middle of a download leaves no piece of the erased person's
/// document on the device.
#[test]
fn a_second_handle_fetches_while_the_first_works_and_erases() {
    let server = Server::start(Backend::Sqlite);
    let (_org, user) = server.new_org();
    let mut marie = Device::enrolled("marie", &server, &user);
    let mark = b"SECONDE-POIGNEE-7f3a";
    let person = add_person(&mut marie.file, "Dumitru", "Ana");
    let doomed = attach(
        &mut marie.file,
        person,
        "Carte d'identité",
        &pdf(12 * 1024 * 1024, 11, mark),
    );
    marie.sync();
    sync_documents(&mut marie);

    let mut ion = Device::enrolled("ion", &server, &user);
    ion.sync();
    let mut second = ion.file.open_again().unwrap();
    let cancel = AtomicBool::new(false);
    let mut added = None;
    let report = second
        .sync_documents_with(
            patient(),
            &mut |p| {
                // After the first piece is kept: the first handle writes, then erases.
                if p.received > 0 && added.is_none() {
                    added = Some(add_person(&mut ion.file, "Stoica", "Ion"));
                    ion.file
                        .erase_person_cancellable(person, false, &AtomicBool::new(false))
                        .unwrap();
                    // The device learns of it by its records' sync, on the first handle.
                    ion.sync();
                }
            },
            &cancel,
        )
        .unwrap();
    drop(second);
    assert!(
        added.is_some(),
        "the erasure came in the middle of the download"
    );
    assert_eq!(report.received, 0, "{report:?}");
    assert!(
        ion.file.get(added.unwrap()).is_ok(),
        "the write beside is kept"
    );
    assert!(matches!(
        ion.file.attachment(doomed),
        Err(casefile::Error::NotFound(_))
    ));
    let hex: String = mark.iter().map(|b| format!("{b:02x}")).collect();
    let rows = ion.file.every_row_as_text().unwrap();
    assert!(
        !rows.contains(&hex) && !rows.contains(std::str::from_utf8(mark).unwrap()),
        "a piece of the erased document is left on the device"
    );
    assert_eq!(ion.file.documents_status().unwrap().to_fetch, 0);
}
