//! Documents and photos in a case file: what `attach` keeps (reduced photos, PDFs as
//! they are), where attachments are listed, what may change, and that the bytes go when
//! no attachment names them any more (erasure), but stay through a deletion or while
//! another attachment names them.

use casefile::sync_protocol::RecordId;
use casefile::{CaseFile, Error, NewAttachment};
use serde_json::json;

use crate::common::{fields, foreign, fresh, person};

fn photo(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    let mut out = Vec::new();
    image
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
        .unwrap();
    out
}

fn pdf(mark: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {mark}\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
        .into_bytes()
}

fn new(person: RecordId, title: &str) -> NewAttachment {
    NewAttachment {
        person_id: Some(person),
        title: title.into(),
        category: "identity".into(),
        taken_on: Some("2026-11-30".into()),
        ..NewAttachment::default()
    }
}

fn blob_rows(file: &CaseFile) -> usize {
    file.every_row_as_text()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("blob:"))
        .count()
}

#[test]
fn a_photo_is_kept_reduced_and_listed_with_its_person() {
    let (_dir, mut file) = fresh();
    let ana = person(&mut file, "Dumitru", "Ana");
    let id = file
        .attach(&new(ana, "Carte d'identité"), &photo(2400, 1800))
        .unwrap();
    let attachment = file.attachment(id).unwrap();
    assert_eq!(attachment.media_type, "image/jpeg");
    assert!(attachment.held && !attachment.uploaded && !attachment.deleted);
    assert_eq!(attachment.person_id, Some(ana));
    let bytes = file.attachment_bytes(id).unwrap().unwrap();
    assert_eq!(bytes.len() as u64, attachment.size);
    let kept = image::load_from_memory(&bytes).unwrap();
    assert!(u64::from(kept.width()) * u64::from(kept.height()) <= 2_000_000);
    let state = file.get(id).unwrap();
    assert_eq!(
        state.entries("sha256")[0].value,
        json!(attachment.sha256),
        "the record names its bytes by their digest"
    );

    // Listed in the person's file and timeline, with a thumbnail.
    let listed = file.attachments_of(ana).unwrap();
    assert_eq!(listed.iter().map(|a| a.id).collect::<Vec<_>>(), vec![id]);
    let timeline = file.timeline(ana).unwrap();
    assert!(timeline.items.iter().any(|item| item.state.id() == id));
    let thumbnail = file.attachment_thumbnail(id).unwrap().unwrap();
    let small = image::load_from_memory(&thumbnail).unwrap();
    assert!(small.width() <= 320 && small.height() <= 320);
    assert_eq!(small.width(), 320, "the longest side is 320 pixels");

    // Kept as given when asked.
    let original = photo(640, 480);
    let id = file
        .attach(
            &NewAttachment {
                keep_original: true,
                ..new(ana, "Original")
            },
            &original,
        )
        .unwrap();
    assert_eq!(file.attachment_bytes(id).unwrap(), Some(original));
    assert_eq!(file.attachment(id).unwrap().media_type, "image/png");
}

#[test]
fn bad_files_and_bad_changes_are_refused_and_change_nothing() {
    let (_dir, mut file) = fresh();
    let ana = person(&mut file, "Dumitru", "Ana");
    let site = file
        .create("site", fields(&[("name", json!("Les Près"))]))
        .unwrap();
    let before = file.every_row_as_text().unwrap();
    let refused = file
        .attach(&new(ana, "Lettre"), b"PK\x03\x04 not a pdf")
        .unwrap_err();
    assert!(
        matches!(
            &refused,
            Error::Document(casefile::DocumentProblem::NotPhotoOrPdf)
        ),
        "{refused}"
    );
    let refused = file.attach(&new(ana, "  "), &pdf("x")).unwrap_err();
    assert!(matches!(&refused, Error::Invalid { field, .. } if field == "title"));
    let refused = file
        .attach(
            &NewAttachment {
                category: "passport".into(),
                ..new(ana, "Passeport")
            },
            &pdf("x"),
        )
        .unwrap_err();
    assert!(matches!(&refused, Error::Invalid { field, .. } if field == "category"));
    let refused = file.attach(&new(site, "Lettre"), &pdf("x")).unwrap_err();
    assert!(matches!(&refused, Error::Invalid { field, .. } if field == "person_id"));
    assert_eq!(
        file.every_row_as_text().unwrap(),
        before,
        "nothing was written"
    );

    // The generic create refuses the kind; an edit changes the description only.
    let refused = file
        .create(
            "attachment",
            fields(&[
                ("person_id", json!(ana.to_string())),
                ("title", json!("x")),
                ("category", json!("other")),
                ("media_type", json!("application/pdf")),
                ("size", json!(10)),
                ("sha256", json!("ab".repeat(32))),
            ]),
        )
        .unwrap_err();
    assert!(matches!(&refused, Error::Invalid { field, .. } if field == "kind"));
    let id = file.attach(&new(ana, "Lettre"), &pdf("lettre")).unwrap();
    let refused = file
        .edit(id, fields(&[("sha256", json!("cd".repeat(32)))]))
        .unwrap_err();
    assert!(matches!(&refused, Error::Invalid { field, .. } if field == "sha256"));
    file.edit(id, fields(&[("title", json!("Lettre de France Travail"))]))
        .unwrap();
    assert_eq!(
        file.attachment(id).unwrap().title,
        "Lettre de France Travail"
    );
}

#[test]
fn bytes_stay_through_a_deletion_and_go_with_the_last_erased_attachment() {
    let (_dir, mut file) = fresh();
    let ana = person(&mut file, "Dumitru", "Ana");
    let bytes = pdf("MARQUE-UNIQUE");
    let first = file.attach(&new(ana, "Un"), &bytes).unwrap();
    let second = file.attach(&new(ana, "Deux"), &bytes).unwrap();
    assert_eq!(blob_rows(&file), 1, "the same bytes are kept once");

    file.delete(first).unwrap();
    assert!(
        file.attachments_of(ana)
            .unwrap()
            .iter()
            .all(|a| a.id != first)
    );
    assert_eq!(file.attachment_bytes(first).unwrap(), Some(bytes.clone()));
    file.restore(first).unwrap();

    // The server erases the first: the second still names the bytes.
    let erased = file.get(first).unwrap().erase();
    file.apply_pulled(&[erased], 1).unwrap();
    assert_eq!(file.attachment_bytes(second).unwrap(), Some(bytes.clone()));
    // Then the second: nothing of the bytes stays.
    let erased = file.get(second).unwrap().erase();
    file.apply_pulled(&[erased], 2).unwrap();
    assert_eq!(blob_rows(&file), 0);
    let rows = file.every_row_as_text().unwrap();
    assert!(!rows.contains("MARQUE-UNIQUE"));
    let hex: String = "MARQUE-UNIQUE"
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!rows.contains(&hex));
}

#[test]
fn a_merged_file_brings_its_documents_and_the_access_export_holds_them() {
    let (_dir, mut file) = fresh();
    let ana = person(&mut file, "Dumitru", "Ana");
    let again = person(&mut file, "Dumitru", "Anna");
    let a = file
        .attach(&new(ana, "Carte d'identité"), &pdf("a"))
        .unwrap();
    let b = file
        .attach(&new(again, "Fiche de paie"), &pdf("b"))
        .unwrap();
    file.merge_persons(ana, again, Vec::new()).unwrap();
    let mut listed: Vec<RecordId> = file
        .attachments_of(ana)
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    listed.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(listed, expected);

    file.delete(b).unwrap();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let docs = file.access_documents(again, &cancel).unwrap();
    assert!(docs.missing.is_empty());
    let names: Vec<&str> = docs.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names.len(),
        2,
        "deleted documents are held, so exported: {names:?}"
    );
    assert!(names.iter().all(|n| n.ends_with(".pdf")), "{names:?}");
    assert!(
        names.contains(&"01-identity-carte-d-identite.pdf"),
        "{names:?}"
    );
}

#[test]
fn a_rebuild_keeps_the_attachments_listed() {
    let (_dir, mut file) = fresh();
    let ana = person(&mut file, "Dumitru", "Ana");
    let id = file.attach(&new(ana, "Lettre"), &pdf("r")).unwrap();
    file.rebuild().unwrap();
    assert_eq!(file.attachments_of(ana).unwrap()[0].id, id);
    assert!(file.attachment(id).unwrap().held);
}

#[test]
fn an_attachment_naming_no_digest_does_not_keep_other_documents() {
    // Another device (a newer version, or a buggy one) sent an attachment whose `sha256`
    // is null: it names nothing, and must not stop an erased document's bytes going.
    let (_dir, mut file) = fresh();
    let ana = person(&mut file, "Dumitru", "Ana");
    let odd = foreign(
        "attachment",
        &[
            ("person_id", json!(ana.to_string())),
            ("sha256", json!(null)),
        ],
    );
    file.apply_pulled(&[odd], 1).unwrap();
    let id = file.attach(&new(ana, "Lettre"), &pdf("SANS-NOM")).unwrap();
    let erased = file.get(id).unwrap().erase();
    file.apply_pulled(&[erased], 2).unwrap();
    assert_eq!(blob_rows(&file), 0);
    assert!(!file.every_row_as_text().unwrap().contains("SANS-NOM"));
}
