//! Charts drawn with `plotters` on any backend: prediction bars, weight histograms,
//! class-coloured scatter plots (e.g. of a 2-D projection) and line charts (e.g. training
//! curves).
//!
//! Every function takes a `plotters` [`DrawingArea`] over any [`DrawingBackend`], so the same
//! code draws into an SVG string natively (as the tests do) and into a browser canvas through
//! `plotters-canvas` on wasm32. Each fills its area white, draws, and presents it.
//!
//! Data are checked first: empty input is an [`Error::Invalid`], a NaN or infinity an
//! [`Error::NonFinite`] naming the index, so a broken model shows a message instead of a
//! misleading picture; constant data get a padded axis instead of a zero-width one. Backend
//! failures become [`Error::Render`].
//!
//! Categorical colours are Tableau 10 (Stone, Tableau Software), via `colorous`.
//!
//! ```
//! use plotters::prelude::*;
//! use nnlens::render::chart::bar_chart;
//! let mut svg = String::new();
//! {
//!     let area = SVGBackend::with_string(&mut svg, (320, 200)).into_drawing_area();
//!     bar_chart(&area, &["cat", "dog"], &[0.8, 0.2], Some(0), "prediction").unwrap();
//! }
//! assert!(svg.contains("prediction") && svg.contains("dog"));
//! ```

use super::colormap::{Colormap, Scale};
use super::numfmt::LabelFormat;
use super::raster::ticks;
use crate::error::{ensure_finite, Error, Result};
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Display;
use std::ops::Range;

/// Fill colour of ordinary bars (Tableau 10 blue, `#4E79A7`).
pub const BAR_COLOR: RGBColor = rgb(colorous::TABLEAU10[0]);
/// Fill colour of the highlighted bar (Tableau 10 orange, `#F28E2B`).
pub const HIGHLIGHT_COLOR: RGBColor = rgb(colorous::TABLEAU10[1]);
/// Largest number of histogram bins accepted.
pub const MAX_BINS: usize = 10_000;
/// At most this many category labels are written under a bar chart; with more bars a subset
/// is labelled.
pub const MAX_BAR_LABELS: usize = 30;

const TITLE_FONT: (&str, u32) = ("sans-serif", 18);
const MARGIN: u32 = 8;
const X_LABEL_AREA: u32 = 30;
const Y_LABEL_AREA: u32 = 50;

const fn rgb(c: colorous::Color) -> RGBColor {
    RGBColor(c.r, c.g, c.b)
}

/// Points from flat `[x0, y0, x1, y1, ...]` values; `what` names them in the error for an
/// odd count.
pub fn xy_pairs(what: &str, flat: &[f32]) -> Result<Vec<(f32, f32)>> {
    if flat.len() % 2 != 0 {
        return Err(Error::shape(format!(
            "{what}: {} values; expected x, y pairs (an even number)",
            flat.len()
        )));
    }
    Ok(flat.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

/// The categorical colour of class or series `index`: Tableau 10, repeating after 10.
pub fn palette(index: usize) -> RGBColor {
    rgb(colorous::TABLEAU10[index % colorous::TABLEAU10.len()])
}

/// A backend or layout failure as [`Error::Render`].
fn render_err(e: impl Display) -> Error {
    Error::Render(e.to_string())
}

/// `[lo, hi]` widened by 5% on each side; a point range becomes `v ± max(|v| / 10, 0.5)`.
fn padded(lo: f64, hi: f64) -> Range<f64> {
    if hi > lo {
        let pad = (hi - lo) * 0.05;
        lo - pad..hi + pad
    } else {
        let pad = (lo.abs() * 0.1).max(0.5);
        lo - pad..hi + pad
    }
}

/// The smallest and largest of `values` (all finite, at least one).
fn min_max(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

fn ensure_not_empty(what: &str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid(what, "none given; there is nothing to draw"));
    }
    Ok(())
}

/// Fills `area` white and draws a titled x-y chart over the given ranges with labelled
/// axes and a grid.
fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: Range<f64>,
    y: Range<f64>,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    let (x_format, y_format) = (
        LabelFormat::axis(x.start, x.end),
        LabelFormat::axis(y.start, y.end),
    );
    area.fill(&WHITE).map_err(render_err)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, TITLE_FONT)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x, y)
        .map_err(render_err)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| x_format.label_trimmed(*v))
        .y_label_formatter(&|v| y_format.label_trimmed(*v))
        .draw()
        .map_err(render_err)?;
    Ok(chart)
}

/// Vertical bars, one per value, labelled with `labels` (or with their indices when `labels`
/// is empty); the bar at `highlight` (e.g. the predicted class) is drawn in
/// [`HIGHLIGHT_COLOR`], the others in [`BAR_COLOR`]. Bars rise from zero, so negative
/// values (logits) hang below the axis.
pub fn bar_chart<DB: DrawingBackend, S: AsRef<str>>(
    area: &DrawingArea<DB, Shift>,
    labels: &[S],
    values: &[f32],
    highlight: Option<usize>,
    title: &str,
) -> Result<()> {
    ensure_not_empty("bar chart values", values.len())?;
    ensure_finite("bar chart values", values.iter().copied())?;
    if !labels.is_empty() && labels.len() != values.len() {
        return Err(Error::shape(format!(
            "bar chart has {} labels for {} values; give one label per value or none",
            labels.len(),
            values.len()
        )));
    }
    if let Some(h) = highlight.filter(|&h| h >= values.len()) {
        return Err(Error::invalid(
            "bar chart highlight",
            format!("{h}; expected an index below {}", values.len()),
        ));
    }
    let n = values.len();
    let (lo, hi) = min_max(values.iter().map(|&v| f64::from(v)));
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let y_range = if hi > lo {
        let pad = (hi - lo) * 0.05;
        (if lo < 0.0 { lo - pad } else { 0.0 })..(if hi > 0.0 { hi + pad } else { 0.0 })
    } else {
        0.0..1.0
    };

    let y_format = LabelFormat::axis(y_range.start, y_range.end);
    let y_label = |v: &f64| y_format.label_trimmed(*v);

    area.fill(&WHITE).map_err(render_err)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, TITLE_FONT)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((0..n).into_segmented(), y_range)
        .map_err(render_err)?;
    let label_of = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if *i < n => match labels.get(*i) {
            Some(label) => label.as_ref().to_string(),
            None => i.to_string(),
        },
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(6)
        .x_labels(n.min(MAX_BAR_LABELS))
        .x_label_formatter(&label_of)
        .y_label_formatter(&y_label)
        .draw()
        .map_err(render_err)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, &v)| {
            let color = if highlight == Some(i) {
                HIGHLIGHT_COLOR
            } else {
                BAR_COLOR
            };
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), f64::from(v)),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 2, 2);
            bar
        }))
        .map_err(render_err)?;
    area.present().map_err(render_err)
}

/// Values counted into equal-width bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Left edge of the first bin.
    pub lo: f64,
    /// Right edge of the last bin.
    pub hi: f64,
    /// The number of values in each bin.
    pub counts: Vec<usize>,
}

impl Bins {
    /// `values` (finite, at least one) counted into `bins` equal bins over their range; a
    /// value on an inner edge belongs to the bin on its right, the maximum to the last bin.
    /// Constant values get the range `v ± max(|v| / 10, 0.5)`. `bins` is in `1..=MAX_BINS`.
    ///
    /// ```
    /// use nnlens::render::chart::Bins;
    /// let b = Bins::new(&[0.0, 0.1, 0.5, 1.0], 2).unwrap();
    /// assert_eq!((b.lo, b.hi, b.counts), (0.0, 1.0, vec![2, 2]));
    /// ```
    pub fn new(values: &[f32], bins: usize) -> Result<Self> {
        ensure_not_empty("histogram values", values.len())?;
        ensure_finite("histogram values", values.iter().copied())?;
        if bins == 0 || bins > MAX_BINS {
            return Err(Error::invalid(
                "histogram bins",
                format!("{bins}; expected 1 to {MAX_BINS}"),
            ));
        }
        let (lo, hi) = min_max(values.iter().map(|&v| f64::from(v)));
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            let r = padded(lo, hi);
            (r.start, r.end)
        };
        let mut counts = vec![0usize; bins];
        let scale = bins as f64 / (hi - lo);
        for &v in values {
            let bin = ((f64::from(v) - lo) * scale).floor().max(0.0) as usize;
            counts[bin.min(bins - 1)] += 1;
        }
        Ok(Bins { lo, hi, counts })
    }

    /// The left and right edge of bin `i`.
    pub fn edges(&self, i: usize) -> (f64, f64) {
        let width = (self.hi - self.lo) / self.counts.len() as f64;
        (self.lo + width * i as f64, self.lo + width * (i + 1) as f64)
    }
}

/// A histogram of `values` in `bins` equal bins (see [`Bins::new`]); empty bins draw nothing.
pub fn histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    values: &[f32],
    bins: usize,
    title: &str,
) -> Result<()> {
    let binned = Bins::new(values, bins)?;
    let top = binned.counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.05;
    let x_format = LabelFormat::axis(binned.lo, binned.hi);
    let x_label = |v: &f64| x_format.label_trimmed(*v);
    // Counts are whole numbers: label only the whole grid lines.
    let count_label = |c: &f64| {
        if (c - c.round()).abs() < 1e-9 {
            format!("{}", c.round())
        } else {
            String::new()
        }
    };

    area.fill(&WHITE).map_err(render_err)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, TITLE_FONT)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(binned.lo..binned.hi, 0.0..top)
        .map_err(render_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&x_label)
        .y_label_formatter(&count_label)
        .draw()
        .map_err(render_err)?;
    chart
        .draw_series(
            binned
                .counts
                .iter()
                .enumerate()
                .filter(|(_, &count)| count > 0)
                .map(|(i, &count)| {
                    let (left, right) = binned.edges(i);
                    Rectangle::new([(left, 0.0), (right, count as f64)], BAR_COLOR.filled())
                }),
        )
        .map_err(render_err)?;
    area.present().map_err(render_err)
}

/// Where a chart's data landed on its drawing area: the data ranges of the axes and the pixel
/// rectangle of the plotting area, so a pointer position can be mapped back to data coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotArea {
    /// Data range of the x axis (left to right).
    pub x: (f64, f64),
    /// Data range of the y axis (bottom to top).
    pub y: (f64, f64),
    /// Pixel range of the plotting area, left and right.
    pub pixels_x: (i32, i32),
    /// Pixel range of the plotting area, top and bottom.
    pub pixels_y: (i32, i32),
}

impl PlotArea {
    /// The data coordinates under pixel `(px, py)`.
    pub fn to_data(&self, px: f64, py: f64) -> (f64, f64) {
        let fx = (px - self.pixels_x.0 as f64) / (self.pixels_x.1 - self.pixels_x.0).max(1) as f64;
        let fy = (py - self.pixels_y.0 as f64) / (self.pixels_y.1 - self.pixels_y.0).max(1) as f64;
        (
            self.x.0 + fx * (self.x.1 - self.x.0),
            self.y.1 - fy * (self.y.1 - self.y.0),
        )
    }
}

/// A scatter plot of `points`, point `i` filled with [`palette`]`(classes[i])`; no legend.
/// `classes` has one entry per point. Returns where the data landed, for pointer look-ups.
pub fn scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[(f32, f32)],
    classes: &[u8],
    title: &str,
) -> Result<PlotArea> {
    ensure_not_empty("scatter points", points.len())?;
    if classes.len() != points.len() {
        return Err(Error::shape(format!(
            "scatter has {} classes for {} points; expected one class per point",
            classes.len(),
            points.len()
        )));
    }
    ensure_finite("scatter x", points.iter().map(|p| p.0))?;
    ensure_finite("scatter y", points.iter().map(|p| p.1))?;
    let (x0, x1) = min_max(points.iter().map(|p| f64::from(p.0)));
    let (y0, y1) = min_max(points.iter().map(|p| f64::from(p.1)));
    let (xr, yr) = (padded(x0, x1), padded(y0, y1));
    let mut chart = axes(area, title, xr.clone(), yr.clone())?;
    chart
        .draw_series(points.iter().zip(classes).map(|(&(x, y), &class)| {
            Circle::new(
                (f64::from(x), f64::from(y)),
                3,
                palette(usize::from(class)).filled(),
            )
        }))
        .map_err(render_err)?;
    let (pixels_x, pixels_y) = chart.plotting_area().get_pixel_range();
    area.present().map_err(render_err)?;
    Ok(PlotArea {
        x: (xr.start, xr.end),
        y: (yr.start, yr.end),
        pixels_x: (pixels_x.start, pixels_x.end),
        pixels_y: (pixels_y.start, pixels_y.end),
    })
}

/// One line per named series, series `i` in [`palette`]`(i)`, with a legend of the names.
/// A series with a single point is drawn as a dot. Series may be empty, but not all of them.
pub fn line_chart<DB: DrawingBackend, S: AsRef<str>>(
    area: &DrawingArea<DB, Shift>,
    series: &[(S, Vec<(f32, f32)>)],
    title: &str,
) -> Result<()> {
    ensure_not_empty(
        "line chart points",
        series.iter().map(|(_, points)| points.len()).sum(),
    )?;
    for (name, points) in series {
        let name = name.as_ref();
        ensure_finite(&format!("series '{name}' x"), points.iter().map(|p| p.0))?;
        ensure_finite(&format!("series '{name}' y"), points.iter().map(|p| p.1))?;
    }
    let all = || series.iter().flat_map(|(_, points)| points.iter());
    let (x0, x1) = min_max(all().map(|p| f64::from(p.0)));
    let (y0, y1) = min_max(all().map(|p| f64::from(p.1)));
    let mut chart = axes(area, title, padded(x0, x1), padded(y0, y1))?;
    for (i, (name, points)) in series.iter().enumerate() {
        let color = palette(i);
        let coords = points.iter().map(|&(x, y)| (f64::from(x), f64::from(y)));
        let drawn = if points.len() == 1 {
            chart.draw_series(coords.map(|p| Circle::new(p, 3, color.filled())))
        } else {
            chart.draw_series(LineSeries::new(coords, color.stroke_width(2)))
        };
        drawn
            .map_err(render_err)?
            .label(name.as_ref())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(render_err)?;
    area.present().map_err(render_err)
}

/// A vertical colorbar: the colormap as a bar at the left of `area` (low values at the bottom),
/// with about five "nice" ticks of `scale` (see [`ticks`]) labelled to its right.
pub fn colorbar_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    colormap: Colormap,
    scale: &Scale,
) -> Result<()> {
    let (width, height) = area.dim_in_pixel();
    let (bar_width, pad) = (14i32, 6i32);
    let length = height as i32 - 2 * pad;
    if length < 8 || (width as i32) < bar_width + 4 {
        return Err(Error::invalid(
            "colorbar size",
            format!(
                "{width}x{height} pixels is too small; expected at least {}x{}",
                bar_width + 4,
                2 * pad + 8
            ),
        ));
    }
    area.fill(&WHITE).map_err(render_err)?;
    let lut = colormap.lut();
    for i in 0..length {
        let [r, g, b, _] = lut.at((i as f32 + 0.5) / length as f32);
        let y = pad + length - 1 - i;
        area.draw(&Rectangle::new(
            [(0, y), (bar_width, y + 1)],
            RGBColor(r, g, b).filled(),
        ))
        .map_err(render_err)?;
    }
    area.draw(&Rectangle::new(
        [(0, pad), (bar_width, pad + length)],
        BLACK.stroke_width(1),
    ))
    .map_err(render_err)?;
    let font = ("sans-serif", 11)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for tick in ticks(scale, 5)? {
        let y = pad + length - (tick.fraction * length as f32).round() as i32;
        area.draw(&PathElement::new(
            [(bar_width, y), (bar_width + 4, y)],
            BLACK.stroke_width(1),
        ))
        .map_err(render_err)?;
        area.draw(&Text::new(tick.label, (bar_width + 6, y), font.clone()))
            .map_err(render_err)?;
    }
    area.present().map_err(render_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xy_pairs_pair_up_an_even_count() {
        assert_eq!(
            xy_pairs("points", &[1.0, 2.0, 3.0, 4.0]).unwrap(),
            [(1.0, 2.0), (3.0, 4.0)]
        );
        assert!(xy_pairs("points", &[]).unwrap().is_empty());
        let err = xy_pairs("scatter points", &[1.0, 2.0, 3.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scatter points: 3 values; expected x, y pairs"),
            "{err}"
        );
    }

    /// Runs `draw` on an SVG area of `size` and returns the SVG text.
    fn svg(
        size: (u32, u32),
        draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    ) -> Result<String> {
        let mut out = String::new();
        {
            let area = SVGBackend::with_string(&mut out, size).into_drawing_area();
            draw(&area)?;
        }
        Ok(out)
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// The text of every `<text>` element.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|e| Some(e.split_once('>')?.1.split_once("</text>")?.0.trim()))
            .collect()
    }

    /// SVG elements `<tag ...>` whose fill is `color`.
    #[test]
    fn scatter_reports_where_points_land() {
        let mut mapped = None;
        svg((400, 300), |a| {
            mapped = Some(scatter(a, &[(0.0, 0.0), (10.0, 5.0)], &[0, 1], "p")?);
            Ok(())
        })
        .unwrap();
        let area = mapped.unwrap();
        let (l, r) = area.pixels_x;
        let (t, b) = area.pixels_y;
        assert!(l < r && t < b && r <= 400 && b <= 300);
        let (x, y) = area.to_data(l as f64, b as f64);
        assert!((x - area.x.0).abs() < 1e-9 && (y - area.y.0).abs() < 1e-9);
        let (x, y) = area.to_data(r as f64, t as f64);
        assert!((x - area.x.1).abs() < 1e-9 && (y - area.y.1).abs() < 1e-9);
        assert!(
            area.x.0 < 0.0 && area.x.1 > 10.0,
            "padded range {:?}",
            area.x
        );
    }

    #[test]
    fn colorbar_chart_draws_gradient_and_ticks() {
        let scale = Scale::new(-1.0, 3.0).unwrap();
        let out = svg((80, 160), |a| colorbar_chart(a, Colormap::Viridis, &scale)).unwrap();
        for label in ["-1", "0", "1", "2", "3"] {
            assert!(
                out.contains(&format!(">\n{label}\n<")),
                "tick {label} in {out}"
            );
        }
        // The bar is 160 - 2 * 6 pixels long; its top pixel shows the colour at 147.5 / 148.
        let [r, g, b, _] = Colormap::Viridis.lut().at(147.5 / 148.0);
        let top = format!("<rect x=\"0\" y=\"6\" width=\"14\" height=\"1\" opacity=\"1\" fill=\"#{r:02X}{g:02X}{b:02X}\"");
        assert!(out.contains(&top), "top colour of the bar");
        assert!(svg((10, 10), |a| colorbar_chart(a, Colormap::Viridis, &scale)).is_err());
    }

    fn count_filled(svg: &str, tag: &str, color: RGBColor) -> usize {
        let fill = format!("fill=\"{}\"", hex(color));
        svg.split('<')
            .filter(|e| e.starts_with(tag) && e.contains(&fill))
            .count()
    }

    #[test]
    fn bar_chart_draws_one_bar_per_value_and_highlights_one() {
        let out = svg((400, 300), |a| {
            bar_chart(
                a,
                &["zero", "one", "two", "three"],
                &[0.1, 0.6, 0.2, 0.1],
                Some(1),
                "Top-4",
            )
        })
        .unwrap();
        assert_eq!(count_filled(&out, "rect", BAR_COLOR), 3);
        assert_eq!(count_filled(&out, "rect", HIGHLIGHT_COLOR), 1);
        // Grid lines at the labelled values (plotters' bold mesh), none between them (its light
        // mesh, which read as noise).
        assert!(out.contains("<line opacity=\"0.2\""), "{out}");
        assert!(!out.contains("<line opacity=\"0.1\""), "{out}");
        let labels = texts(&out);
        for text in ["Top-4", "zero", "one", "two", "three"] {
            assert!(labels.contains(&text), "{text} missing from {labels:?}");
        }
        let without = svg((400, 300), |a| {
            bar_chart(a, &[] as &[&str], &[1.0, 2.0], None, "t")
        })
        .unwrap();
        assert_eq!(count_filled(&without, "rect", BAR_COLOR), 2);
        assert_eq!(count_filled(&without, "rect", HIGHLIGHT_COLOR), 0);
        let labels = texts(&without);
        assert!(labels.contains(&"0") && labels.contains(&"1"), "{labels:?}");
    }

    #[test]
    fn bar_chart_handles_negative_and_zero_values() {
        let out = svg((300, 200), |a| {
            bar_chart(a, &["a", "b"], &[-2.0, 3.0], None, "logits")
        })
        .unwrap();
        assert_eq!(count_filled(&out, "rect", BAR_COLOR), 2);
        let labels = texts(&out);
        assert!(
            labels.contains(&"0") && labels.contains(&"-2"),
            "{labels:?}"
        );
        assert!(
            !labels.contains(&"-0") && !labels.contains(&"-0.0"),
            "{labels:?}"
        );
        let zeros = svg((300, 200), |a| {
            bar_chart(a, &["a", "b"], &[0.0, 0.0], Some(0), "z")
        })
        .unwrap();
        assert_eq!(count_filled(&zeros, "rect", HIGHLIGHT_COLOR), 1);
    }

    #[test]
    fn bar_chart_rejects_bad_input() {
        let draw = |labels: &[&str], values: &[f32], h| {
            svg((300, 200), |a| bar_chart(a, labels, values, h, "t"))
        };
        assert!(matches!(draw(&[], &[], None), Err(Error::Invalid { .. })));
        assert!(matches!(
            draw(&[], &[1.0, f32::NAN], None),
            Err(Error::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            draw(&["a"], &[1.0, 2.0], None),
            Err(Error::Shape(_))
        ));
        let err = draw(&[], &[1.0, 2.0], Some(2)).unwrap_err();
        assert!(err.to_string().contains("below 2"), "{err}");
    }

    #[test]
    fn bins_count_every_value() {
        let values: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
        let b = Bins::new(&values, 10).unwrap();
        assert_eq!((b.lo, b.hi), (0.0, f64::from(9.9f32)));
        assert_eq!(b.counts.iter().sum::<usize>(), 100);
        assert_eq!(b.counts[0], 10);
        let (l, r) = b.edges(9);
        assert!((r - f64::from(9.9f32)).abs() < 1e-9 && l < r);

        let constant = Bins::new(&[2.0; 5], 3).unwrap();
        assert_eq!(constant.counts, [0, 5, 0]);
        assert!(constant.lo < 2.0 && constant.hi > 2.0);

        let extreme = Bins::new(&[f32::MIN, 0.0, f32::MAX], 2).unwrap();
        assert_eq!(extreme.counts, [1, 2]);

        assert!(Bins::new(&[], 3).is_err());
        assert!(Bins::new(&[1.0, f32::INFINITY], 3).is_err());
        assert!(Bins::new(&[1.0], 0).is_err());
        assert!(Bins::new(&[1.0], MAX_BINS + 1).is_err());
    }

    #[test]
    fn histogram_draws_non_empty_bins() {
        let values = [10.0, 11.0, 12.0, 19.0, 20.0];
        let out = svg((400, 300), |a| histogram(a, &values, 5, "weights")).unwrap();
        let nonempty = Bins::new(&values, 5)
            .unwrap()
            .counts
            .iter()
            .filter(|&&c| c > 0)
            .count();
        assert_eq!(nonempty, 3);
        assert_eq!(count_filled(&out, "rect", BAR_COLOR), nonempty);
        let labels = texts(&out);
        assert!(labels.contains(&"weights"), "{labels:?}");
        // Counts [2, 1, 0, 0, 2]: the count axis is labelled 0, 1, 2 and nothing between.
        assert!(
            ["0", "1", "2"].iter().all(|c| labels.contains(c)),
            "{labels:?}"
        );
        assert!(
            !labels.contains(&"0.5") && !labels.contains(&"1.5"),
            "{labels:?}"
        );
        let constant = svg((400, 300), |a| histogram(a, &[0.0; 10], 4, "dead")).unwrap();
        assert_eq!(count_filled(&constant, "rect", BAR_COLOR), 1);
    }

    #[test]
    fn scatter_colours_points_by_class() {
        let points = [(0.0, 0.0), (1.0, 1.0), (2.0, 0.5), (3.0, 2.0), (0.5, 0.5)];
        let classes = [0, 1, 1, 2, 12];
        let out = svg((400, 300), |a| {
            scatter(a, &points, &classes, "projection").map(drop)
        })
        .unwrap();
        assert_eq!(count_filled(&out, "circle", palette(0)), 1);
        assert_eq!(count_filled(&out, "circle", palette(1)), 2);
        assert_eq!(count_filled(&out, "circle", palette(2)), 2); // class 12 wraps to 2
        assert!(texts(&out).contains(&"projection"));
        let one = svg((400, 300), |a| {
            scatter(a, &[(5.0, 5.0)], &[3], "one").map(drop)
        })
        .unwrap();
        assert_eq!(count_filled(&one, "circle", palette(3)), 1);
        assert!(svg((400, 300), |a| scatter(a, &points, &[0], "t").map(drop)).is_err());
        assert!(svg((400, 300), |a| scatter(a, &[], &[], "t").map(drop)).is_err());
        let err = svg((400, 300), |a| {
            scatter(a, &[(0.0, f32::NAN)], &[0], "t").map(drop)
        })
        .unwrap_err();
        assert!(err.to_string().contains("scatter y"), "{err}");
    }

    #[test]
    fn line_chart_draws_each_series_with_legend() {
        let series = vec![
            ("train", vec![(0.0, 1.0), (1.0, 0.5), (2.0, 0.3)]),
            ("test", vec![(0.0, 1.1), (1.0, 0.7), (2.0, 0.6)]),
            ("single", vec![(1.0, 0.9)]),
            ("empty", vec![]),
        ];
        let out = svg((400, 300), |a| line_chart(a, &series, "loss")).unwrap();
        for name in ["loss", "train", "test", "single", "empty"] {
            assert!(texts(&out).contains(&name), "{name} missing");
        }
        let stroked = |c: RGBColor| {
            let stroke = format!("stroke=\"{}\"", hex(c));
            out.split('<')
                .filter(|e| e.starts_with("polyline") && e.contains(&stroke))
                .count()
        };
        // One line plus one legend sample for each multi-point series.
        assert_eq!(stroked(palette(0)), 2);
        assert_eq!(stroked(palette(1)), 2);
        assert_eq!(count_filled(&out, "circle", palette(2)), 1);

        let flat = vec![("flat", vec![(0.0, 3.0), (0.0, 3.0)])];
        assert!(svg((400, 300), |a| line_chart(a, &flat, "flat")).is_ok());
        let none: Vec<(&str, Vec<(f32, f32)>)> = vec![("a", vec![])];
        assert!(matches!(
            svg((400, 300), |a| line_chart(a, &none, "t")),
            Err(Error::Invalid { .. })
        ));
        let bad = vec![("bad", vec![(f32::INFINITY, 0.0)])];
        let err = svg((400, 300), |a| line_chart(a, &bad, "t")).unwrap_err();
        assert!(err.to_string().contains("series 'bad' x"), "{err}");
    }

    #[test]
    fn tiny_and_extreme_charts_do_not_panic() {
        for size in [(1, 1), (20, 10), (60, 40)] {
            let _ = svg(size, |a| bar_chart(a, &["a"], &[1.0], Some(0), "title"));
            let _ = svg(size, |a| histogram(a, &[1.0, 2.0], 3, "title"));
            let _ = svg(size, |a| scatter(a, &[(0.0, 0.0)], &[0], "title").map(drop));
            let _ = svg(size, |a| {
                line_chart(a, &[("s", vec![(0.0, 0.0), (1.0, 1.0)])], "title")
            });
        }
        let big = [f32::MIN, f32::MAX];
        assert!(svg((300, 200), |a| bar_chart(
            a,
            &[] as &[&str],
            &big,
            None,
            "t"
        ))
        .is_ok());
        assert!(svg((300, 200), |a| histogram(a, &big, 8, "t")).is_ok());
        let pts = [(f32::MIN, f32::MAX), (f32::MAX, f32::MIN)];
        assert!(svg((300, 200), |a| scatter(a, &pts, &[0, 1], "t").map(drop)).is_ok());
        let tiny = [(1e-30, 1e-30), (2e-30, 1e-30)];
        assert!(svg((300, 200), |a| scatter(a, &tiny, &[0, 1], "t").map(drop)).is_ok());
    }
}
