//! Drawing for JavaScript: heatmaps put straight into a canvas with `putImageData` (one copy
//! from wasm memory, scaled by CSS), and charts drawn by plotters through a HiDPI-aware canvas
//! backend. Charts measure text through the DOM, so they are drawn on the main thread.

use super::hidpi::HiDpi;
use super::inputs::{canvas as canvas_element, count, dims, floats, optional_count, strings, text};
use super::js_error;
use super::model::Trace;
use super::options::{object, read_options};
use crate::render::chart::{
    bar_chart, colorbar_chart, histogram, line_chart, scatter, xy_pairs, PlotArea,
};
use crate::render::landscape::{landscape_chart, Landscape, DEFAULT_LEVELS, DEFAULT_TITLE};
use crate::render::view::{fixed_range, view, View};
use crate::render::{Colormap, Image, Scale};
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
#[cfg(not(feature = "threads"))]
use wasm_bindgen::Clamped;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

/// Options of heatmap drawing; unknown fields are an error.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct HeatmapOptions {
    colormap: Colormap,
    sample: Option<usize>,
    min: Option<f32>,
    max: Option<f32>,
}

#[wasm_bindgen(typescript_custom_section)]
const DRAWING_TYPES: &str = r#"
/** A colormap name, as `colormaps()` lists them. */
export type Colormap = "viridis" | "magma" | "inferno" | "greys" | "blues" | "rdbu";

/** The options of `drawHeatmap`. */
export interface HeatmapOptions {
    /** The colour scale. Default `"viridis"`. */
    colormap?: Colormap;
    /** The value at the low end of the scale, given together with `max`. Default the data's range (symmetric around 0 for a diverging map). */
    min?: number;
    /** The value at the high end of the scale, given together with `min`. Default the data's range (symmetric around 0 for a diverging map). */
    max?: number;
}

/** The options of `Trace.draw`. */
export interface TraceDrawOptions extends HeatmapOptions {
    /** The sample of the batch to draw. Default 0. */
    sample?: number;
}

/** The heatmap cell under a canvas pixel, returned by `Layout.locate`. */
export interface HeatmapCell {
    /** The channel (0 for a strip). */
    channel: number;
    /** The row within the channel. */
    y: number;
    /** The column within the channel. */
    x: number;
    /** The index into the flat values the map was drawn from (all samples of a trace). */
    index: number;
}

/** The options of `drawLandscape`. */
export interface LandscapeOptions {
    /** The index of a path point to mark. Default none. */
    marked?: number;
    /** The number of contour levels. Default 8. */
    levels?: number;
    /** The colour scale of the log loss. Default `"viridis"`. */
    colormap?: Colormap;
    /** The chart's title. Default `"loss landscape"`. */
    title?: string;
}
"#;

/// Where a heatmap's values are, returned by the drawing functions; maps a canvas pixel back
/// to the value drawn there.
#[wasm_bindgen]
pub struct Layout {
    view: View,
    offset: usize,
}

#[wasm_bindgen]
impl Layout {
    /// `"grid"` (channel maps) or `"strip"` (one cell per unit).
    #[wasm_bindgen(getter, unchecked_return_type = "\"grid\" | \"strip\"")]
    pub fn kind(&self) -> String {
        match self.view.layout {
            crate::render::view::ViewLayout::Grid(_) => "grid".into(),
            crate::render::view::ViewLayout::Strip(_) => "strip".into(),
        }
    }

    /// The lowest value of the colour scale.
    #[wasm_bindgen(getter)]
    pub fn min(&self) -> f32 {
        self.view.range.0
    }

    /// The highest value of the colour scale.
    #[wasm_bindgen(getter)]
    pub fn max(&self) -> f32 {
        self.view.range.1
    }

    /// The cell at canvas pixel `(x, y)` as `{ channel, y, x, index }`, where `index` indexes
    /// the flat values the map was drawn from (all samples of a trace), or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "HeatmapCell | undefined")]
    pub fn locate(&self, x: f64, y: f64) -> JsValue {
        if !(x >= 0.0 && y >= 0.0) {
            return JsValue::UNDEFINED;
        }
        match self.view.locate(x as usize, y as usize) {
            None => JsValue::UNDEFINED,
            Some(cell) => {
                let number = |v: usize| JsValue::from(v as u32);
                object(&[
                    ("channel", number(cell.channel)),
                    ("y", number(cell.y)),
                    ("x", number(cell.x)),
                    ("index", number(self.offset + cell.index)),
                ])
                .unwrap_or(JsValue::UNDEFINED)
            }
        }
    }
}

fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsError> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or_else(|| JsError::new("the canvas has no 2D context (it may already use WebGL)"))
}

/// Sizes the canvas to the image and puts its pixels.
fn put_image(canvas: &HtmlCanvasElement, image: &Image) -> Result<(), JsError> {
    let (w, h) = (image.width as u32, image.height as u32);
    canvas.set_width(w);
    canvas.set_height(h);
    let data = image_data(image, w, h)
        .map_err(|_| JsError::new(&format!("could not create a {w}x{h} ImageData")))?;
    context(canvas)?
        .put_image_data(&data, 0.0, 0.0)
        .map_err(|_| JsError::new("putImageData failed"))
}

/// The image's pixels as an `ImageData`, read straight from wasm memory. The threaded build's
/// memory is a `SharedArrayBuffer`, which `ImageData` refuses, so there they are copied into a
/// JS array first.
fn image_data(image: &Image, w: u32, h: u32) -> Result<ImageData, JsValue> {
    #[cfg(not(feature = "threads"))]
    let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&image.rgba), w, h);
    #[cfg(feature = "threads")]
    let data = ImageData::new_with_js_u8_clamped_array_and_sh(
        &js_sys::Uint8ClampedArray::from(&image.rgba[..]),
        w,
        h,
    );
    data
}

fn device_pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio())
}

/// Runs a chart drawing on a canvas whose backing store is CSS size x devicePixelRatio.
fn draw_chart(
    canvas: &HtmlCanvasElement,
    draw: impl FnOnce(&DrawingArea<HiDpi<CanvasBackend>, plotters::coord::Shift>) -> crate::Result<()>,
) -> Result<(), JsError> {
    let backend = CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| JsError::new("the canvas has no 2D context (it may already use WebGL)"))?;
    let area = HiDpi::new(backend, device_pixel_ratio()).into_drawing_area();
    draw(&area).map_err(js_error)
}

#[wasm_bindgen]
impl Trace {
    /// Draws one sample of a layer's output into `canvas` (channel grid for `[C, H, W]` outputs,
    /// a strip otherwise) with `options = { colormap, sample, min, max }`, sizing the canvas to
    /// one pixel per value; scale it with CSS (`image-rendering: pixelated`).
    pub fn draw(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "TraceDrawOptions")] options: JsValue,
    ) -> Result<Layout, JsError> {
        let name = text(&name, "Trace.draw name")?;
        let options: HeatmapOptions = read_options(options, "heatmap options")?;
        let canvas = &canvas_element(&canvas)?;
        let tensor = self.value(&name)?;
        let batch = tensor.shape()[0];
        let sample = options.sample.unwrap_or(0);
        if sample >= batch {
            return Err(js_error(crate::Error::invalid(
                "sample",
                format!("{sample} is out of range; the trace holds {batch} sample(s)"),
            )));
        }
        let per_sample = tensor.len() / batch;
        let flat = tensor
            .as_slice()
            .ok_or_else(|| JsError::new("layer output is not contiguous"))?;
        let values = &flat[sample * per_sample..(sample + 1) * per_sample];
        let range = fixed_range(options.min, options.max).map_err(js_error)?;
        let pictured =
            view(values, &tensor.shape()[1..], options.colormap, range).map_err(js_error)?;
        put_image(canvas, &pictured.image)?;
        Ok(Layout {
            view: pictured,
            offset: sample * per_sample,
        })
    }
}

/// Draws `values` of per-sample `shape` (e.g. `[28, 28]` or `[C, H, W]`) as a heatmap into
/// `canvas` with `options = { colormap, min, max }`.
#[wasm_bindgen(js_name = drawHeatmap)]
pub fn draw_heatmap(
    #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] values: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] shape: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "HeatmapOptions")] options: JsValue,
) -> Result<Layout, JsError> {
    let values = floats(&values, "drawHeatmap values")?;
    let shape = dims(&shape, "drawHeatmap shape")?;
    let options: HeatmapOptions = read_options(options, "heatmap options")?;
    if options.sample.is_some() {
        return Err(js_error(crate::Error::invalid(
            "heatmap options",
            "\"sample\" applies to trace.draw only",
        )));
    }
    let range = fixed_range(options.min, options.max).map_err(js_error)?;
    let pictured = view(&values, &shape, options.colormap, range).map_err(js_error)?;
    let canvas = &canvas_element(&canvas)?;
    put_image(canvas, &pictured.image)?;
    Ok(Layout {
        view: pictured,
        offset: 0,
    })
}

/// Draws a vertical colorbar of `colormap` over `[min, max]` with labelled ticks.
#[wasm_bindgen(js_name = drawColorbar)]
pub fn draw_colorbar(
    #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Colormap")] colormap: JsValue,
    min: f32,
    max: f32,
) -> Result<(), JsError> {
    let canvas = &canvas_element(&canvas)?;
    let colormap: Colormap = text(&colormap, "drawColorbar colormap")?
        .parse()
        .map_err(js_error)?;
    let scale = Scale::fit(colormap, &[], Some((min, max))).map_err(js_error)?;
    draw_chart(canvas, |area| colorbar_chart(area, colormap, &scale))
}

/// Draws a bar chart of `values` labelled with `labels` (one per value, or none), the bar at
/// `highlight` emphasised.
#[wasm_bindgen(js_name = drawBarChart)]
pub fn draw_bar_chart(
    #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] values: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string[]")] labels: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number | null | undefined")] highlight: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] title: JsValue,
) -> Result<(), JsError> {
    let canvas = &canvas_element(&canvas)?;
    let values = floats(&values, "drawBarChart values")?;
    let labels = strings(&labels, "drawBarChart labels")?;
    let highlight = optional_count(&highlight, "drawBarChart highlight")?;
    let title = text(&title, "drawBarChart title")?;
    draw_chart(canvas, |area| {
        bar_chart(area, &labels, &values, highlight, &title)
    })
}

/// Draws a histogram of `values` in `bins` equal bins.
#[wasm_bindgen(js_name = drawHistogram)]
pub fn draw_histogram(
    #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] values: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] bins: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] title: JsValue,
) -> Result<(), JsError> {
    let canvas = &canvas_element(&canvas)?;
    let values = floats(&values, "drawHistogram values")?;
    let bins = count(&bins, "drawHistogram bins")?;
    let title = text(&title, "drawHistogram title")?;
    draw_chart(canvas, |area| histogram(area, &values, bins, &title))
}

/// Where a chart's data landed, in CSS pixels of the canvas.
#[wasm_bindgen]
pub struct ChartArea {
    inner: PlotArea,
}

#[wasm_bindgen]
impl ChartArea {
    /// The data coordinates `[x, y]` under CSS pixel `(x, y)` of the canvas.
    #[wasm_bindgen(js_name = toData)]
    pub fn to_data(&self, x: f64, y: f64) -> Vec<f64> {
        let (dx, dy) = self.inner.to_data(x, y);
        vec![dx, dy]
    }

    /// How many data units one CSS pixel spans, `[x, y]`.
    #[wasm_bindgen(js_name = unitsPerPixel)]
    pub fn units_per_pixel(&self) -> Vec<f64> {
        let a = &self.inner;
        vec![
            (a.x.1 - a.x.0) / (a.pixels_x.1 - a.pixels_x.0).max(1) as f64,
            (a.y.1 - a.y.0) / (a.pixels_y.1 - a.pixels_y.0).max(1) as f64,
        ]
    }
}

/// Draws a scatter plot of `points` (`[x0, y0, x1, y1, ...]`) coloured by `classes` (one per
/// point, Tableau 10 colours); returns where the data landed, to map the pointer back.
#[wasm_bindgen(js_name = drawScatter)]
pub fn draw_scatter(
    #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] points: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | number[]")] classes: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] title: JsValue,
) -> Result<ChartArea, JsError> {
    let canvas = &canvas_element(&canvas)?;
    let points = floats(&points, "drawScatter points")?;
    let classes = dims(&classes, "drawScatter classes")?
        .into_iter()
        .map(|c| {
            u8::try_from(c).map_err(|_| {
                JsError::new(&format!(
                    "drawScatter classes: class {c} is larger than 255"
                ))
            })
        })
        .collect::<Result<Vec<u8>, JsError>>()?;
    let title = text(&title, "drawScatter title")?;
    let pairs = xy_pairs("scatter points", &points).map_err(js_error)?;
    let mut area = None;
    draw_chart(canvas, |drawing| {
        area = Some(scatter(drawing, &pairs, &classes, &title)?);
        Ok(())
    })?;
    area.map(|inner| ChartArea { inner })
        .ok_or_else(|| JsError::new("the scatter was not drawn"))
}

/// Draws one line per series: `names[i]` labels `series[i]`, a `Float32Array` of x, y pairs
/// (e.g. step, loss), in Tableau 10 colours with a legend.
#[wasm_bindgen(js_name = drawLineChart)]
pub fn draw_line_chart(
    #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string[]")] names: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array[]")] series: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] title: JsValue,
) -> Result<(), JsError> {
    let canvas = &canvas_element(&canvas)?;
    let names = strings(&names, "drawLineChart names")?;
    let title = text(&title, "drawLineChart title")?;
    if !js_sys::Array::is_array(&series) {
        return Err(JsError::new(
            "drawLineChart series: expected an array of Float32Arrays",
        ));
    }
    let series = js_sys::Array::from(&super::options::plain(&series, "drawLineChart series")?);
    if names.len() as u32 != series.length() {
        return Err(js_error(crate::Error::shape(format!(
            "{} series names for {} series; expected one name per series",
            names.len(),
            series.length()
        ))));
    }
    let mut lines = Vec::with_capacity(names.len());
    for (i, (name, points)) in names.into_iter().zip(series.iter()).enumerate() {
        let points = points
            .dyn_into::<js_sys::Float32Array>()
            .map_err(|_| {
                JsError::new(&format!(
                    "series {i} ('{name}') must be a Float32Array of x, y pairs"
                ))
            })?
            .to_vec();
        let points = xy_pairs(&format!("series {i} ('{name}')"), &points).map_err(js_error)?;
        lines.push((name, points));
    }
    draw_chart(canvas, |area| line_chart(area, &lines, &title))
}

/// Options of landscape drawing; unknown fields are an error.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LandscapeOptions {
    marked: Option<usize>,
    levels: usize,
    colormap: Colormap,
    title: String,
}

impl Default for LandscapeOptions {
    fn default() -> Self {
        LandscapeOptions {
            marked: None,
            levels: DEFAULT_LEVELS,
            colormap: Colormap::default(),
            title: DEFAULT_TITLE.to_string(),
        }
    }
}

/// Draws a loss landscape: `surface` (from `lossSurface`, one row per alpha) as a heatmap over
/// the grid `alphas` x `betas` (each `{ start, end, steps }`, at least 2 steps), coloured by the
/// log of the loss, with contour lines, and the trajectory `path` (x, y pairs, e.g.
/// `projectTrajectory(...).coordinates`) from its start to its end. `options = { marked (a path
/// point to mark), levels = 8, colormap = "viridis", title }`. Returns where the data landed.
#[wasm_bindgen(js_name = drawLandscape)]
pub fn draw_landscape(
    #[wasm_bindgen(unchecked_param_type = "HTMLCanvasElement")] canvas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] surface: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Linspace")] alphas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Linspace")] betas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] path: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "LandscapeOptions")] options: Option<JsValue>,
) -> Result<ChartArea, JsError> {
    let surface = floats(&surface, "drawLandscape surface")?;
    let path = floats(&path, "drawLandscape path")?;
    let options: LandscapeOptions =
        read_options(options.unwrap_or(JsValue::UNDEFINED), "landscape options")?;
    let canvas = &canvas_element(&canvas)?;
    let points = xy_pairs("the path", &path).map_err(js_error)?;
    let landscape = Landscape {
        surface: &surface,
        alphas: super::project::linspace(alphas, "alphas")?,
        betas: super::project::linspace(betas, "betas")?,
        path: &points,
        marked: options.marked,
        levels: options.levels,
        colormap: options.colormap,
    };
    let title = options.title;
    let mut area = None;
    draw_chart(canvas, |drawing| {
        area = Some(landscape_chart(drawing, &landscape, &title)?);
        Ok(())
    })?;
    area.map(|inner| ChartArea { inner })
        .ok_or_else(|| JsError::new("the landscape was not drawn"))
}

/// The names of the colormaps `drawHeatmap`, `trace.draw` and `drawColorbar` accept.
#[wasm_bindgen(unchecked_return_type = "Colormap[]")]
pub fn colormaps() -> Vec<String> {
    Colormap::NAMES.iter().map(|s| s.to_string()).collect()
}
