//! A workbook as an XLSX file, for people: each sheet its header row in bold and kept in
//! view, a filter on every column, widths fitted to what the columns hold (at most about
//! 40 characters), numbers as numbers, and dates and times as real dates that sort and
//! filter by month, shown `jj/mm/aaaa` and `jj/mm/aaaa hh:mm`.

use casefile::export::{Cell, Workbook};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, XlsxError};
use tracing::info_span;

use crate::error::{Error, Result};

fn fail(_: XlsxError) -> Error {
    Error::Xlsx
}

/// The widest a column is fitted to, in pixels (about 40 characters).
const MAX_WIDTH_PIXELS: u32 = 300;

/// A calendar day as Excel counts it.
fn excel_day(day: NaiveDate) -> std::result::Result<ExcelDateTime, XlsxError> {
    let year =
        u16::try_from(day.year()).map_err(|_| XlsxError::DateTimeRangeError(day.to_string()))?;
    ExcelDateTime::from_ymd(year, day.month() as u8, day.day() as u8)
}

/// A local date and time as Excel counts it.
fn excel_time(at: NaiveDateTime) -> std::result::Result<ExcelDateTime, XlsxError> {
    excel_day(at.date())?.and_hms(at.hour() as u16, at.minute() as u8, at.second())
}

/// The bytes of the `.xlsx` file of `book`.
///
/// Errors: [`Error::Xlsx`] when the workbook cannot be written.
pub fn xlsx(book: &Workbook) -> Result<Vec<u8>> {
    let _span = info_span!("documents.xlsx").entered();
    let mut out = rust_xlsxwriter::Workbook::new();
    let bold = Format::new().set_bold();
    let day = Format::new().set_num_format("dd/mm/yyyy");
    let time = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for sheet in &book.sheets {
        let page = out.add_worksheet();
        page.set_name(&sheet.name).map_err(fail)?;
        for (col, header) in sheet.header.iter().enumerate() {
            page.write_string_with_format(0, col as u16, header, &bold)
                .map_err(fail)?;
        }
        for (i, cells) in sheet.rows.iter().enumerate() {
            let row = i as u32 + 1;
            for (col, cell) in cells.iter().enumerate() {
                let col = col as u16;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(text) => {
                        page.write_string(row, col, text).map_err(fail)?;
                    }
                    Cell::Number(n) => {
                        page.write_number(row, col, *n).map_err(fail)?;
                    }
                    Cell::Date(d) => match excel_day(*d) {
                        Ok(d) => page.write_datetime_with_format(row, col, d, &day),
                        // Before 1900 Excel has no dates: the day as text.
                        Err(_) => page.write_string(row, col, d.format("%d/%m/%Y").to_string()),
                    }
                    .map(|_| ())
                    .map_err(fail)?,
                    Cell::DateTime(at) => match excel_time(*at) {
                        Ok(at) => page.write_datetime_with_format(row, col, at, &time),
                        Err(_) => {
                            page.write_string(row, col, at.format("%d/%m/%Y %H:%M").to_string())
                        }
                    }
                    .map(|_| ())
                    .map_err(fail)?,
                }
            }
        }
        if !sheet.header.is_empty() {
            let last_col = sheet.header.len() as u16 - 1;
            page.autofilter(0, 0, sheet.rows.len() as u32, last_col)
                .map_err(fail)?;
            page.set_freeze_panes(1, 0).map_err(fail)?;
        }
        page.set_autofit_max_width(MAX_WIDTH_PIXELS);
        page.autofit();
    }
    out.save_to_buffer().map_err(fail)
}
