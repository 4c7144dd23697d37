//! A hostile device: enrolled like any other (a stolen token, a buggy build), it talks
//! HTTP directly and pushes crafted states made from the server's own copies. Every one
//! must be refused with its §6 code and the record's id, and change nothing.

use reqwest::blocking::Client;
use serde_json::{Value, json};
use sync_protocol::RecordState;

use passerelle_e2e::harness::{PASSWORD, Server};
use passerelle_e2e::proxy::Rng;

/// A device that speaks HTTP by hand.
#[derive(Debug)]
pub struct Hostile {
    client: Client,
    url: String,
    token: String,
    /// Its replica id.
    pub id: String,
}

/// The crafts, each with the code that must refuse it.
pub const CRAFTS: [(&str, &str); 6] = [
    ("covers every entry and holds none", "dropped_entry"),
    ("leaves one field out", "dropped_entry"),
    ("brings another device's edit", "forged_dot"),
    ("changes a stored entry", "forged_dot"),
    ("deletes with a seen beyond its vv", "invalid_record"),
    ("writes 300 KiB in one edit", "record_too_large"),
];

impl Hostile {
    /// Enrols a new device as `user` on `server`, with a code it issued.
    pub fn enrol(server: &Server, user: &str) -> Hostile {
        let url = &server.url;
        let code = server.invite(user);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder().build().unwrap();
        let answer: Value = client
            .post(format!("{url}/v1/devices"))
            .header("Sync-Protocol", "1")
            .json(&json!({
                "username": user,
                "password": PASSWORD,
                "enrolment_code": code,
                "device_name": "hostile",
            }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        Hostile {
            client,
            url: url.to_owned(),
            token: answer["token"].as_str().expect("a token").to_owned(),
            id: answer["device_id"]
                .as_str()
                .expect("a device id")
                .to_owned(),
        }
    }

    /// Every state the server holds for the organisation, canonical JSON by id.
    pub fn server_states(&self) -> Vec<String> {
        let mut since = 0;
        let mut out = Vec::new();
        loop {
            let page: Value = self
                .client
                .get(format!("{}/v1/pull?since={since}&limit=1000", self.url))
                .header("Sync-Protocol", "1")
                .bearer_auth(&self.token)
                .send()
                .unwrap()
                .json()
                .unwrap();
            for record in page["records"].as_array().unwrap() {
                out.push(RecordState::from_value(record).unwrap().to_json());
            }
            since = page["next"].as_u64().unwrap();
            if page["more"] != json!(true) {
                break;
            }
        }
        out.sort_by_key(|s| serde_json::from_str::<Value>(s).unwrap()["id"].to_string());
        out
    }

    /// Pushes `records`; answers the status and the JSON body.
    pub fn push(&self, records: Vec<Value>) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/v1/push", self.url))
            .header("Sync-Protocol", "1")
            .bearer_auth(&self.token)
            .json(&json!({ "records": records }))
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Crafts the state `craft` (an index of [`CRAFTS`]) from the stored `state`.
    pub fn craft(&self, craft: usize, state: &Value, rng: &mut Rng) -> Value {
        let mut p = state.clone();
        let at = json!("2026-11-30T10:00:00Z");
        let mine = p["vv"][&self.id].as_u64().unwrap_or(0) + 1;
        let names: Vec<String> = p["fields"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !k.starts_with('_'))
            .cloned()
            .collect();
        let field = names[rng.below(names.len() as u64) as usize].clone();
        match craft {
            0 => p["fields"] = json!({}),
            1 => {
                p["fields"].as_object_mut().unwrap().remove(&field);
            }
            2 => {
                let victims: Vec<String> = p["vv"].as_object().unwrap().keys().cloned().collect();
                let victim = victims[rng.below(victims.len() as u64) as usize].clone();
                let n = p["vv"][&victim].as_u64().unwrap() + 1;
                p["vv"][&victim] = json!(n);
                p["fields"]["notes"] = json!([{"dot": [victim, n], "at": at, "value": "forged"}]);
            }
            3 => p["fields"][&field][0]["value"] = json!("altered by a stolen token"),
            4 => {
                let mut seen = p["vv"].clone();
                let (victim, n) = seen
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                    .next()
                    .unwrap();
                seen[&victim] = json!(n + 5);
                p["vv"][&self.id] = json!(mine);
                p["fields"]["_deleted"] =
                    json!([{"dot": [self.id, mine], "at": at, "value": {"seen": seen}}]);
            }
            _ => {
                p["vv"][&self.id] = json!(mine);
                p["fields"]["notes"] =
                    json!([{"dot": [self.id, mine], "at": at, "value": "x".repeat(300 * 1024)}]);
            }
        }
        p
    }

    /// Pushes one crafted state of a random stored record, beside an honest copy of
    /// another: the whole push must be refused with the craft's code, naming the crafted
    /// record, and the server must not change. Answers the craft used, or `None` when
    /// the server holds nothing to craft from yet.
    pub fn attack(&self, rng: &mut Rng) -> Option<usize> {
        let before = self.server_states();
        let live: Vec<Value> = before
            .iter()
            .map(|s| serde_json::from_str::<Value>(s).unwrap())
            .filter(|s| s.get("erased").is_none())
            .collect();
        if live.is_empty() {
            return None;
        }
        let target = &live[rng.below(live.len() as u64) as usize];
        let craft = rng.below(CRAFTS.len() as u64) as usize;
        let crafted = self.craft(craft, target, rng);
        let mut records = vec![crafted];
        if let Some(other) = live.iter().find(|s| s["id"] != target["id"]) {
            records.insert(rng.below(2) as usize, other.clone());
        }
        let (status, body) = self.push(records);
        let (what, code) = CRAFTS[craft];
        assert_eq!(status, 422, "a push that {what} must be refused: {body}");
        assert_eq!(
            body["error"]["code"],
            json!(code),
            "a push that {what}: {body}"
        );
        assert_eq!(
            body["error"]["id"], target["id"],
            "the refusal must name the crafted record: {body}"
        );
        assert_eq!(
            self.server_states(),
            before,
            "a refused push ({what}) must change nothing"
        );
        Some(craft)
    }
}
