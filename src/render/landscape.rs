//! A loss landscape chart: the loss over a plane of weight space as a heatmap with contour
//! lines, and the training trajectory on it (Li et al. 2018, "Visualizing the Loss Landscape of
//! Neural Nets", figure 9), drawn with `plotters` on any backend.
//!
//! Cells are coloured by the logarithm of the loss when every value is positive (a loss surface
//! spans orders of magnitude from its minimum to its rim, so a linear scale would show only the
//! rim), linearly otherwise. Contour levels are [`contour_levels`], each labelled with its value.
//! The path is drawn as a line through its points; the start is a hollow ring, the end a filled
//! disc, and an optional marked point (a chosen snapshot) a white-and-black ring with a cross.

use super::chart::{palette, PlotArea};
use super::colormap::{Colormap, Scale};
pub use super::contour::MAX_LEVELS;
use super::contour::{contour_levels, contour_lines};
use super::numfmt::LabelFormat;
use crate::error::{ensure_finite, Error, Result};
use crate::project::trajectory::Linspace;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Contour levels of a landscape that asks for no particular number.
pub const DEFAULT_LEVELS: usize = 8;

/// The title of a landscape that is given none.
pub const DEFAULT_TITLE: &str = "loss landscape";

/// What a landscape chart shows.
#[derive(Debug, Clone, Copy)]
pub struct Landscape<'a> {
    /// The loss at each grid point, `alphas.steps × betas.steps`, one row per alpha (the layout
    /// of [`crate::project::landscape::loss_surface`]).
    pub surface: &'a [f32],
    /// The grid's coordinates along the first direction (the chart's x axis).
    pub alphas: Linspace,
    /// The grid's coordinates along the second direction (the chart's y axis).
    pub betas: Linspace,
    /// The trajectory's points on the plane, in order; at least one.
    pub path: &'a [(f32, f32)],
    /// A point of the path to mark, by index.
    pub marked: Option<usize>,
    /// Number of contour levels, at most [`MAX_LEVELS`] (usually [`DEFAULT_LEVELS`]).
    pub levels: usize,
    /// Colormap of the heatmap.
    pub colormap: Colormap,
}

fn render_err(e: impl std::fmt::Display) -> Error {
    Error::Render(e.to_string())
}

/// Draws `landscape` titled `title`; returns where the data landed, for pointer look-ups.
pub fn landscape_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    landscape: &Landscape,
    title: &str,
) -> Result<PlotArea> {
    let Landscape {
        surface,
        alphas,
        betas,
        path,
        marked,
        levels,
        colormap,
    } = *landscape;
    if path.is_empty() {
        return Err(Error::shape(
            "the trajectory path has no point; expected at least one",
        ));
    }
    let lines = contour_lines(surface, &alphas, &betas, &contour_levels(surface, levels)?)?;
    ensure_finite("trajectory x", path.iter().map(|p| p.0))?;
    ensure_finite("trajectory y", path.iter().map(|p| p.1))?;
    if let Some(m) = marked.filter(|&m| m >= path.len()) {
        return Err(Error::invalid(
            "marked point",
            format!("{m} is out of range; the path has {} points", path.len()),
        ));
    }
    let (xv, yv) = (alphas.values()?, betas.values()?);
    let half = |v: &[f32]| f64::from(v[1] - v[0]) / 2.0;
    let (hx, hy) = (half(&xv), half(&yv));
    let extent = |lo: f64, hi: f64, points: &mut dyn Iterator<Item = f64>| {
        points.fold((lo, hi), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let x_range = extent(
        f64::from(alphas.start) - hx,
        f64::from(alphas.end) + hx,
        &mut path.iter().map(|p| f64::from(p.0)),
    );
    let y_range = extent(
        f64::from(betas.start) - hy,
        f64::from(betas.end) + hy,
        &mut path.iter().map(|p| f64::from(p.1)),
    );
    let logarithmic = surface.iter().all(|&v| v > 0.0);
    let shade = |v: f32| if logarithmic { v.ln() } else { v };
    let shaded: Vec<f32> = surface.iter().map(|&v| shade(v)).collect();
    let scale = Scale::fit(colormap, &shaded, None)?;
    let lut = colormap.lut();

    area.fill(&WHITE).map_err(render_err)?;
    let (x_format, y_format) = (
        LabelFormat::axis(x_range.0, x_range.1),
        LabelFormat::axis(y_range.0, y_range.1),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(render_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("direction 1")
        .y_desc("direction 2")
        .x_label_formatter(&|v| x_format.label_trimmed(*v))
        .y_label_formatter(&|v| y_format.label_trimmed(*v))
        .draw()
        .map_err(render_err)?;
    chart
        .draw_series(xv.iter().enumerate().flat_map(|(i, &x)| {
            let (lut, scale, shaded, yv) = (&lut, &scale, &shaded, &yv);
            yv.iter().enumerate().map(move |(j, &y)| {
                let [r, g, b, _] = lut.map(scale, shaded[i * yv.len() + j]);
                let (x, y) = (f64::from(x), f64::from(y));
                Rectangle::new(
                    [(x - hx, y - hy), (x + hx, y + hy)],
                    RGBColor(r, g, b).filled(),
                )
            })
        }))
        .map_err(render_err)?;
    let contour_style = WHITE.mix(0.85).stroke_width(1);
    let label_font = ("sans-serif", 11)
        .into_font()
        .color(&WHITE)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let level_format = LabelFormat::axis(
        lines.first().map_or(0.0, |l| f64::from(l.level)),
        lines.last().map_or(1.0, |l| f64::from(l.level)),
    );
    for line in &lines {
        for polyline in &line.polylines {
            chart
                .draw_series(LineSeries::new(
                    polyline.iter().map(|&(x, y)| (f64::from(x), f64::from(y))),
                    contour_style,
                ))
                .map_err(render_err)?;
        }
        if let Some(longest) = line.polylines.iter().max_by_key(|p| p.len()) {
            let (x, y) = longest[longest.len() / 2];
            chart
                .draw_series([Text::new(
                    level_format.label_trimmed(f64::from(line.level)),
                    (f64::from(x), f64::from(y)),
                    label_font.clone(),
                )])
                .map_err(render_err)?;
        }
    }
    let path_color = palette(1);
    let points: Vec<(f64, f64)> = path
        .iter()
        .map(|&(x, y)| (f64::from(x), f64::from(y)))
        .collect();
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            path_color.stroke_width(2),
        ))
        .map_err(render_err)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 3, path_color.filled())),
        )
        .map_err(render_err)?;
    if let (Some(&start), Some(&end)) = (points.first(), points.last()) {
        chart
            .draw_series([
                Circle::new(start, 7, BLACK.stroke_width(2)),
                Circle::new(end, 7, BLACK.filled()),
            ])
            .map_err(render_err)?;
        let tag = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Bottom));
        chart
            .draw_series(
                [(start, "start"), (end, "end")]
                    .map(|(p, name)| EmptyElement::at(p) + Text::new(name, (9, -7), tag.clone())),
            )
            .map_err(render_err)?;
    }
    if let Some(m) = marked {
        let p = points[m];
        chart
            .draw_series([
                Circle::new(p, 10, WHITE.stroke_width(3)),
                Circle::new(p, 10, BLACK.stroke_width(1)),
            ])
            .map_err(render_err)?;
        chart
            .draw_series([Cross::new(p, 5, BLACK.stroke_width(2))])
            .map_err(render_err)?;
    }
    let (pixels_x, pixels_y) = chart.plotting_area().get_pixel_range();
    area.present().map_err(render_err)?;
    Ok(PlotArea {
        x: x_range,
        y: y_range,
        pixels_x: (pixels_x.start, pixels_x.end),
        pixels_y: (pixels_y.start, pixels_y.end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bowl(steps: usize) -> (Vec<f32>, Linspace) {
        let axis = Linspace {
            start: -1.0,
            end: 1.0,
            steps,
        };
        let v = axis.values().unwrap();
        let surface = v
            .iter()
            .flat_map(|&a| v.iter().map(move |&b| 0.1 + a * a + 2.0 * b * b))
            .collect();
        (surface, axis)
    }

    fn draw(landscape: &Landscape) -> Result<(String, PlotArea)> {
        let mut svg = String::new();
        let area = {
            let root = SVGBackend::with_string(&mut svg, (400, 320)).into_drawing_area();
            landscape_chart(&root, landscape, "loss landscape")?
        };
        Ok((svg, area))
    }

    #[test]
    fn draws_cells_contours_path_and_marks() {
        let (surface, axis) = bowl(9);
        let path = [(0.9, 0.8), (0.5, 0.3), (0.1, 0.05), (0.0, 0.0)];
        let landscape = Landscape {
            surface: &surface,
            alphas: axis,
            betas: axis,
            path: &path,
            marked: Some(1),
            levels: 4,
            colormap: Colormap::Viridis,
        };
        let (svg, area) = draw(&landscape).unwrap();
        assert!(svg.contains("loss landscape") && svg.contains("start") && svg.contains("end"));
        assert!(svg.matches("<rect").count() >= 81, "one rectangle per cell");
        assert!(
            svg.matches("<polyline").count() > 4,
            "contours and the path"
        );
        // The axes cover the cells (half a step beyond the outer grid points).
        assert_eq!(area.x, (-1.125, 1.125));
        let (x, y) = area.to_data(
            f64::from(area.pixels_x.0 + area.pixels_x.1) / 2.0,
            f64::from(area.pixels_y.0 + area.pixels_y.1) / 2.0,
        );
        assert!(x.abs() < 0.02 && y.abs() < 0.02, "{x} {y}");
        let unmarked = draw(&Landscape {
            marked: None,
            ..landscape
        })
        .unwrap()
        .0;
        assert!(unmarked.len() < svg.len(), "the mark adds elements");
    }

    #[test]
    fn the_axes_grow_to_hold_a_path_outside_the_grid() {
        let (surface, axis) = bowl(5);
        let path = [(3.0, -2.0), (0.0, 0.0)];
        let (_, area) = draw(&Landscape {
            surface: &surface,
            alphas: axis,
            betas: axis,
            path: &path,
            marked: None,
            levels: 3,
            colormap: Colormap::Magma,
        })
        .unwrap();
        assert_eq!((area.x.1, area.y.0), (3.0, -2.0));
    }

    #[test]
    fn rejects_bad_marks_and_values() {
        let (mut surface, axis) = bowl(5);
        let landscape = |surface: &[f32], marked| {
            draw(&Landscape {
                surface,
                alphas: axis,
                betas: axis,
                path: &[(0.0, 0.0)],
                marked,
                levels: 3,
                colormap: Colormap::Viridis,
            })
        };
        let err = landscape(&surface, Some(1)).unwrap_err().to_string();
        assert!(err.contains("1 is out of range"), "{err}");
        let too_many = Landscape {
            surface: &surface,
            alphas: axis,
            betas: axis,
            path: &[(0.0, 0.0)],
            marked: None,
            levels: MAX_LEVELS + 1,
            colormap: Colormap::Viridis,
        };
        let err = draw(&too_many).unwrap_err().to_string();
        assert!(err.contains("51 is more than 50 contour levels"), "{err}");
        let no_path = Landscape {
            path: &[],
            levels: DEFAULT_LEVELS,
            ..too_many
        };
        let err = draw(&no_path).unwrap_err().to_string();
        assert!(err.contains("no point"), "{err}");
        surface[3] = f32::NAN;
        assert!(landscape(&surface, None).is_err());
    }
}
