//! The French words the printed sheets and the sheets for people use for kinds, fields and
//! choice values. Exports meant for machines (the CLI's CSV, JSON) keep the schema's names.
//!
//! The words are those of the app: one table, `labels.fr.json`, which the UI imports as
//! its French labels, so a value reads the same on the screen and on paper. A field is
//! looked up as `kind.field`, then `field`; a choice as `field.value`, then `value` (the
//! French "aucun" of a level and "aucune" of a health cover).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct Labels {
    kinds: HashMap<String, String>,
    fields: HashMap<String, String>,
    choices: HashMap<String, String>,
}

/// The table, read once. It is part of the binary; a test reads it whole, so an empty
/// table (every label printing as its code) cannot ship.
static FRENCH: LazyLock<Labels> =
    LazyLock::new(|| serde_json::from_str(include_str!("labels.fr.json")).unwrap_or_default());

/// The label under `specific`, else under `general`, else `fallback` itself.
fn look_up<'a>(
    table: &'static HashMap<String, String>,
    specific: &str,
    general: &str,
    fallback: &'a str,
) -> &'a str {
    table
        .get(specific)
        .or_else(|| table.get(general))
        .map_or(fallback, String::as_str)
}

/// The French label of a field of a kind, or the field's own name when none is known
/// (`x_` fields).
pub(crate) fn field<'a>(kind: &str, name: &'a str) -> &'a str {
    look_up(&FRENCH.fields, &format!("{kind}.{name}"), name, name)
}

/// The French label of a kind.
pub(crate) fn kind(kind: &str) -> &str {
    FRENCH.kinds.get(kind).map_or(kind, String::as_str)
}

/// The French name of a country by its ISO 3166 code, for the countries the families and
/// their neighbours come from; any other prints as its code (the app's list names every
/// country through the platform's own names).
pub(crate) fn country(code: &str) -> &str {
    match code {
        "AL" => "Albanie",
        "AT" => "Autriche",
        "BA" => "Bosnie-Herzégovine",
        "BE" => "Belgique",
        "BG" => "Bulgarie",
        "CZ" => "Tchéquie",
        "DE" => "Allemagne",
        "DZ" => "Algérie",
        "ES" => "Espagne",
        "FR" => "France",
        "GB" => "Royaume-Uni",
        "GR" => "Grèce",
        "HR" => "Croatie",
        "HU" => "Hongrie",
        "IT" => "Italie",
        "MA" => "Maroc",
        "MD" => "Moldavie",
        "ME" => "Monténégro",
        "MK" => "Macédoine du Nord",
        "NL" => "Pays-Bas",
        "PL" => "Pologne",
        "PT" => "Portugal",
        "RO" => "Roumanie",
        "RS" => "Serbie",
        "SI" => "Slovénie",
        "SK" => "Slovaquie",
        "TN" => "Tunisie",
        "TR" => "Turquie",
        "UA" => "Ukraine",
        "XK" => "Kosovo",
        other => other,
    }
}

/// The French label of a choice value of a field, or the value itself when none is known.
pub(crate) fn value<'a>(field: &str, value: &'a str) -> &'a str {
    look_up(&FRENCH.choices, &format!("{field}.{value}"), value, value)
}

#[cfg(test)]
mod tests {
    use crate::schema::{self, FieldType};

    use super::*;

    #[test]
    fn every_kind_field_and_choice_of_the_schema_has_a_french_label() {
        for spec in schema::KINDS {
            assert_ne!(kind(spec.kind), spec.kind, "the kind {}", spec.kind);
            for f in spec.fields {
                assert_ne!(
                    field(spec.kind, f.name),
                    f.name,
                    "the field {}.{}",
                    spec.kind,
                    f.name
                );
                if let FieldType::Choice(choices) = f.ty {
                    for choice in choices {
                        assert_ne!(
                            value(f.name, choice),
                            *choice,
                            "the choice {}.{} = {choice}",
                            spec.kind,
                            f.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_choice_reads_in_its_field_s_gender() {
        assert_eq!(value("french_level", "none"), "Aucun");
        assert_eq!(value("health_cover", "none"), "Aucune");
        assert_eq!(value("health_cover", "css"), "C2S");
        assert_eq!(
            field("organisation", "contact"),
            "Contact de l'organisation (téléphone, courriel)"
        );
        assert_eq!(field("cv", "contact"), "Contact");
        assert_eq!(field("person", "x_shoe_size"), "x_shoe_size");
    }
}
