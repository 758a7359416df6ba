//! Shared drawing pieces: the embedded font, colours, and labelled heat-map grids.
//!
//! Every label is drawn with DejaVu Sans compiled into the binary (Bitstream Vera
//! licence, `assets/fonts/`), so reports render the same on a machine with no
//! system fonts at all.

use anyhow::{Context as _, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::Once;

pub const FONT: &str = "sans-serif";
static REGISTER: Once = Once::new();

/// Makes the embedded font the one behind [`FONT`]; safe to call repeatedly.
pub fn register_font() {
    REGISTER.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font(FONT, style, bytes)
                .unwrap_or_else(|_| panic!("embedded DejaVuSans.ttf is a valid font"));
        }
    });
}

/// Colours for method lines, distinguishable and colour-blind friendly (Okabe–Ito).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

/// White → dark blue for values in [0, 1].
pub fn heat(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    RGBColor(lerp(255.0, 8.0), lerp(255.0, 48.0), lerp(255.0, 107.0))
}

/// Black text on light cells, white on dark ones.
pub fn ink(v: f64) -> RGBColor {
    if v > 0.55 {
        WHITE
    } else {
        BLACK
    }
}

pub fn text_style(size: f64, hpos: HPos, vpos: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).pos(Pos::new(hpos, vpos))
}

/// Width in pixels of `text` at `size`, from the embedded font's metrics.
pub fn text_width(text: &str, size: f64) -> u32 {
    let font = (FONT, size).into_font();
    font.box_size(text)
        .map(|(w, _)| w)
        .unwrap_or((text.len() as f64 * size * 0.6) as u32)
}

/// Renders a PNG of `size` with `draw` and saves it. `dir` is the report's
/// temporary folder, so the file only becomes visible with the whole report.
pub fn png<F>(path: &Path, size: (u32, u32), draw: F) -> Result<()>
where
    F: FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
{
    register_font();
    let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
        draw(&root)?;
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
    }
    // Encoded here and written by emo itself rather than by plotters, whose error
    // drops the operating system's: a full disk or a read-only folder must reach
    // the user as that (exit 2, see error.rs), not as an internal failure.
    let mut encoded = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut encoded, size.0, size.1);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Flat colours and text compress well with per-row filters and the best
        // deflate: the reference reports are committed, a 28-label grid costs a
        // third of the bytes this way, and encoding stays well under a second.
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        enc.write_header()
            .and_then(|mut w| w.write_image_data(&pixels))
            .map_err(|e| anyhow::anyhow!("encoding {}: {e}", path.display()))?;
    }
    std::fs::write(path, &encoded).with_context(|| format!("cannot write {}", path.display()))
}

/// A labelled grid of coloured cells: `values[r][c]` in [0, 1] sets the colour,
/// `texts[r][c]` is written in the cell. Row labels on the left, column labels
/// rotated under the grid. Returns nothing; draws into `area` at its origin.
pub struct Grid<'a> {
    pub title: &'a str,
    pub row_title: &'a str,
    pub col_title: &'a str,
    pub rows: &'a [String],
    pub cols: &'a [String],
    pub values: Vec<Vec<f64>>,
    pub texts: Vec<Vec<String>>,
    pub cell: u32,
}

impl<'a> Grid<'a> {
    /// The same labels and layout with no cells, to build a sibling grid from.
    pub fn labels_only(&self) -> Grid<'a> {
        Grid {
            values: Vec::new(),
            texts: Vec::new(),
            ..*self
        }
    }

    pub fn label_size(&self) -> f64 {
        (self.cell as f64 * 0.55).clamp(10.0, 15.0)
    }

    /// Pixel size the grid needs with its labels.
    pub fn size(&self) -> (u32, u32) {
        let ls = self.label_size();
        let left = self
            .rows
            .iter()
            .map(|r| text_width(r, ls))
            .max()
            .unwrap_or(0)
            + 40;
        let bottom = self
            .cols
            .iter()
            .map(|c| text_width(c, ls))
            .max()
            .unwrap_or(0)
            + 40;
        let w = left + self.cell * self.cols.len() as u32 + 20;
        let h = 50 + self.cell * self.rows.len() as u32 + bottom;
        (w, h)
    }

    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("drawing a grid: {e:?}");
        let ls = self.label_size();
        let left = (self
            .rows
            .iter()
            .map(|r| text_width(r, ls))
            .max()
            .unwrap_or(0)
            + 40) as i32;
        let top = 50i32;
        let cell = self.cell as i32;
        let (w, _) = self.size();
        area.draw(&Text::new(
            self.title.to_string(),
            (w as i32 / 2, 18),
            text_style(18.0, HPos::Center, VPos::Center),
        ))
        .map_err(err)?;
        let value_size = (self.cell as f64 * 0.42).clamp(8.0, 16.0);
        for (r, row) in self.values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let (x0, y0) = (left + c as i32 * cell, top + r as i32 * cell);
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    heat(v).filled(),
                ))
                .map_err(err)?;
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    RGBColor(220, 220, 220).stroke_width(1),
                ))
                .map_err(err)?;
                let t = &self.texts[r][c];
                if !t.is_empty() {
                    let color = ink(v);
                    let style = text_style(value_size, HPos::Center, VPos::Center).color(&color);
                    area.draw(&Text::new(t.clone(), (x0 + cell / 2, y0 + cell / 2), style))
                        .map_err(err)?;
                }
            }
        }
        for (r, name) in self.rows.iter().enumerate() {
            let y = top + r as i32 * cell + cell / 2;
            area.draw(&Text::new(
                name.clone(),
                (left - 6, y),
                text_style(ls, HPos::Right, VPos::Center),
            ))
            .map_err(err)?;
        }
        let grid_bottom = top + cell * self.rows.len() as i32;
        for (c, name) in self.cols.iter().enumerate() {
            let x = left + c as i32 * cell + cell / 2;
            let style = TextStyle::from((FONT, ls).into_font().transform(FontTransform::Rotate270))
                .pos(Pos::new(HPos::Right, VPos::Center));
            area.draw(&Text::new(name.clone(), (x, grid_bottom + 6), style))
                .map_err(err)?;
        }
        let grid_w = cell * self.cols.len() as i32;
        area.draw(&Text::new(
            self.col_title.to_string(),
            (
                left + grid_w / 2,
                grid_bottom
                    + 6
                    + self
                        .cols
                        .iter()
                        .map(|c| text_width(c, ls))
                        .max()
                        .unwrap_or(0) as i32
                    + 16,
            ),
            text_style(14.0, HPos::Center, VPos::Center),
        ))
        .map_err(err)?;
        let style = TextStyle::from((FONT, 14.0).into_font().transform(FontTransform::Rotate270))
            .pos(Pos::new(HPos::Center, VPos::Center));
        area.draw(&Text::new(
            self.row_title.to_string(),
            (12, top + cell * self.rows.len() as i32 / 2),
            style,
        ))
        .map_err(err)?;
        Ok(())
    }
}

/// Class names under a chart's x axis, rotated to read bottom-up, one per
/// integer x. (plotters' own axis labels ignore rotation with the embedded-font backend.)
pub fn rotated_x_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    at: impl Fn(f64) -> (i32, i32),
    labels: &[String],
    size: f64,
) -> Result<()> {
    for (i, name) in labels.iter().enumerate() {
        let (x, y) = at(i as f64);
        let style = TextStyle::from((FONT, size).into_font().transform(FontTransform::Rotate270))
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(name.clone(), (x, y + 8), style))
            .map_err(|e| anyhow::anyhow!("drawing axis labels: {e:?}"))?;
    }
    Ok(())
}

/// Height to reserve under a chart for [`rotated_x_labels`] of `labels`.
pub fn text_area(labels: &[String]) -> u32 {
    labels
        .iter()
        .map(|l| text_width(l, 13.0))
        .max()
        .unwrap_or(0)
        + 24
}

/// The y grid and labels of a chart whose x axis is the classes (by index):
/// no x labels here, [`rotated_x_labels`] draws them.
pub fn class_axis_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    y_desc: &str,
) -> Result<()> {
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_desc)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|e| anyhow::anyhow!("drawing chart axes: {e}"))
}
