//! What the benchmarks share: their command-line flags, a realistic person record, and
//! seeding a server with many of them.

use serde_json::{Value, json};
use sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp};

use crate::harness::{Device, Server};

/// The value after the flag `name` on the command line, if any.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

const NOTES: &str = "Rencontré sur le lieu de vie avec sa famille. Cherche un emploi dans le \
bâtiment ou le maraîchage ; a été maçon six ans. Inscription à France Travail à faire.";

/// The `n`-th person of a benchmark, about 1 KB of canonical JSON, made by `replica`.
pub fn person(replica: ReplicaId, n: usize) -> RecordState {
    person_with_notes(replica, n, NOTES)
}

/// [`person`] with other notes.
pub fn person_with_notes(replica: ReplicaId, n: usize, notes: &str) -> RecordState {
    let id = RecordId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 + n as u128);
    let at: Timestamp = "2026-11-02T10:14:00Z".parse().expect("a timestamp");
    let family = [
        "Lăcătuș",
        "Stoica",
        "Dumitru",
        "Petrova",
        "Rădulescu",
        "Ionescu",
    ][n % 6];
    let fields: Vec<(FieldName, Value)> = [
        ("family_name", json!(family)),
        ("given_names", json!(format!("Ștefan {n}"))),
        ("aliases", json!(["Stefan", "Stefane"])),
        ("sex", json!("m")),
        ("birth_date", json!(format!("{}", 1960 + n % 45))),
        ("nationality", json!("RO")),
        ("languages", json!(["ro", "fr"])),
        ("french_level", json!("a2")),
        (
            "phone",
            json!(format!(
                "06 {:02} {:02} {:02} {:02}",
                n % 97,
                n % 89,
                n % 83,
                n % 79
            )),
        ),
        ("status", json!("active")),
        ("notes", json!(notes)),
    ]
    .into_iter()
    .map(|(k, v)| (k.parse().expect("a field name"), v))
    .collect();
    RecordState::create(
        id,
        "person".parse::<Kind>().expect("a kind"),
        replica,
        at,
        fields,
    )
    .expect("a valid person")
}

/// Pushes `states` to `server` as `device`, by hand, 1000 a request.
pub fn seed(server: &Server, device: &Device, states: &[RecordState]) {
    for chunk in states.chunks(1000) {
        let (status, body) = device.push_raw(&server.url, json!(chunk));
        assert_eq!(status, 200, "seeding: {body}");
    }
}
