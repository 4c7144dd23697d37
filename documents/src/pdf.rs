//! A small page layout over krilla for the printed sheets: A4 pages, a title, headings,
//! labelled fields, wrapped paragraphs, bulleted lists, tables and signature boxes; for
//! the CV, lines of a chosen size and entries kept on one page; for the papers a person
//! takes home, two columns side by side (French left, the person's language right). In
//! DejaVu Sans embedded in the binary (it covers every letter of French, Romanian and
//! Bulgarian).
//!
//! Layout first fills a list of drawing operations per page, then krilla draws them:
//! page breaks are decided before any page is drawn, so each page's footer can say
//! "page i / n". krilla embeds a subset of the font with a ToUnicode map, so the text
//! can be searched and extracted.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

use crate::error::{Error, Result};

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
static REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold.
static BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// A4 in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const TOP: f32 = 48.0;
const BOTTOM: f32 = PAGE_H - 50.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const LABEL_W: f32 = 150.0;

const BODY: f32 = 10.0;
const LEADING: f32 = 1.3;

/// The two columns of a bilingual paper: each this wide, with a gutter between them.
const GUTTER: f32 = 22.0;
const COLUMN_W: f32 = (CONTENT_W - GUTTER) / 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weight {
    Regular,
    Bold,
}

#[derive(Debug, Clone, Copy)]
enum Ink {
    Black,
    Grey,
    Accent,
}

/// How a line of text is printed: its size, weight and ink.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    size: f32,
    weight: Weight,
    ink: Ink,
}

impl Style {
    /// Regular black text.
    pub(crate) const fn plain(size: f32) -> Self {
        Self {
            size,
            weight: Weight::Regular,
            ink: Ink::Black,
        }
    }

    /// Bold black text.
    pub(crate) const fn bold(size: f32) -> Self {
        Self {
            size,
            weight: Weight::Bold,
            ink: Ink::Black,
        }
    }

    /// Regular grey text (a note, a label).
    pub(crate) const fn grey(size: f32) -> Self {
        Self {
            size,
            weight: Weight::Regular,
            ink: Ink::Grey,
        }
    }

    /// Bold text in the accent colour (a title, a heading).
    pub(crate) const fn accent(size: f32) -> Self {
        Self {
            size,
            weight: Weight::Bold,
            ink: Ink::Accent,
        }
    }

    fn height(self) -> f32 {
        self.size * LEADING
    }
}

/// What one column of a bilingual row holds, top to bottom.
#[derive(Debug, Clone)]
pub(crate) enum Run {
    /// Text, wrapped to the column.
    Text(String, Style),
    /// An empty line with a rule under it, to write on by hand.
    WriteIn,
    /// Vertical space.
    Gap(f32),
}

/// One line of a column, laid out.
enum ColumnLine {
    Text(String, Style),
    WriteIn,
    Gap(f32),
}

impl ColumnLine {
    fn height(&self) -> f32 {
        match self {
            Self::Text(_, style) => style.height(),
            Self::WriteIn => BODY * LEADING * 1.8,
            Self::Gap(h) => *h,
        }
    }
}

#[derive(Debug)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        ink: Ink,
        text: String,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
    },
    Frame {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

/// Advance widths of the embedded fonts.
struct Metrics {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

impl Metrics {
    fn new() -> Result<Self> {
        let read = |data: &'static [u8]| {
            FontRef::new(data).map_err(|_| Error::Pdf("the embedded font does not read".into()))
        };
        Ok(Self {
            regular: read(REGULAR)?,
            bold: read(BOLD)?,
        })
    }

    fn width(&self, text: &str, size: f32, weight: Weight) -> f32 {
        let font = match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
        text.chars()
            .map(|c| {
                let glyph = charmap.map(c).unwrap_or_default();
                metrics.advance_width(glyph).unwrap_or(size * 0.6)
            })
            .sum()
    }

    /// Splits `text` into lines no wider than `width`: at spaces, and inside a word only
    /// when the word alone is wider. Line breaks of the text are kept.
    fn wrap(&self, text: &str, size: f32, weight: Weight, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, weight) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // The word alone: break it where it overflows.
                for c in word.chars() {
                    line.push(c);
                    if self.width(&line, size, weight) > width && line.chars().count() > 1 {
                        line.pop();
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    }
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// A document being laid out.
pub(crate) struct Sheet {
    metrics: Metrics,
    pages: Vec<Vec<Op>>,
    y: f32,
    footer: String,
    page_word: String,
}

impl Sheet {
    /// An empty document whose pages end with `footer` and their number.
    pub(crate) fn new(footer: impl Into<String>) -> Result<Self> {
        Ok(Self {
            metrics: Metrics::new()?,
            pages: vec![Vec::new()],
            y: TOP,
            footer: footer.into(),
            page_word: "page".to_owned(),
        })
    }

    /// The word the footers say "page" with, for a document in another language.
    pub(crate) fn set_page_word(&mut self, word: &str) {
        self.page_word = word.to_owned();
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page when less than `height` is left on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM && self.y > TOP {
            self.pages.push(Vec::new());
            self.y = TOP;
        }
    }

    /// Starts a new page.
    pub(crate) fn page_break(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    fn text(&mut self, x: f32, size: f32, weight: Weight, ink: Ink, text: &str) {
        let y = self.y + size;
        self.ops().push(Op::Text {
            x,
            y,
            size,
            weight,
            ink,
            text: text.to_owned(),
        });
    }

    /// Vertical space.
    pub(crate) fn space(&mut self, height: f32) {
        self.y += height;
    }

    /// The document's title, large and bold, with a line under it.
    pub(crate) fn title(&mut self, text: &str) {
        let size = 18.0;
        for line in self.metrics.wrap(text, size, Weight::Bold, CONTENT_W) {
            self.room(size * LEADING);
            self.text(MARGIN, size, Weight::Bold, Ink::Accent, &line);
            self.y += size * LEADING;
        }
    }

    /// A small grey line of text (the organisation, the date of printing).
    pub(crate) fn note(&mut self, text: &str) {
        let size = 9.0;
        for line in self.metrics.wrap(text, size, Weight::Regular, CONTENT_W) {
            self.room(size * LEADING);
            self.text(MARGIN, size, Weight::Regular, Ink::Grey, &line);
            self.y += size * LEADING;
        }
    }

    /// A section heading with a rule under it; never alone at the foot of a page.
    pub(crate) fn heading(&mut self, text: &str) {
        self.heading_sized(text, 12.0, 6.0);
    }

    /// A section heading of `size` after `before` of space, with a rule under it; never
    /// alone at the foot of a page.
    pub(crate) fn heading_sized(&mut self, text: &str, size: f32, before: f32) {
        self.space(before);
        self.room(size * LEADING + 4.0 + 3.0 * BODY * LEADING);
        self.text(MARGIN, size, Weight::Bold, Ink::Accent, text);
        self.y += size * LEADING;
        self.rule();
        self.y += 5.0;
    }

    /// A thin rule across the page at the current height.
    fn rule(&mut self) {
        let y = self.y;
        self.ops().push(Op::Line {
            x1: MARGIN,
            y1: y,
            x2: MARGIN + CONTENT_W,
            y2: y,
            width: 0.6,
        });
    }

    /// Text in `style`, wrapped to the page's width less `indent`, with no space after.
    pub(crate) fn lines(&mut self, text: &str, style: Style, indent: f32) {
        let wrapped = self
            .metrics
            .wrap(text, style.size, style.weight, CONTENT_W - indent);
        for line in wrapped {
            self.room(style.height());
            self.text(MARGIN + indent, style.size, style.weight, style.ink, &line);
            self.y += style.height();
        }
    }

    /// An item of a bulleted list in text of `size`, with no space after.
    pub(crate) fn bullet_sized(&mut self, text: &str, size: f32) {
        let indent = size * 1.4;
        let lines = self
            .metrics
            .wrap(text, size, Weight::Regular, CONTENT_W - indent);
        for (i, line) in lines.iter().enumerate() {
            self.room(size * LEADING);
            if i == 0 {
                self.text(MARGIN + 2.0, size, Weight::Regular, Ink::Accent, "•");
            }
            self.text(MARGIN + indent, size, Weight::Regular, Ink::Black, line);
            self.y += size * LEADING;
        }
    }

    /// An entry of a CV: its first line in bold, the following ones in regular text
    /// indented under it, all of it on one page when it fits on one.
    pub(crate) fn entry(&mut self, heading: &str, details: &[String], size: f32) {
        let indent = size;
        let head = self.metrics.wrap(heading, size, Weight::Bold, CONTENT_W);
        let rest: Vec<String> = details
            .iter()
            .flat_map(|d| {
                self.metrics
                    .wrap(d, size, Weight::Regular, CONTENT_W - indent)
            })
            .collect();
        let height = (head.len() + rest.len()) as f32 * size * LEADING;
        if height <= BOTTOM - TOP {
            self.room(height);
        }
        for line in &head {
            self.room(size * LEADING);
            self.text(MARGIN, size, Weight::Bold, Ink::Black, line);
            self.y += size * LEADING;
        }
        for line in &rest {
            self.room(size * LEADING);
            self.text(MARGIN + indent, size, Weight::Regular, Ink::Black, line);
            self.y += size * LEADING;
        }
    }

    /// How many pages the document has so far.
    pub(crate) fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// A row of two columns side by side, French on the left and the person's language
    /// on the right, with a rule between them. Each column's runs are wrapped to its
    /// width; the two columns' lines go down together, so a row that does not fit on
    /// the page carries on at the top of the next. A row shorter than a third of a page
    /// is kept on one page.
    pub(crate) fn columns(&mut self, left: &[Run], right: &[Run]) {
        let left = self.column_lines(left);
        let right = self.column_lines(right);
        let rows = left.len().max(right.len());
        let height_at = |i: usize| {
            let l = left.get(i).map_or(0.0, ColumnLine::height);
            let r = right.get(i).map_or(0.0, ColumnLine::height);
            l.max(r)
        };
        let total: f32 = (0..rows).map(height_at).sum();
        if total <= (BOTTOM - TOP) / 3.0 {
            self.room(total);
        }
        for i in 0..rows {
            let height = height_at(i);
            self.room(height);
            let top = self.y;
            for (x, line) in [
                (MARGIN, left.get(i)),
                (MARGIN + COLUMN_W + GUTTER, right.get(i)),
            ] {
                self.y = top;
                match line {
                    Some(ColumnLine::Text(text, style)) => {
                        self.text(x, style.size, style.weight, style.ink, text);
                    }
                    Some(ColumnLine::WriteIn) => {
                        let y = top + height - 2.0;
                        self.ops().push(Op::Line {
                            x1: x,
                            y1: y,
                            x2: x + COLUMN_W,
                            y2: y,
                            width: 0.5,
                        });
                    }
                    Some(ColumnLine::Gap(_)) | None => {}
                }
            }
            let middle = MARGIN + COLUMN_W + GUTTER / 2.0;
            self.ops().push(Op::Line {
                x1: middle,
                y1: top,
                x2: middle,
                y2: top + height,
                width: 0.5,
            });
            self.y = top + height;
        }
    }

    fn column_lines(&self, runs: &[Run]) -> Vec<ColumnLine> {
        let mut out = Vec::new();
        for run in runs {
            match run {
                Run::Text(text, style) => out.extend(
                    self.metrics
                        .wrap(text, style.size, style.weight, COLUMN_W)
                        .into_iter()
                        .map(|line| ColumnLine::Text(line, *style)),
                ),
                Run::WriteIn => out.push(ColumnLine::WriteIn),
                Run::Gap(h) => out.push(ColumnLine::Gap(*h)),
            }
        }
        out
    }

    /// A heading in both columns, with a rule across the page under it; never alone at
    /// the foot of a page.
    pub(crate) fn column_heading(&mut self, left: &str, right: &str) {
        let style = Style::accent(12.0);
        self.space(8.0);
        let lines = self
            .metrics
            .wrap(left, style.size, style.weight, COLUMN_W)
            .len()
            .max(
                self.metrics
                    .wrap(right, style.size, style.weight, COLUMN_W)
                    .len(),
            );
        self.room(lines as f32 * style.height() + 4.0 + 3.0 * BODY * LEADING);
        self.columns(
            &[Run::Text(left.to_owned(), style)],
            &[Run::Text(right.to_owned(), style)],
        );
        self.y += 1.0;
        self.rule();
        self.y += 5.0;
    }

    /// A labelled value: the label in bold on the left, the value wrapped on the right.
    /// An empty value prints as a dash, so a blank on the sheet is visibly empty.
    pub(crate) fn field(&mut self, label: &str, value: &str) {
        let value = if value.trim().is_empty() {
            "—"
        } else {
            value
        };
        let labels = self.metrics.wrap(label, BODY, Weight::Bold, LABEL_W - 8.0);
        let values = self
            .metrics
            .wrap(value, BODY, Weight::Regular, CONTENT_W - LABEL_W);
        let rows = labels.len().max(values.len());
        for i in 0..rows {
            self.room(BODY * LEADING);
            if let Some(l) = labels.get(i) {
                self.text(MARGIN, BODY, Weight::Bold, Ink::Black, l);
            }
            if let Some(v) = values.get(i) {
                self.text(MARGIN + LABEL_W, BODY, Weight::Regular, Ink::Black, v);
            }
            self.y += BODY * LEADING;
        }
        self.y += 2.0;
    }

    /// A paragraph of wrapped text; an empty one prints as a dash.
    pub(crate) fn paragraph(&mut self, text: &str) {
        let text = if text.trim().is_empty() { "—" } else { text };
        for line in self.metrics.wrap(text, BODY, Weight::Regular, CONTENT_W) {
            self.room(BODY * LEADING);
            self.text(MARGIN, BODY, Weight::Regular, Ink::Black, &line);
            self.y += BODY * LEADING;
        }
        self.y += 2.0;
    }

    /// An item of a bulleted list: a bullet, and the text wrapped beside it.
    pub(crate) fn bullet(&mut self, text: &str) {
        let indent = 14.0;
        let lines = self
            .metrics
            .wrap(text, BODY, Weight::Regular, CONTENT_W - indent);
        for (i, line) in lines.iter().enumerate() {
            self.room(BODY * LEADING);
            if i == 0 {
                self.text(MARGIN + 3.0, BODY, Weight::Regular, Ink::Black, "•");
            }
            self.text(MARGIN + indent, BODY, Weight::Regular, Ink::Black, line);
            self.y += BODY * LEADING;
        }
        self.y += 2.0;
    }

    /// A table: a bold header row, then one row per entry, cells wrapped in columns of
    /// the given shares of the width, rules between rows. The header is repeated on
    /// each page the table runs onto. No rows prints `empty` instead.
    pub(crate) fn table(
        &mut self,
        headers: &[&str],
        shares: &[f32],
        rows: &[Vec<String>],
        empty: &str,
    ) {
        if rows.is_empty() {
            self.paragraph(empty);
            return;
        }
        let total: f32 = shares.iter().sum::<f32>().max(f32::EPSILON);
        let widths: Vec<f32> = shares.iter().map(|s| s / total * CONTENT_W).collect();
        let size = 9.0;
        let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        let header_height = self.row_height(&header, &widths, size, Weight::Bold);
        let first = rows
            .first()
            .map_or(0.0, |r| self.row_height(r, &widths, size, Weight::Regular));
        self.room(header_height + first);
        self.table_row(&header, &widths, size, Weight::Bold);
        for row in rows {
            let height = self.row_height(row, &widths, size, Weight::Regular);
            if self.y + height > BOTTOM {
                self.page_break();
                self.table_row(&header, &widths, size, Weight::Bold);
            }
            self.table_row(row, &widths, size, Weight::Regular);
        }
        self.y += 4.0;
    }

    fn wrap_cells(
        &self,
        cells: &[String],
        widths: &[f32],
        size: f32,
        weight: Weight,
    ) -> Vec<Vec<String>> {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| self.metrics.wrap(c, size, weight, w - 6.0))
            .collect()
    }

    fn row_height(&self, cells: &[String], widths: &[f32], size: f32, weight: Weight) -> f32 {
        let lines = self
            .wrap_cells(cells, widths, size, weight)
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .max(1);
        lines as f32 * size * LEADING + 5.0
    }

    fn table_row(&mut self, cells: &[String], widths: &[f32], size: f32, weight: Weight) {
        let wrapped = self.wrap_cells(cells, widths, size, weight);
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = lines as f32 * size * LEADING + 5.0;
        let top = self.y;
        let mut x = MARGIN;
        for (cell, w) in wrapped.iter().zip(widths) {
            self.y = top + 2.0;
            for line in cell {
                self.text(x, size, weight, Ink::Black, line);
                self.y += size * LEADING;
            }
            x += w;
        }
        self.y = top + height;
        let y = self.y;
        self.ops().push(Op::Line {
            x1: MARGIN,
            y1: y,
            x2: MARGIN + CONTENT_W,
            y2: y,
            width: if weight == Weight::Bold { 0.6 } else { 0.25 },
        });
    }

    /// Boxes side by side for signatures, each with its caption above.
    pub(crate) fn signatures(&mut self, captions: &[&str]) {
        let height = 62.0;
        self.space(8.0);
        self.room(height + 2.0 * BODY * LEADING);
        let n = captions.len().max(1) as f32;
        let gap = 20.0;
        let w = (CONTENT_W - gap * (n - 1.0)) / n;
        let top = self.y;
        for (i, caption) in captions.iter().enumerate() {
            let x = MARGIN + i as f32 * (w + gap);
            self.y = top;
            self.text(x, 9.0, Weight::Bold, Ink::Black, caption);
            let y = top + 9.0 * LEADING + 3.0;
            self.ops().push(Op::Frame { x, y, w, h: height });
        }
        self.y = top + 9.0 * LEADING + 3.0 + height + 6.0;
    }

    /// Draws every page and returns the PDF's bytes; the document is in French.
    pub(crate) fn finish(self, title: &str) -> Result<Vec<u8>> {
        self.finish_in(title, "fr")
    }

    /// Draws every page and returns the PDF's bytes; the document's language is
    /// `language` (a BCP 47 tag: `fr`, `ro`, `bg`).
    pub(crate) fn finish_in(self, title: &str, language: &str) -> Result<Vec<u8>> {
        let fail = |what: &str| Error::Pdf(format!("it could not be drawn: {what}"));
        let regular =
            Font::new(REGULAR.into(), 0).ok_or_else(|| fail("the embedded font does not read"))?;
        let bold =
            Font::new(BOLD.into(), 0).ok_or_else(|| fail("the embedded font does not read"))?;
        let mut document = Document::new();
        document.set_metadata(
            Metadata::new()
                .title(title.to_owned())
                .language(language.to_owned())
                .creator("Passerelle".to_owned()),
        );
        let count = self.pages.len();
        for (number, mut ops) in self.pages.into_iter().enumerate() {
            let footer = format!(
                "{} — {} {} / {}",
                self.footer,
                self.page_word,
                number + 1,
                count
            );
            ops.push(Op::Text {
                x: MARGIN,
                y: PAGE_H - 30.0,
                size: 8.0,
                weight: Weight::Regular,
                ink: Ink::Grey,
                text: footer,
            });
            let settings =
                PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| fail("page size"))?;
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            for op in &ops {
                match op {
                    Op::Text {
                        x,
                        y,
                        size,
                        weight,
                        ink,
                        text,
                    } => {
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill {
                            paint: color(*ink).into(),
                            ..Fill::default()
                        }));
                        let font = match weight {
                            Weight::Regular => regular.clone(),
                            Weight::Bold => bold.clone(),
                        };
                        surface.draw_text(
                            Point::from_xy(*x, *y),
                            font,
                            *size,
                            text,
                            false,
                            TextDirection::Auto,
                        );
                    }
                    Op::Line {
                        x1,
                        y1,
                        x2,
                        y2,
                        width,
                    } => {
                        let mut path = PathBuilder::new();
                        path.move_to(*x1, *y1);
                        path.line_to(*x2, *y2);
                        if let Some(path) = path.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke {
                                width: *width,
                                paint: color(Ink::Grey).into(),
                                ..Stroke::default()
                            }));
                            surface.draw_path(&path);
                        }
                    }
                    Op::Frame { x, y, w, h } => {
                        let mut path = PathBuilder::new();
                        if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                            path.push_rect(rect);
                        }
                        if let Some(path) = path.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke {
                                width: 0.8,
                                ..Stroke::default()
                            }));
                            surface.draw_path(&path);
                        }
                    }
                }
            }
            surface.finish();
            page.finish();
        }
        document.finish().map_err(|e| Error::Pdf(format!("{e:?}")))
    }
}

fn color(ink: Ink) -> rgb::Color {
    match ink {
        Ink::Black => rgb::Color::new(0, 0, 0),
        Ink::Grey => rgb::Color::new(100, 100, 100),
        Ink::Accent => rgb::Color::new(20, 70, 120),
    }
}
