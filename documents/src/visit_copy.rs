//! The papers a person takes home, in French and, side by side, in Romanian or
//! Bulgarian: their copy of a visit ([`visit_copy_pdf`]) and an appointment slip for one
//! of their steps ([`step_slip_pdf`]). French is the left column, the person's language
//! the right one; each label is in both, and a value in each column as that language
//! writes it: a date `dd/mm/yyyy` on the left, `dd.mm.yyyy` on the right (Romanian and
//! Bulgarian write dates with dots). What the counsellor wrote prints as written in both.
//!
//! Only what `casefile` read for this one person is printed (their name, their steps):
//! the layout adds no other value. An empty value prints as a dash on the copy, and as a
//! line to write on by hand on the slip.

use casefile::export::{Bilingual, BilingualField, CopyLang, Slip, VisitCopy};
use tracing::info_span;

use crate::error::Result;
use crate::pdf::{Run, Sheet, Style};

const LABEL: f32 = 8.5;
const VALUE: f32 = 10.5;

/// The person's copy of a visit as a PDF document (A4, French beside Romanian or
/// Bulgarian, fonts embedded).
///
/// Errors: [`crate::Error::Pdf`] when the PDF cannot be written.
pub fn visit_copy_pdf(copy: &VisitCopy) -> Result<Vec<u8>> {
    let _span = info_span!("documents.visit_copy", lang = copy.lang.as_str()).entered();
    let mut sheet = start(&copy.org, &copy.printed_on, copy.lang, &copy.title)?;
    field(&mut sheet, &copy.person, Blank::Dash, Dates::AsWritten);
    field(&mut sheet, &copy.date, Blank::Dash, Dates::InEachLanguage);
    field(&mut sheet, &copy.place, Blank::Dash, Dates::AsWritten);

    sheet.column_heading(&copy.steps_heading.fr, &copy.steps_heading.other);
    if copy.steps.is_empty() {
        sheet.columns(
            &[Run::Text(copy.no_steps.fr.clone(), Style::plain(VALUE))],
            &[Run::Text(copy.no_steps.other.clone(), Style::plain(VALUE))],
        );
    }
    let [_, category, due] = &copy.step_columns;
    for (i, step) in copy.steps.iter().enumerate() {
        if i > 0 {
            sheet.columns(&[Run::Gap(7.0)], &[Run::Gap(7.0)]);
        }
        // French puts a space before a colon; Romanian and Bulgarian do not.
        let side =
            |colon: &str, category_label: &str, category: &str, due_label: &str, due: &str| {
                let mut runs = vec![Run::Text(step.title.clone(), Style::bold(VALUE))];
                if !category.is_empty() {
                    runs.push(Run::Text(
                        format!("{category_label}{colon} {category}"),
                        Style::plain(9.5),
                    ));
                }
                if !due.is_empty() {
                    runs.push(Run::Text(
                        format!("{due_label}{colon} {due}"),
                        Style::plain(9.5),
                    ));
                }
                runs
            };
        let left = side(" :", &category.fr, &step.category.fr, &due.fr, &step.due_on);
        let right = side(
            ":",
            &category.other,
            &step.category.other,
            &due.other,
            &dotted(&step.due_on),
        );
        sheet.columns(&left, &right);
    }

    if let Some(decisions) = &copy.decisions {
        sheet.column_heading(&decisions.label.fr, &decisions.label.other);
        sheet.columns(
            &[Run::Text(decisions.value.fr.clone(), Style::plain(VALUE))],
            &[Run::Text(
                decisions.value.other.clone(),
                Style::plain(VALUE),
            )],
        );
    }

    sheet.space(10.0);
    field(
        &mut sheet,
        &copy.next_visit,
        Blank::Dash,
        Dates::InEachLanguage,
    );
    field(&mut sheet, &copy.counsellors, Blank::Dash, Dates::AsWritten);
    field(&mut sheet, &copy.contact, Blank::Dash, Dates::AsWritten);
    sheet.finish(&format!("{} / {}", copy.title.fr, copy.title.other))
}

/// An appointment slip for a step as a PDF document (A4, French beside Romanian or
/// Bulgarian, fonts embedded). The time, the place and what to bring are lines to
/// fill by hand, as is whom to see when the step's category does not say.
///
/// Errors: [`crate::Error::Pdf`] when the PDF cannot be written.
pub fn step_slip_pdf(slip: &Slip) -> Result<Vec<u8>> {
    let _span = info_span!("documents.step_slip", lang = slip.lang.as_str()).entered();
    let mut sheet = start(&slip.org, "", slip.lang, &slip.title)?;
    field(&mut sheet, &slip.person, Blank::WriteIn, Dates::AsWritten);
    field(&mut sheet, &slip.what, Blank::WriteIn, Dates::AsWritten);
    field(&mut sheet, &slip.category, Blank::WriteIn, Dates::AsWritten);
    field(
        &mut sheet,
        &slip.when,
        Blank::WriteIn,
        Dates::InEachLanguage,
    );
    field(&mut sheet, &slip.time, Blank::WriteIn, Dates::AsWritten);
    field(&mut sheet, &slip.place, Blank::WriteIn, Dates::AsWritten);
    field(
        &mut sheet,
        &slip.with_whom,
        Blank::WriteIn,
        Dates::AsWritten,
    );
    field(&mut sheet, &slip.bring, Blank::WriteIn, Dates::AsWritten);
    sheet.space(6.0);
    field(&mut sheet, &slip.contact, Blank::Dash, Dates::AsWritten);
    sheet.finish(&format!("{} / {}", slip.title.fr, slip.title.other))
}

/// A bilingual paper's first lines: the organisation, the language of each column and
/// the title in both. The footer holds the organisation and the day it was printed.
fn start(org: &str, printed_on: &str, lang: CopyLang, title: &Bilingual) -> Result<Sheet> {
    let footer = if printed_on.is_empty() {
        org.to_owned()
    } else {
        format!("{org} — {printed_on}")
    };
    let mut sheet = Sheet::new(footer)?;
    sheet.set_page_word(match lang {
        CopyLang::Ro => "page / pagina",
        CopyLang::Bg => "page / страница",
    });
    sheet.note(org);
    sheet.space(8.0);
    let (language, flag) = match lang {
        CopyLang::Ro => ("Română", "RO"),
        CopyLang::Bg => ("Български", "BG"),
    };
    sheet.columns(
        &[Run::Text("Français · FR".to_owned(), Style::grey(9.0))],
        &[Run::Text(format!("{language} · {flag}"), Style::grey(9.0))],
    );
    sheet.columns(
        &[Run::Text(title.fr.clone(), Style::accent(15.0))],
        &[Run::Text(title.other.clone(), Style::accent(15.0))],
    );
    sheet.space(10.0);
    Ok(sheet)
}

/// How an empty value prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blank {
    /// A dash: nothing to say.
    Dash,
    /// A line to write on by hand.
    WriteIn,
}

/// Whether a value's dates are printed in each column's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dates {
    AsWritten,
    InEachLanguage,
}

/// A label and its value in both columns: the label small and grey, the value under it.
fn field(sheet: &mut Sheet, field: &BilingualField, blank: Blank, dates: Dates) {
    let side = |label: &str, value: &str| {
        let mut runs = vec![Run::Text(label.to_owned(), Style::grey(LABEL))];
        match (value.trim().is_empty(), blank) {
            (true, Blank::WriteIn) => runs.push(Run::WriteIn),
            (true, Blank::Dash) => runs.push(Run::Text("—".to_owned(), Style::plain(VALUE))),
            (false, _) => runs.push(Run::Text(value.to_owned(), Style::plain(VALUE))),
        }
        runs.push(Run::Gap(6.0));
        runs
    };
    let other = match dates {
        Dates::AsWritten => field.value.other.clone(),
        Dates::InEachLanguage => dotted(&field.value.other),
    };
    let left = side(&field.label.fr, &field.value.fr);
    let right = side(&field.label.other, &other);
    sheet.columns(&left, &right);
}

/// `text` with each date `dd/mm/yyyy` written `dd.mm.yyyy`, as Romanian and Bulgarian
/// write dates; the rest as it is.
fn dotted(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let digit = |c: Option<&char>| c.is_some_and(char::is_ascii_digit);
    let mut i = 0;
    while i + 10 <= chars.len() {
        let at = |k: usize| chars.get(i + k);
        let is_date = [0, 1, 3, 4, 6, 7, 8, 9].iter().all(|&k| digit(at(k)))
            && at(2) == Some(&'/')
            && at(5) == Some(&'/')
            && !digit(i.checked_sub(1).and_then(|p| chars.get(p)))
            && !digit(at(10));
        if is_date {
            chars[i + 2] = '.';
            chars[i + 5] = '.';
            i += 10;
        } else {
            i += 1;
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::dotted;

    #[test]
    fn dates_are_written_with_dots_and_nothing_else_changes() {
        assert_eq!(dotted("09/11/2026"), "09.11.2026");
        assert_eq!(dotted("09/11/2026 / 10/11/2026"), "09.11.2026 / 10.11.2026");
        assert_eq!(dotted("de stabilit"), "de stabilit", "a phrase stays");
        assert_eq!(dotted("11/2026"), "11/2026", "a month alone stays");
        assert_eq!(dotted("123/11/2026"), "123/11/2026", "not a date");
        assert_eq!(dotted("Șoseaua 1/2/3"), "Șoseaua 1/2/3");
    }
}
