//! RGBA8 rasters of activations and gradients: heatmaps, channel grids, strips for dense
//! layers, colorbars with "nice" tick labels, and alpha blending of one image over another.
//!
//! An [`Image`] is row-major with 4 bytes per pixel (red, green, blue, alpha, not
//! premultiplied), the layout of the browser's `ImageData`, so a page can copy it into a canvas
//! as is. Values become colours through a [`Lut`] sampled once per call and a [`Scale`] (see
//! [`super::colormap`] for the normalisation rules and how NaN is drawn); every raster is filled
//! in one pass over its pixels without allocating per pixel.
//!
//! The layouts ([`GridLayout`], [`StripLayout`]) map an image pixel back to the value drawn
//! there, so a page can show the value under the mouse. Images are drawn one pixel per value
//! and meant to be scaled up by the page (e.g. CSS `image-rendering: pixelated`); the page
//! divides its mouse coordinates by that factor before calling `locate`.
//!
//! Tick values follow the 1-2-5 rule of d3's `ticks` (Bostock, d3-array): the step is
//! 1, 2 or 5 × 10^k, whichever is nearest to `span / count`.
//!
//! ```
//! use nnlens::render::colormap::Colormap;
//! use nnlens::render::raster::{channel_grid, GridRange};
//! // Two channels of height 3 and width 2 (one NCHW sample, C x H x W).
//! let values: Vec<f32> = (0..12).map(|v| v as f32).collect();
//! let grid = channel_grid(&values, 2, 3, 2, Colormap::Viridis, GridRange::Shared(None)).unwrap();
//! assert_eq!((grid.layout.columns(), grid.layout.rows()), (2, 1));
//! assert_eq!((grid.image.width, grid.image.height), (5, 3)); // 2 + 1 gap + 2
//! assert_eq!(grid.layout.locate(4, 1), Some((1, 1, 1)));      // channel 1, y 1, x 1
//! assert_eq!(grid.layout.locate(2, 0), None);                 // the gap
//! ```

use super::colormap::{Colormap, Lut, Scale};
use super::numfmt::{nice_step, smaller_nice_step, LabelFormat};
use crate::error::{Error, Result};
use crate::tensor::checked_elements;

/// The colour of gaps between tiles and of unused cells: opaque mid-grey.
pub const BACKGROUND: [u8; 4] = [128, 128, 128, 255];

/// Pixels between neighbouring tiles of a [`channel_grid`].
pub const GAP: usize = 1;

/// Largest `count` that [`ticks`] accepts.
pub const MAX_TICKS: usize = 1000;

/// An RGBA8 image: `width * height` pixels, row-major, 4 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 4` bytes: red, green, blue, alpha of each pixel, row by row.
    pub rgba: Vec<u8>,
}

impl Image {
    /// An image of one colour. Both sides must be at least 1 and the image no larger than
    /// [`crate::tensor::limits::MAX_ELEMENTS`] bytes.
    pub fn filled(width: usize, height: usize, color: [u8; 4]) -> Result<Self> {
        let bytes = image_bytes("image", width, height)?;
        Ok(Image {
            width,
            height,
            rgba: color.repeat(bytes / 4),
        })
    }

    /// The pixel at column `x`, row `y`, or `None` outside the image.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = y.checked_mul(self.width)?.checked_add(x)?.checked_mul(4)?;
        let p = self.rgba.get(i..i.checked_add(4)?)?;
        Some([p[0], p[1], p[2], p[3]])
    }
}

/// Checks the sides of an image and returns its size in bytes.
fn image_bytes(what: &str, width: usize, height: usize) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::invalid(
            format!("{what} size"),
            format!("{width}x{height}; width and height must be at least 1"),
        ));
    }
    checked_elements(what, &[height, width, 4])
}

/// Paints `values` into `pixels` (4 bytes each), value `i` into pixel `i`.
#[inline]
fn paint(pixels: &mut [u8], values: &[f32], lut: &Lut, scale: &Scale) {
    for (pixel, &v) in pixels.chunks_exact_mut(4).zip(values) {
        pixel.copy_from_slice(&lut.map(scale, v));
    }
}

/// A `width × height` heatmap of row-major `values` (`values.len() == width * height`).
///
/// The scale is [`Scale::fit`]`(colormap, values, range)`: the data range, or `range` when
/// given, symmetric around zero for a diverging colormap; call it too to label a colorbar.
///
/// ```
/// use nnlens::render::{colormap::Colormap, raster::heatmap};
/// let img = heatmap(&[0.0, 1.0, 2.0, 3.0], 2, 2, Colormap::Greys, None).unwrap();
/// assert_eq!(img.pixel(0, 0), Some([0, 0, 0, 255]));       // minimum: black
/// assert_eq!(img.pixel(1, 1), Some([255, 255, 255, 255])); // maximum: white
/// ```
pub fn heatmap(
    values: &[f32],
    width: usize,
    height: usize,
    colormap: Colormap,
    range: Option<(f32, f32)>,
) -> Result<Image> {
    let bytes = image_bytes("heatmap", width, height)?;
    if values.len() != bytes / 4 {
        return Err(Error::shape(format!(
            "heatmap of {width}x{height} needs {} values, got {}",
            bytes / 4,
            values.len()
        )));
    }
    let scale = Scale::fit(colormap, values, range)?;
    let lut = colormap.lut();
    let mut rgba = vec![0u8; bytes];
    paint(&mut rgba, values, &lut, &scale);
    Ok(Image {
        width,
        height,
        rgba,
    })
}

/// How the channels of a [`channel_grid`] share a colour scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GridRange {
    /// One scale for all channels: the given range, or fitted to all values; channels can be
    /// compared with each other.
    Shared(Option<(f32, f32)>),
    /// Each channel fitted to its own values; shows the pattern of weak channels too.
    PerChannel,
}

/// Where each channel of a [`channel_grid`] is drawn.
///
/// Tiles are placed row by row, `columns` per row, [`GAP`] pixels apart; the number of
/// columns is the one that makes the whole image closest to square.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridLayout {
    channels: usize,
    tile_height: usize,
    tile_width: usize,
    columns: usize,
    rows: usize,
}

impl GridLayout {
    /// The near-square layout of `channels` tiles of `tile_height × tile_width` pixels.
    /// All three must be at least 1.
    pub fn new(channels: usize, tile_height: usize, tile_width: usize) -> Result<Self> {
        if channels == 0 || tile_height == 0 || tile_width == 0 {
            return Err(Error::invalid(
                "channel grid shape",
                format!(
                    "{channels} channels of {tile_height}x{tile_width}; all must be at least 1"
                ),
            ));
        }
        let side = |count: usize, tile: usize| (count * (tile + GAP) - GAP) as f64;
        // (aspect, empty cells, columns); on a tie the later, wider layout wins.
        let mut best: Option<(f64, usize, usize)> = None;
        for columns in 1..=channels {
            let rows = channels.div_ceil(columns);
            let (w, h) = (side(columns, tile_width), side(rows, tile_height));
            let aspect = w.max(h) / w.min(h);
            let empty = columns * rows - channels;
            let better = match best {
                None => true,
                Some((a, e, _)) => aspect < a || (aspect == a && empty <= e),
            };
            if better {
                best = Some((aspect, empty, columns));
            }
        }
        let columns = best.map_or(1, |(_, _, c)| c);
        Ok(GridLayout {
            channels,
            tile_height,
            tile_width,
            columns,
            rows: channels.div_ceil(columns),
        })
    }

    /// Number of channels (tiles).
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Height of one tile in pixels (the channel's height).
    pub fn tile_height(&self) -> usize {
        self.tile_height
    }
    /// Width of one tile in pixels (the channel's width).
    pub fn tile_width(&self) -> usize {
        self.tile_width
    }
    /// Tiles per row.
    pub fn columns(&self) -> usize {
        self.columns
    }
    /// Rows of tiles.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Width of the whole image in pixels.
    pub fn width(&self) -> usize {
        self.columns * (self.tile_width + GAP) - GAP
    }
    /// Height of the whole image in pixels.
    pub fn height(&self) -> usize {
        self.rows * (self.tile_height + GAP) - GAP
    }

    /// The top-left pixel `(x, y)` of channel `channel`'s tile, or `None` past the last one.
    pub fn tile_origin(&self, channel: usize) -> Option<(usize, usize)> {
        (channel < self.channels).then(|| self.origin(channel))
    }

    /// The top-left pixel of the tile of `channel < channels`.
    fn origin(&self, channel: usize) -> (usize, usize) {
        (
            (channel % self.columns) * (self.tile_width + GAP),
            (channel / self.columns) * (self.tile_height + GAP),
        )
    }

    /// The `(channel, y, x)` drawn at pixel `(px, py)`, or `None` for a gap, an unused cell
    /// or a point outside the image.
    pub fn locate(&self, px: usize, py: usize) -> Option<(usize, usize, usize)> {
        let (col, x) = (px / (self.tile_width + GAP), px % (self.tile_width + GAP));
        let (row, y) = (py / (self.tile_height + GAP), py % (self.tile_height + GAP));
        if col >= self.columns || x >= self.tile_width || y >= self.tile_height {
            return None;
        }
        let channel = row.checked_mul(self.columns)?.checked_add(col)?;
        (channel < self.channels).then_some((channel, y, x))
    }
}

/// A rendered [`channel_grid`]: the image, where each channel is, and each channel's scale.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelGrid {
    /// The tiles on a [`BACKGROUND`] canvas.
    pub image: Image,
    /// Tile positions; maps pixels back to `(channel, y, x)`.
    pub layout: GridLayout,
    /// The scale of each channel (all equal for [`GridRange::Shared`]).
    pub scales: Vec<Scale>,
}

/// Tiles the `channels` maps of one sample (`values` is `C × H × W`, row-major, e.g. one
/// sample of an NCHW activation) into a near-square grid with [`GAP`]-pixel gaps of
/// [`BACKGROUND`].
pub fn channel_grid(
    values: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    colormap: Colormap,
    range: GridRange,
) -> Result<ChannelGrid> {
    let expected = channels
        .checked_mul(height)
        .and_then(|n| n.checked_mul(width));
    if expected != Some(values.len()) {
        return Err(Error::shape(format!(
            "channel grid of {channels} channels of {height}x{width} needs {} values, got {}",
            expected.map_or("more than usize::MAX".to_string(), |n| n.to_string()),
            values.len()
        )));
    }
    let layout = GridLayout::new(channels, height, width)?;
    let mut image = Image::filled(layout.width(), layout.height(), BACKGROUND)?;
    let lut = colormap.lut();
    let plane = height * width;
    let scales = match range {
        GridRange::Shared(range) => vec![Scale::fit(colormap, values, range)?; channels],
        GridRange::PerChannel => values
            .chunks_exact(plane)
            .map(|channel| Scale::fit(colormap, channel, None))
            .collect::<Result<Vec<_>>>()?,
    };
    let stride = image.width * 4;
    for (c, (channel, scale)) in values.chunks_exact(plane).zip(&scales).enumerate() {
        let (ox, oy) = layout.origin(c);
        for (y, row) in channel.chunks_exact(width).enumerate() {
            let start = (oy + y) * stride + ox * 4;
            paint(&mut image.rgba[start..start + width * 4], row, &lut, scale);
        }
    }
    Ok(ChannelGrid {
        image,
        layout,
        scales,
    })
}

/// Where each unit of a [`strip`] is drawn: unit `i` at column `i % columns`, row
/// `i / columns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripLayout {
    len: usize,
    columns: usize,
}

impl StripLayout {
    /// The layout of `len` units wrapped into rows of at most `row_width`; both at least 1.
    pub fn new(len: usize, row_width: usize) -> Result<Self> {
        if len == 0 || row_width == 0 {
            return Err(Error::invalid(
                "strip",
                format!("{len} units in rows of {row_width}; both must be at least 1"),
            ));
        }
        Ok(StripLayout {
            len,
            columns: row_width.min(len),
        })
    }

    /// Number of units.
    pub fn units(&self) -> usize {
        self.len
    }
    /// Units per row (the image width).
    pub fn columns(&self) -> usize {
        self.columns
    }
    /// Rows (the image height).
    pub fn rows(&self) -> usize {
        self.len.div_ceil(self.columns)
    }

    /// The pixel `(x, y)` of unit `unit`, or `None` past the last unit.
    pub fn position(&self, unit: usize) -> Option<(usize, usize)> {
        (unit < self.len).then(|| (unit % self.columns, unit / self.columns))
    }

    /// The unit drawn at pixel `(px, py)`, or `None` for an unused cell or outside the image.
    pub fn locate(&self, px: usize, py: usize) -> Option<usize> {
        if px >= self.columns {
            return None;
        }
        let unit = py.checked_mul(self.columns)?.checked_add(px)?;
        (unit < self.len).then_some(unit)
    }
}

/// A rendered [`strip`]: the image, where each unit is, and the scale used.
#[derive(Debug, Clone, PartialEq)]
pub struct Strip {
    /// One pixel per unit; unused cells of the last row are [`BACKGROUND`].
    pub image: Image,
    /// Maps pixels back to unit indices.
    pub layout: StripLayout,
    /// The scale, fitted as by [`heatmap`].
    pub scale: Scale,
}

/// A dense layer's vector as a strip, one pixel per unit, wrapped into rows of `row_width`
/// units (a vector no longer than `row_width` is a single row).
///
/// ```
/// use nnlens::render::{colormap::Colormap, raster::strip};
/// let s = strip(&[1.0, 2.0, 3.0, 4.0, 5.0], 2, Colormap::Viridis, None).unwrap();
/// assert_eq!((s.image.width, s.image.height), (2, 3));
/// assert_eq!(s.layout.locate(0, 2), Some(4));
/// assert_eq!(s.layout.locate(1, 2), None); // unused cell
/// ```
pub fn strip(
    values: &[f32],
    row_width: usize,
    colormap: Colormap,
    range: Option<(f32, f32)>,
) -> Result<Strip> {
    let layout = StripLayout::new(values.len(), row_width)?;
    let scale = Scale::fit(colormap, values, range)?;
    let mut image = Image::filled(layout.columns(), layout.rows(), BACKGROUND)?;
    paint(&mut image.rgba, values, &colormap.lut(), &scale);
    Ok(Strip {
        image,
        layout,
        scale,
    })
}

/// The direction of a [`colorbar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// Low end at the left, high end at the right.
    Horizontal,
    /// Low end at the bottom, high end at the top.
    Vertical,
}

/// The colormap as a bar `length` pixels long and `thickness` pixels thick.
///
/// Pixel `i` along the bar (counted from the low end) shows position `(i + 0.5) / length`,
/// so a [`Tick`] with fraction `f` belongs `f * length` pixels from the low end: from the
/// left of a horizontal bar, from the bottom of a vertical one.
pub fn colorbar(
    colormap: Colormap,
    length: usize,
    thickness: usize,
    orientation: Orientation,
) -> Result<Image> {
    let (width, height) = match orientation {
        Orientation::Horizontal => (length, thickness),
        Orientation::Vertical => (thickness, length),
    };
    let bytes = image_bytes("colorbar", width, height)?;
    let lut = colormap.lut();
    let at = |i: usize| lut.at((i as f32 + 0.5) / length as f32);
    let mut rgba = Vec::with_capacity(bytes);
    match orientation {
        Orientation::Horizontal => {
            let row: Vec<u8> = (0..length).flat_map(at).collect();
            for _ in 0..thickness {
                rgba.extend_from_slice(&row);
            }
        }
        Orientation::Vertical => {
            for y in 0..length {
                let color = at(length - 1 - y);
                for _ in 0..thickness {
                    rgba.extend_from_slice(&color);
                }
            }
        }
    }
    Ok(Image {
        width,
        height,
        rgba,
    })
}

/// One labelled tick of a colorbar.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The value at the tick.
    pub value: f32,
    /// Where the value lies along the bar: 0 at the low end, 1 at the high end.
    pub fraction: f32,
    /// The value printed with as many decimals as the tick step needs (`"0.25"`, `"-1"`,
    /// `"2e-5"`).
    pub label: String,
}

/// About `count` ticks at "nice" values (multiples of 1, 2 or 5 × 10^k) inside the scale's
/// range, in increasing order. A scale with equal ends has one tick, at the position
/// [`Scale::normalize`] gives its value. `count` must be in `1..=MAX_TICKS`.
///
/// ```
/// use nnlens::render::{colormap::Scale, raster::ticks};
/// let t = ticks(&Scale::new(-0.3, 1.0).unwrap(), 5).unwrap();
/// let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
/// assert_eq!(labels, ["-0.2", "0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
/// ```
pub fn ticks(scale: &Scale, count: usize) -> Result<Vec<Tick>> {
    if count == 0 || count > MAX_TICKS {
        return Err(Error::invalid(
            "tick count",
            format!("{count}; expected 1 to {MAX_TICKS}"),
        ));
    }
    let (lo32, hi32) = scale.range();
    let (lo, hi) = (f64::from(lo32), f64::from(hi32));
    let span = hi - lo;
    if span <= 0.0 {
        let value = lo32 + 0.0; // never "-0"
        return Ok(vec![Tick {
            value,
            fraction: scale.normalize(value).unwrap_or(0.0),
            label: value.to_string(),
        }]);
    }
    let mut step = nice_step(span / count as f64);
    // The nice step can exceed the span by up to sqrt(2) and miss every multiple (0.2..1.8
    // with step 2): then take the next smaller nice step, which is at most the span.
    let (first, n) = loop {
        let (first, last) = ((lo / step).ceil(), (hi / step).floor());
        if last >= first {
            // At most about 1.5 * count + 1 ticks, since step >= span / count / sqrt(2).
            break (first, (last - first) as i64 + 1);
        }
        step = smaller_nice_step(step);
    };
    let format = LabelFormat::new(lo, hi, step);
    Ok((0..n)
        .map(|k| {
            // `+ 0.0` turns a -0 into 0 so it is never labelled "-0".
            let value = (first + k as f64) * step + 0.0;
            Tick {
                value: value as f32,
                fraction: ((value - lo) / span).clamp(0.0, 1.0) as f32,
                label: format.label(value),
            }
        })
        .collect())
}

/// `top` drawn over `base` with its alpha scaled by `opacity` in `[0, 1]` (Porter-Duff
/// "source over" on straight alpha). Both images must have the same size.
///
/// ```
/// use nnlens::render::raster::{overlay, Image};
/// let base = Image::filled(1, 1, [0, 0, 0, 255]).unwrap();
/// let top = Image::filled(1, 1, [255, 255, 255, 255]).unwrap();
/// let out = overlay(&base, &top, 0.5).unwrap();
/// assert_eq!(out.pixel(0, 0), Some([128, 128, 128, 255]));
/// ```
pub fn overlay(base: &Image, top: &Image, opacity: f32) -> Result<Image> {
    if (base.width, base.height) != (top.width, top.height) {
        return Err(Error::shape(format!(
            "overlay needs images of the same size, got base {}x{} and top {}x{}",
            base.width, base.height, top.width, top.height
        )));
    }
    if !(0.0..=1.0).contains(&opacity) {
        return Err(Error::invalid(
            "overlay opacity",
            format!("{opacity}; expected a value from 0 to 1"),
        ));
    }
    let bytes = image_bytes("overlay", base.width, base.height)?;
    if base.rgba.len() != bytes || top.rgba.len() != bytes {
        return Err(Error::shape(format!(
            "overlay: a {}x{} image needs {bytes} bytes, got {} (base) and {} (top)",
            base.width,
            base.height,
            base.rgba.len(),
            top.rgba.len()
        )));
    }
    let mut rgba = vec![0u8; base.rgba.len()];
    for ((out, b), t) in rgba
        .chunks_exact_mut(4)
        .zip(base.rgba.chunks_exact(4))
        .zip(top.rgba.chunks_exact(4))
    {
        let at = f32::from(t[3]) / 255.0 * opacity;
        let ab = f32::from(b[3]) / 255.0;
        let a = at + ab * (1.0 - at);
        if a > 0.0 {
            for k in 0..3 {
                let c = (f32::from(t[k]) * at + f32::from(b[k]) * ab * (1.0 - at)) / a;
                out[k] = c.round().clamp(0.0, 255.0) as u8;
            }
        }
        out[3] = (a * 255.0).round().clamp(0.0, 255.0) as u8;
    }
    Ok(Image {
        width: base.width,
        height: base.height,
        rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::colormap::NON_FINITE_RGBA;

    #[test]
    fn heatmap_maps_min_max_and_non_finite() {
        let img = heatmap(&[0.0, 10.0, f32::NAN, 5.0], 2, 2, Colormap::Viridis, None).unwrap();
        assert_eq!(img.rgba.len(), 16);
        assert_eq!(img.pixel(0, 0), Some(Colormap::Viridis.eval(0.0)));
        assert_eq!(img.pixel(1, 0), Some(Colormap::Viridis.eval(1.0)));
        assert_eq!(img.pixel(0, 1), Some(NON_FINITE_RGBA));
        assert_eq!(img.pixel(1, 1), Some(Colormap::Viridis.eval(0.5)));
        assert_eq!(img.pixel(2, 0), None);
    }

    #[test]
    fn heatmap_fixed_range_clamps() {
        let img = heatmap(&[-5.0, 0.5, 9.0], 3, 1, Colormap::Magma, Some((0.0, 1.0))).unwrap();
        assert_eq!(img.pixel(0, 0), Some(Colormap::Magma.eval(0.0)));
        assert_eq!(img.pixel(1, 0), Some(Colormap::Magma.eval(0.5)));
        assert_eq!(img.pixel(2, 0), Some(Colormap::Magma.eval(1.0)));
    }

    #[test]
    fn heatmap_diverging_zero_is_centre_even_when_skewed() {
        let img = heatmap(&[0.0, 4.0, -1.0], 3, 1, Colormap::RdBu, None).unwrap();
        assert_eq!(img.pixel(0, 0), Some(Colormap::RdBu.eval(0.5)));
        assert_eq!(img.pixel(1, 0), Some(Colormap::RdBu.eval(1.0)));
        // -1 of a [-4, 4] scale sits at 3/8.
        assert_eq!(img.pixel(2, 0), Some(Colormap::RdBu.eval(0.375)));
    }

    #[test]
    fn heatmap_constant_and_zero_inputs() {
        let img = heatmap(&[7.0; 4], 2, 2, Colormap::Inferno, None).unwrap();
        assert!(img.rgba.chunks(4).all(|p| p == Colormap::Inferno.eval(0.0)));
        let img = heatmap(&[0.0; 4], 4, 1, Colormap::RdBu, None).unwrap();
        assert!(img.rgba.chunks(4).all(|p| p == Colormap::RdBu.eval(0.5)));
    }

    #[test]
    fn heatmap_rejects_bad_sizes() {
        let err = heatmap(&[1.0; 5], 2, 2, Colormap::Viridis, None).unwrap_err();
        assert!(err.to_string().contains("needs 4 values, got 5"), "{err}");
        assert!(heatmap(&[], 0, 3, Colormap::Viridis, None).is_err());
        assert!(matches!(
            heatmap(&[1.0], usize::MAX, 2, Colormap::Viridis, None),
            Err(Error::TooLarge { .. })
        ));
        assert!(heatmap(&[1.0], 1, 1, Colormap::Viridis, Some((1.0, 0.0))).is_err());
    }

    #[test]
    fn grid_layout_is_near_square() {
        let cases = [
            // (channels, h, w) -> (columns, rows)
            ((1, 5, 5), (1, 1)),
            ((2, 4, 4), (2, 1)),
            ((8, 4, 4), (3, 3)),
            ((16, 3, 3), (4, 4)),
            ((32, 8, 8), (6, 6)),
            ((4, 1, 10), (1, 4)), // wide tiles stack vertically
            ((4, 10, 1), (4, 1)),
        ];
        for ((c, h, w), expected) in cases {
            let layout = GridLayout::new(c, h, w).unwrap();
            assert_eq!(
                (layout.columns(), layout.rows()),
                expected,
                "{c} of {h}x{w}"
            );
            assert!(layout.columns() * layout.rows() >= c);
        }
        assert!(GridLayout::new(0, 2, 2).is_err());
        assert!(GridLayout::new(3, 0, 2).is_err());
    }

    #[test]
    fn grid_locate_inverts_tile_origin_everywhere() {
        let layout = GridLayout::new(7, 3, 2).unwrap();
        let mut seen = vec![0usize; 7 * 3 * 2];
        for py in 0..layout.height() + 2 {
            for px in 0..layout.width() + 2 {
                if let Some((c, y, x)) = layout.locate(px, py) {
                    let (ox, oy) = layout.tile_origin(c).unwrap();
                    assert_eq!((ox + x, oy + y), (px, py));
                    seen[c * 6 + y * 2 + x] += 1;
                }
            }
        }
        assert!(
            seen.iter().all(|&n| n == 1),
            "each value exactly once: {seen:?}"
        );
        assert_eq!(layout.tile_origin(7), None);
        assert_eq!(layout.locate(usize::MAX, usize::MAX), None);
    }

    #[test]
    fn channel_grid_draws_each_channel_and_gaps() {
        // 3 channels of 2x2: channel c holds c*10 + i.
        let values: Vec<f32> = (0..3)
            .flat_map(|c| (0..4).map(move |i| (c * 10 + i) as f32))
            .collect();
        let grid =
            channel_grid(&values, 3, 2, 2, Colormap::Greys, GridRange::Shared(None)).unwrap();
        let layout = grid.layout;
        assert_eq!((layout.columns(), layout.rows()), (2, 2));
        assert_eq!((grid.image.width, grid.image.height), (5, 5));
        let scale = grid.scales[0];
        assert_eq!(scale.range(), (0.0, 23.0));
        let lut = Colormap::Greys.lut();
        for py in 0..5 {
            for px in 0..5 {
                let expected = match layout.locate(px, py) {
                    Some((c, y, x)) => lut.map(&scale, values[c * 4 + y * 2 + x]),
                    None => BACKGROUND,
                };
                assert_eq!(
                    grid.image.pixel(px, py),
                    Some(expected),
                    "pixel ({px}, {py})"
                );
            }
        }
        // The gap column and the unused fourth cell are background.
        assert_eq!(grid.image.pixel(2, 0), Some(BACKGROUND));
        assert_eq!(grid.image.pixel(4, 4), Some(BACKGROUND));
    }

    #[test]
    fn channel_grid_per_channel_scales() {
        let values = [0.0, 1.0, 100.0, 200.0, 5.0, 5.0];
        let grid =
            channel_grid(&values, 3, 1, 2, Colormap::Viridis, GridRange::PerChannel).unwrap();
        let ranges: Vec<_> = grid.scales.iter().map(|s| s.range()).collect();
        assert_eq!(ranges, [(0.0, 1.0), (100.0, 200.0), (5.0, 5.0)]);
        let (ox, oy) = grid.layout.tile_origin(1).unwrap();
        assert_eq!(grid.image.pixel(ox, oy), Some(Colormap::Viridis.eval(0.0)));
        assert_eq!(
            grid.image.pixel(ox + 1, oy),
            Some(Colormap::Viridis.eval(1.0))
        );
    }

    #[test]
    fn channel_grid_rejects_wrong_length() {
        let err =
            channel_grid(&[0.0; 7], 2, 2, 2, Colormap::Viridis, GridRange::PerChannel).unwrap_err();
        assert!(err.to_string().contains("needs 8 values, got 7"), "{err}");
        assert!(channel_grid(
            &[],
            usize::MAX,
            2,
            2,
            Colormap::Viridis,
            GridRange::PerChannel
        )
        .is_err());
    }

    #[test]
    fn strip_wraps_and_locates() {
        let values: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let s = strip(&values, 4, Colormap::Viridis, None).unwrap();
        assert_eq!((s.layout.columns(), s.layout.rows()), (4, 3));
        assert_eq!((s.image.width, s.image.height), (4, 3));
        for (unit, &value) in values.iter().enumerate() {
            let (x, y) = s.layout.position(unit).unwrap();
            assert_eq!(s.layout.locate(x, y), Some(unit));
            let expected = Colormap::Viridis.lut().map(&s.scale, value);
            assert_eq!(s.image.pixel(x, y), Some(expected));
        }
        assert_eq!(s.image.pixel(2, 2), Some(BACKGROUND));
        assert_eq!(s.layout.locate(2, 2), None);
        assert_eq!(s.layout.locate(4, 0), None);
        assert_eq!(s.layout.position(10), None);
        let short = strip(&[1.0, 2.0], 64, Colormap::Viridis, None).unwrap();
        assert_eq!((short.image.width, short.image.height), (2, 1));
        assert!(strip(&[], 4, Colormap::Viridis, None).is_err());
        assert!(strip(&[1.0], 0, Colormap::Viridis, None).is_err());
    }

    #[test]
    fn colorbar_runs_low_to_high() {
        let h = colorbar(Colormap::Viridis, 10, 3, Orientation::Horizontal).unwrap();
        assert_eq!((h.width, h.height), (10, 3));
        let lut = Colormap::Viridis.lut();
        assert_eq!(h.pixel(0, 2), Some(lut.at(0.05)));
        assert_eq!(h.pixel(9, 0), Some(lut.at(0.95)));
        let v = colorbar(Colormap::Viridis, 10, 3, Orientation::Vertical).unwrap();
        assert_eq!((v.width, v.height), (3, 10));
        assert_eq!(v.pixel(1, 0), Some(lut.at(0.95))); // high end on top
        assert_eq!(v.pixel(1, 9), Some(lut.at(0.05)));
        assert!(colorbar(Colormap::Viridis, 0, 3, Orientation::Vertical).is_err());
    }

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn ticks_use_nice_steps() {
        let t = ticks(&Scale::new(0.0, 1.0).unwrap(), 5).unwrap();
        assert_eq!(labels(&t), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(t[0].fraction, 0.0);
        assert_eq!(t[5].fraction, 1.0);
        assert!((t[2].fraction - 0.4).abs() < 1e-6);

        let t = ticks(&Scale::symmetric(3.7).unwrap(), 4).unwrap();
        assert_eq!(labels(&t), ["-2", "0", "2"]);
        let zero = t.iter().find(|t| t.value == 0.0).unwrap();
        assert!((zero.fraction - 0.5).abs() < 1e-6);

        let t = ticks(&Scale::new(0.0, 1000.0).unwrap(), 3).unwrap();
        assert_eq!(labels(&t), ["0", "500", "1000"]);

        let t = ticks(&Scale::new(1.2e-5, 5.1e-5).unwrap(), 4).unwrap();
        assert_eq!(labels(&t), ["2e-5", "3e-5", "4e-5", "5e-5"]);

        let t = ticks(&Scale::new(0.0, 3.0e7).unwrap(), 3).unwrap();
        assert_eq!(labels(&t), ["0", "1e7", "2e7", "3e7"]);

        let t = ticks(&Scale::new(0.0, 2.0e6).unwrap(), 4).unwrap();
        assert_eq!(labels(&t), ["0", "5.0e5", "1.0e6", "1.5e6", "2.0e6"]);

        // The nice step 2 would miss (0.2, 1.8) altogether; the next smaller one is used.
        let t = ticks(&Scale::new(0.2, 1.8).unwrap(), 1).unwrap();
        assert_eq!(labels(&t), ["1"]);
        assert!((t[0].fraction - 0.5).abs() < 1e-6);
    }

    #[test]
    fn ticks_fractions_are_ordered_and_in_range() {
        let ranges = [
            (-1e-3, 7.0),
            (f32::MIN, f32::MAX),
            (1e7, 1e7 + 1.0),
            (-2.5, -2.4),
            (0.2, 1.8),
            (1e-30, 1.5e-30),
        ];
        for (lo, hi) in ranges {
            for count in [1, 2, 7, 30] {
                let t = ticks(&Scale::new(lo, hi).unwrap(), count).unwrap();
                assert!(!t.is_empty(), "({lo}, {hi}) x {count}");
                assert!(t.len() <= 2 * count + 1);
                assert!(t.windows(2).all(|w| w[0].fraction < w[1].fraction));
                assert!(t.iter().all(|t| (0.0..=1.0).contains(&t.fraction)));
            }
        }
    }

    #[test]
    fn ticks_degenerate_and_invalid() {
        let t = ticks(&Scale::new(2.5, 2.5).unwrap(), 5).unwrap();
        assert_eq!(
            t,
            [Tick {
                value: 2.5,
                fraction: 0.0,
                label: "2.5".into()
            }]
        );
        let t = ticks(&Scale::symmetric(0.0).unwrap(), 5).unwrap();
        assert_eq!(
            t,
            [Tick {
                value: 0.0,
                fraction: 0.5,
                label: "0".into()
            }]
        );
        assert!(ticks(&Scale::new(0.0, 1.0).unwrap(), 0).is_err());
        assert!(ticks(&Scale::new(0.0, 1.0).unwrap(), MAX_TICKS + 1).is_err());
    }

    #[test]
    fn overlay_blends_and_checks() {
        let base = Image::filled(2, 1, [200, 0, 0, 255]).unwrap();
        let mut top = Image::filled(2, 1, [0, 0, 200, 255]).unwrap();
        top.rgba[7] = 0; // second pixel of top fully transparent
        let out = overlay(&base, &top, 0.25).unwrap();
        assert_eq!(out.pixel(0, 0), Some([150, 0, 50, 255]));
        assert_eq!(out.pixel(1, 0), Some([200, 0, 0, 255]));
        assert_eq!(overlay(&base, &top, 0.0).unwrap(), base);
        assert_eq!(
            overlay(&base, &top, 1.0).unwrap().pixel(0, 0),
            Some([0, 0, 200, 255])
        );

        let clear = Image::filled(1, 1, [0, 0, 0, 0]).unwrap();
        assert_eq!(
            overlay(&clear, &clear, 1.0).unwrap().pixel(0, 0),
            Some([0, 0, 0, 0])
        );
        let half = Image::filled(1, 1, [255, 255, 255, 128]).unwrap();
        assert_eq!(
            overlay(&clear, &half, 1.0).unwrap().pixel(0, 0),
            Some([255, 255, 255, 128])
        );

        let small = Image::filled(1, 1, [0; 4]).unwrap();
        assert!(overlay(&base, &small, 0.5).is_err());
        assert!(overlay(&base, &top, 1.5).is_err());
        assert!(overlay(&base, &top, f32::NAN).is_err());
    }
}
